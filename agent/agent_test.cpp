#include "agent/agent.h"

#include <doctest/doctest.h>

namespace windlass::agent {

using std::chrono::milliseconds;

TEST_CASE("the error code alone decides when a failed sync is tried again") {
  milliseconds interval(60000);
  // A bad commit or a Degraded roll-out: stalled until the revision changes.
  CHECK_FALSE(retryDelay(Code::kInvalidArgument, 1, interval).has_value());
  CHECK_FALSE(retryDelay(Code::kFailedPrecondition, 4, interval).has_value());
  // A conflict: soon.
  CHECK(retryDelay(Code::kConflict, 1, interval) == milliseconds(1000));
  CHECK(retryDelay(Code::kAborted, 9, interval) == milliseconds(1000));
  // A branch not pushed yet: at the interval.
  CHECK(retryDelay(Code::kNotFound, 3, interval) == interval);
  // The server gone, a timeout, throttling: exponential from 2 s, capped at 5 min.
  CHECK(retryDelay(Code::kUnavailable, 1, interval) == milliseconds(2000));
  CHECK(retryDelay(Code::kUnavailable, 2, interval) == milliseconds(4000));
  CHECK(retryDelay(Code::kDeadlineExceeded, 5, interval) == milliseconds(32000));
  CHECK(retryDelay(Code::kResourceExhausted, 30, interval) == milliseconds(300000));
}

}  // namespace windlass::agent
