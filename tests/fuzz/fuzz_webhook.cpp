// libFuzzer target for webhooks: the input is a request body, fed to the push
// payload parser and to the signature check of every provider (with its first
// 64 bytes, when there are that many, also offered as the signature header).
// Both must end in a value or a Status, never a crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "agent/webhook.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  auto event = windlass::agent::parsePushPayload(body);
  if (event) (void)windlass::agent::pushNamesRepository(*event, "https://example.com/a/b.git");
  std::string header = body.substr(0, 71);
  std::map<std::string, std::string> headers = {{"x-hub-signature-256", header},
                                                {"x-gitlab-token", header},
                                                {"x-gitea-signature", header.substr(0, 64)},
                                                {"x-windlass-signature", header}};
  for (auto provider :
       {windlass::agent::WebhookProvider::kGithub, windlass::agent::WebhookProvider::kGitlab,
        windlass::agent::WebhookProvider::kGitea, windlass::agent::WebhookProvider::kGeneric}) {
    (void)windlass::agent::verifyWebhook(provider, headers, body, "secret");
  }
  (void)windlass::agent::normalizeRepositoryUrl(body);
  return 0;
}
