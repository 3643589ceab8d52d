// libFuzzer target for the YAML edge and kustomization loading: the input is a
// kustomization.yaml and a resource file, separated by the first NUL byte (no
// NUL: the input is the resource file of a fixed kustomization). Rendering must
// end in a value or a Status, never a crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/file_source.h"
#include "core/json.h"
#include "overlays/render.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  std::string kustomization = "resources: [r.yaml]\npatches:\n- path: p.yaml\n";
  std::string resource = input;
  size_t nul = input.find('\0');
  if (nul != std::string::npos) {
    kustomization = input.substr(0, nul);
    resource = input.substr(nul + 1);
  }
  auto fs = windlass::makeMemorySource({{"app/kustomization.yaml", kustomization},
                                        {"app/r.yaml", resource},
                                        {"app/p.yaml", resource}});
  windlass::JsonAllocator alloc;
  auto set = windlass::overlays::render(*fs, "app", alloc);
  if (set) (void)windlass::overlays::toYaml(*set);
  return 0;
}
