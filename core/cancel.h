// Cancellation: a token that blocking waits check, and that a signal handler or
// another thread can trip. Cheap to check (one atomic load).
//
// Thread safety: every member is thread-safe; cancel() is async-signal-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace windlass {

class CancelToken {
 public:
  // Trips the token. Idempotent. Async-signal-safe (a lock-free store); waiters
  // in waitFor() notice it within their poll slice (at most 50 ms).
  void cancel() { cancelled_.store(true, std::memory_order_release); }

  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  // Untrips the token (for one that is reused, such as a reload request).
  void reset() { cancelled_.store(false, std::memory_order_release); }

  // Sleeps for `d`, or less when the token is cancelled meanwhile. Returns
  // true when the full time passed, false when cancelled.
  bool waitFor(std::chrono::milliseconds d) const;

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace windlass
