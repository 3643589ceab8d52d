// A clock for unit tests: time stands still until a test advances it, and sleep()
// advances it by the requested amount at once (unless the token is tripped), so a
// five-minute timeout runs in microseconds and always ends after the same number of
// polls.
//
// Thread safety: every member function is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/clock.h"

namespace windlass {

class FakeClock final : public Clock {
 public:
  // Starts at `start` (wall time); monotonic time starts at an arbitrary epoch.
  explicit FakeClock(WallTime start = WallTime(std::chrono::seconds(1700000000)))
      : offset_(start.time_since_epoch()) {}

  WallTime now() const override { return WallTime(offset_ + elapsed()); }
  Monotonic monotonic() const override { return Monotonic(elapsed()); }
  bool sleep(std::chrono::milliseconds d, const CancelToken* cancel) const override {
    if (cancel != nullptr && cancel->cancelled()) return false;
    sleeps_.fetch_add(1);
    elapsedNs_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
    return true;
  }

  void advance(std::chrono::nanoseconds d) { elapsedNs_.fetch_add(d.count()); }
  int64_t sleeps() const { return sleeps_.load(); }

 private:
  std::chrono::nanoseconds elapsed() const { return std::chrono::nanoseconds(elapsedNs_.load()); }

  const std::chrono::system_clock::duration offset_;
  mutable std::atomic<int64_t> elapsedNs_{0};
  mutable std::atomic<int64_t> sleeps_{0};
};

}  // namespace windlass
