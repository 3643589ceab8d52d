#include "core/cancel.h"

#include <algorithm>
#include <thread>

namespace windlass {

bool CancelToken::waitFor(std::chrono::milliseconds d) const {
  // A signal handler cannot notify a condition variable, so wait in short slices.
  constexpr std::chrono::milliseconds kSlice{50};
  auto deadline = std::chrono::steady_clock::now() + d;
  while (!cancelled()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return true;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(kSlice, deadline - now));
  }
  return false;
}

}  // namespace windlass
