#include "agent/webhook.h"

#include <doctest/doctest.h>

#include <map>
#include <string>

namespace windlass::agent {
namespace {

// Vectors from `printf '%s' BODY | openssl dgst -sha256 -hmac KEY`.
const char* kBody = R"({"ref":"refs/heads/main"})";
const char* kSecret = "s3cret";
const char* kBodyMac = "232a5e067b6a5aa567ed5a1d21a0dffaf6ef0eeecb6bd9bcf43b3d5ef3fc4f43";

using Headers = std::map<std::string, std::string>;

std::string verifyMessage(WebhookProvider p, const Headers& h, std::string_view body = kBody) {
  Status s = verifyWebhook(p, h, body, kSecret);
  return s.ok() ? "ok" : std::string(codeName(s.code())) + ": " + s.message();
}

TEST_CASE("HMAC-SHA256 matches openssl") {
  CHECK(hmacSha256Hex(kSecret, kBody) == kBodyMac);
  // GitHub's documented example.
  CHECK(hmacSha256Hex("It's a Secret to Everybody", "Hello, World!") ==
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  CHECK(hmacSha256Hex("key", "") ==
        "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0");
}

TEST_CASE("constant-time equality") {
  CHECK(constantTimeEquals("abc", "abc"));
  CHECK(!constantTimeEquals("abc", "abd"));
  CHECK(!constantTimeEquals("abc", "abcd"));
  CHECK(constantTimeEquals("", ""));
}

TEST_CASE("github, gitea and generic signatures") {
  std::string sig = std::string("sha256=") + kBodyMac;
  CHECK(verifyMessage(WebhookProvider::kGithub, {{"x-hub-signature-256", sig}}) == "ok");
  CHECK(verifyMessage(WebhookProvider::kGeneric, {{"x-windlass-signature", sig}}) == "ok");
  CHECK(verifyMessage(WebhookProvider::kGitea, {{"x-gitea-signature", kBodyMac}}) == "ok");
  // Upper-case hex is the same digest.
  std::string upper = kBodyMac;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(verifyMessage(WebhookProvider::kGitea, {{"x-gitea-signature", upper}}) == "ok");

  CHECK(verifyMessage(WebhookProvider::kGithub, {}) ==
        "Unauthenticated: missing header X-Hub-Signature-256");
  CHECK(verifyMessage(WebhookProvider::kGithub, {{"x-hub-signature-256", kBodyMac}}) ==
        "Unauthenticated: header X-Hub-Signature-256 is not of the form sha256=<hex>");
  CHECK(verifyMessage(WebhookProvider::kGithub, {{"x-hub-signature-256", "sha256=abc"}}) ==
        "Unauthenticated: header X-Hub-Signature-256 is not of the form sha256=<hex>");
  CHECK(verifyMessage(WebhookProvider::kGithub, {{"x-hub-signature-256", sig}}, "{}") ==
        "Unauthenticated: header X-Hub-Signature-256 does not match the body");
  CHECK(verifyMessage(WebhookProvider::kGitea, {{"x-gitea-signature", sig}}) ==
        "Unauthenticated: header X-Gitea-Signature is not of the form <hex>");
  CHECK(verifyMessage(WebhookProvider::kGeneric, {{"x-hub-signature-256", sig}}) ==
        "Unauthenticated: missing header X-Windlass-Signature");
}

TEST_CASE("gitlab tokens") {
  CHECK(verifyMessage(WebhookProvider::kGitlab, {{"x-gitlab-token", kSecret}}) == "ok");
  CHECK(verifyMessage(WebhookProvider::kGitlab, {{"x-gitlab-token", "s3cre"}}) ==
        "Unauthenticated: header X-Gitlab-Token does not match the secret");
  CHECK(verifyMessage(WebhookProvider::kGitlab, {}) ==
        "Unauthenticated: missing header X-Gitlab-Token");
}

TEST_CASE("no secret: nothing verifies") {
  Status s = verifyWebhook(WebhookProvider::kGitlab, {{"x-gitlab-token", ""}}, kBody, "");
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK(s.message() == "no webhook secret is configured");
}

TEST_CASE("providers by name") {
  CHECK(parseProvider("github") == WebhookProvider::kGithub);
  CHECK(parseProvider("gitea") == WebhookProvider::kGitea);
  CHECK(!parseProvider("GitHub"));
  CHECK(std::string(providerName(WebhookProvider::kGitlab)) == "gitlab");
}

TEST_CASE("push payloads of each provider") {
  auto github = parsePushPayload(R"({"ref":"refs/heads/main","repository":{
      "html_url":"https://github.com/org/app","clone_url":"https://github.com/org/app.git",
      "ssh_url":"git@github.com:org/app.git","git_url":"git://github.com/org/app.git",
      "url":"https://github.com/org/app"}})");
  REQUIRE(github);
  CHECK(github->repositoryUrls ==
        std::vector<std::string>{"https://github.com/org/app.git", "git@github.com:org/app.git",
                                 "https://github.com/org/app", "git://github.com/org/app.git"});
  CHECK(github->branch == "main");
  CHECK(github->tag == "");

