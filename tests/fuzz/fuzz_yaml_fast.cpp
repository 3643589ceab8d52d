// Differential libFuzzer target for the fast YAML path (overlays/yaml_fast.h):
// the input is a YAML text, read in both dialects by parseYaml as it runs
// (fast path, else yaml-cpp) and by yaml-cpp alone. Both must give the same
// documents, empty nulls and errors, word for word; and whenever the fast path
// alone accepts the text, yaml-cpp must accept it with the same result. A
// difference aborts with both outcomes printed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "tests/support/yaml_paths.h"

namespace {

void mustEqual(const char* what, const windlass::testing::ParseOutcome& got,
               const windlass::testing::ParseOutcome& want) {
  if (got.ok == want.ok && got.text == want.text) return;
  std::fprintf(stderr, "%s differs from yaml-cpp\n--- got (%s):\n%s\n--- yaml-cpp (%s):\n%s\n",
               what, got.ok ? "ok" : "error", got.text.c_str(), want.ok ? "ok" : "error",
               want.text.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using windlass::overlays::YamlDialect;
  using windlass::overlays::YamlPath;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (YamlDialect dialect : {YamlDialect::kResource, YamlDialect::kKustomization}) {
    auto slow = windlass::testing::parseBy(YamlPath::kYamlCppOnly, text, dialect);
    auto fast = windlass::testing::parseBy(YamlPath::kFastOnly, text, dialect);
    if (fast.ok) mustEqual("the fast path", fast, slow);
    mustEqual("parseYaml", windlass::testing::parseBy(YamlPath::kAuto, text, dialect), slow);
  }
  return 0;
}
