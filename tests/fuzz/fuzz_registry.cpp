// libFuzzer target for what a registry sends back: the input is fed as a tag list page, a
// Link header, a WWW-Authenticate header, a token answer, a Retry-After value and a Docker
// config.json (for two hosts). Each must end in a value or a Status, never a crash, hang
// or leak.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "sources/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  namespace s = windlass::sources;
  (void)s::parseTagList(in);
  (void)s::nextLinkFromHeader(in);
  auto c = s::parseChallenge(in);
  if (c) (void)c->params.size();
  (void)s::parseTokenResponse(in);
  (void)s::parseRetryAfter(in, std::chrono::seconds(1'700'000'000));
  (void)s::parseDockerConfig(in, "ghcr.io");
  (void)s::parseDockerConfig(in, "registry-1.docker.io");
  (void)s::parseImageRepository(in);
  return 0;
}
