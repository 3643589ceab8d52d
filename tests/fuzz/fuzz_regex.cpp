// libFuzzer target for core/regex: patterns come from kustomizations (patch
// targets) and image policies. The input is a pattern, a subject and an expand
// template, separated by NUL bytes (missing parts are empty). Compiling,
// matching and expanding must end in a value or a Status, never a crash or hang.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/regex.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view parts[3];
  for (std::string_view& p : parts) {
    size_t nul = input.find('\0');
    p = input.substr(0, nul);
    input = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  }
  auto re = windlass::Regex::compile(parts[0]);
  if (!re) return 0;
  (void)re->fullMatch(parts[1]);
  (void)re->partialMatch(parts[1]);
  if (auto m = re->find(parts[1])) {
    (void)re->expand(parts[2], *m);
    (void)re->group(*m, parts[2]);
  }
  return 0;
}