  auto gitlab = parsePushPayload(R"({"object_kind":"push","ref":"refs/tags/v1.2",
      "project":{"git_http_url":"https://gitlab.com/g/app.git","git_ssh_url":"git@gitlab.com:g/app.git",
      "web_url":"https://gitlab.com/g/app"},
      "repository":{"url":"git@gitlab.com:g/app.git","homepage":"https://gitlab.com/g/app"}})");
  REQUIRE(gitlab);
  CHECK(gitlab->repositoryUrls == std::vector<std::string>{"git@gitlab.com:g/app.git",
                                                           "https://gitlab.com/g/app",
                                                           "https://gitlab.com/g/app.git"});
  CHECK(gitlab->tag == "v1.2");
  CHECK(gitlab->branch == "");

  auto generic =
      parsePushPayload(R"({"repository":{"url":"https://git.example.com/x"},"ref":"env/prod"})");
  REQUIRE(generic);
  CHECK(generic->repositoryUrls == std::vector<std::string>{"https://git.example.com/x"});
  CHECK(generic->branch == "env/prod");
}

TEST_CASE("hostile or odd payloads never crash") {
  auto ping = parsePushPayload(R"({"zen":"hi","hook_id":1})");
  REQUIRE(ping);
  CHECK(ping->repositoryUrls.empty());
  auto mistyped =
      parsePushPayload(R"({"ref":7,"repository":[1,2],"project":{"web_url":{"a":1},"url":"u"}})");
  REQUIRE(mistyped);
  CHECK(mistyped->repositoryUrls == std::vector<std::string>{"u"});
  CHECK(mistyped->ref == "");
  CHECK(parsePushPayload("[1]").error().message() == "payload is not a JSON object");
  CHECK(parsePushPayload("").error().message() ==
        "payload is not JSON: The document is empty. at offset 0");
  CHECK(parsePushPayload("{} x").error().message() ==
        "payload is not JSON: The document root must not be followed by other values. at offset 3");
  std::string deep(200000, '[');
  CHECK(!parsePushPayload(deep));
  auto nul = parsePushPayload(R"({"ref":"a\u0000b"})");
  REQUIRE(nul);
  CHECK(nul->ref == std::string("a\0b", 3));
}

TEST_CASE("repository URLs compare by host and path") {
  CHECK(normalizeRepositoryUrl("https://GitHub.com/org/repo.git") == "github.com/org/repo");
  CHECK(normalizeRepositoryUrl("git@github.com:org/repo") == "github.com/org/repo");
  CHECK(normalizeRepositoryUrl("ssh://git@github.com:22/org/repo.git/") == "github.com/org/repo");
  CHECK(normalizeRepositoryUrl("https://user:pw@git.example.com:8443/a/b/") ==
        "git.example.com/a/b");
  CHECK(normalizeRepositoryUrl("/srv/git/repo") == "/srv/git/repo");
  PushEvent e;
  e.repositoryUrls = {"git@github.com:org/repo.git"};
  CHECK(pushNamesRepository(e, "https://github.com/org/repo"));
  CHECK(!pushNamesRepository(e, "https://github.com/org/repo2"));
}

}  // namespace
}  // namespace windlass::agent
