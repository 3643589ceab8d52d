// The clock seam: wall time (records, sync windows, leases), monotonic time
// (deadlines) and cancellable sleeps come from a Clock, so that unit tests can
// run a five-minute health timeout or a week of sync windows in no real time.
//
// Thread safety: Clock::system() is thread-safe; a test clock says its own.
#pragma once

#include <chrono>

#include "core/cancel.h"

namespace windlass {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using Monotonic = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;

  virtual WallTime now() const = 0;
  virtual Monotonic monotonic() const = 0;

  // Sleeps for `d`, or less when `cancel` (may be null) is tripped meanwhile.
  // Returns true when the full time passed, false when cancelled.
  virtual bool sleep(std::chrono::milliseconds d, const CancelToken* cancel) const = 0;

  // The process's real clocks (std::chrono::system_clock and steady_clock).
  static const Clock& system();
};

}  // namespace windlass
