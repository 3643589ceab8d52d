// libFuzzer target for overlays/remote_ref: remote references come from
// kustomizations in the repositories the agent deploys. Parsing must end in a
// value or a Status, never a crash or hang, and a parsed reference must keep
// its folder inside the repository.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "overlays/remote_ref.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)windlass::overlays::looksRemote(input);
  auto ref = windlass::overlays::parseRemoteRef(input);
  if (!ref) return 0;
  if (ref->url.empty() || ref->timeoutSeconds <= 0) std::abort();
  if (ref->kind == windlass::overlays::RemoteRef::Kind::kGit) {
    std::string_view p = ref->path;
    if (p == ".." || p.substr(0, 3) == "../" || p.substr(0, 1) == "/") std::abort();
  }
  return 0;
}
