#include "core/clock.h"

#include <thread>

namespace windlass {
namespace {

class SystemClock final : public Clock {
 public:
  WallTime now() const override { return std::chrono::system_clock::now(); }
  Monotonic monotonic() const override { return std::chrono::steady_clock::now(); }
  bool sleep(std::chrono::milliseconds d, const CancelToken* cancel) const override {
    if (cancel != nullptr) return cancel->waitFor(d);
    std::this_thread::sleep_for(d);
    return true;
  }
};

}  // namespace

const Clock& Clock::system() {
  static const SystemClock clock;
  return clock;
}

}  // namespace windlass
