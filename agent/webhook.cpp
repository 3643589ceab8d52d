#include "agent/webhook.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>

#include "core/json.h"
#include "core/sha256.h"
// After core/json.h, so RapidJSON keeps windlass's configuration.
#include <rapidjson/error/en.h>

namespace windlass::agent {

const char* providerName(WebhookProvider provider) {
  switch (provider) {
    case WebhookProvider::kGithub:
      return "github";
    case WebhookProvider::kGitlab:
      return "gitlab";
    case WebhookProvider::kGitea:
      return "gitea";
    case WebhookProvider::kGeneric:
      return "generic";
  }
  return "generic";
}

std::optional<WebhookProvider> parseProvider(std::string_view name) {
  for (WebhookProvider p : {WebhookProvider::kGithub, WebhookProvider::kGitlab,
                            WebhookProvider::kGitea, WebhookProvider::kGeneric}) {
    if (name == providerName(p)) return p;
  }
  return std::nullopt;
}

std::string hmacSha256Hex(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // An empty key is passed as a valid pointer: HMAC() treats a null key as "reuse the last one".
  static const unsigned char kEmpty = 0;
  const void* keyData = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  if (HMAC(EVP_sha256(), keyData, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &len) == nullptr) {
    return "";
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  Sha256Digest da = sha256(a);
  Sha256Digest db = sha256(b);
  return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

namespace {

struct Scheme {
  const char* header;  // as shown in messages
  const char* key;     // lowercase, as in the headers map
  const char* prefix;  // before the hex digest; nullptr for a token
};

Scheme schemeOf(WebhookProvider provider) {
  switch (provider) {
    case WebhookProvider::kGithub:
      return {"X-Hub-Signature-256", "x-hub-signature-256", "sha256="};
    case WebhookProvider::kGitlab:
      return {"X-Gitlab-Token", "x-gitlab-token", nullptr};
    case WebhookProvider::kGitea:
      return {"X-Gitea-Signature", "x-gitea-signature", ""};
    case WebhookProvider::kGeneric:
      return {"X-Windlass-Signature", "x-windlass-signature", "sha256="};
  }
  return {"X-Windlass-Signature", "x-windlass-signature", "sha256="};
}

bool isHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

Status verifyWebhook(WebhookProvider provider, const std::map<std::string, std::string>& headers,
                     std::string_view body, std::string_view secret) {
  if (secret.empty()) return Status::failedPrecondition("no webhook secret is configured");
  Scheme scheme = schemeOf(provider);
  auto it = headers.find(scheme.key);
  if (it == headers.end()) {
    return Status::unauthenticated(std::string("missing header ") + scheme.header);
  }
  std::string_view value = it->second;
  if (scheme.prefix == nullptr) {
    if (!constantTimeEquals(value, secret)) {
      return Status::unauthenticated(std::string("header ") + scheme.header +
                                     " does not match the secret");
    }
    return {};
  }
  std::string_view prefix = scheme.prefix;
  if (!value.starts_with(prefix) || !isHex64(value.substr(prefix.size()))) {
    return Status::unauthenticated(std::string("header ") + scheme.header + " is not of the form " +
                                   std::string(prefix) + "<hex>");
  }
  std::string given(value.substr(prefix.size()));
  for (char& c : given) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string expected = hmacSha256Hex(secret, body);
  if (expected.size() != given.size() ||
      CRYPTO_memcmp(expected.data(), given.data(), given.size()) != 0) {
    return Status::unauthenticated(std::string("header ") + scheme.header +
                                   " does not match the body");
  }
  return {};
}

namespace {

// The string member `name` of object `v`, or "" when absent or not a string.
std::string_view stringMember(const JsonValue& v, const char* name) {
  if (!v.IsObject()) return {};
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

const JsonValue* objectMember(const JsonValue& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsObject()) return nullptr;
  return &it->value;
}

void addUrl(std::vector<std::string>& urls, std::string_view url) {
  if (url.empty()) return;
  for (const std::string& u : urls) {
    if (u == url) return;
  }
  urls.emplace_back(url);
}

}  // namespace

Result<PushEvent> parsePushPayload(std::string_view body) {
  JsonDocument doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError()) {
    return Status::invalidArgument(
        "payload is not JSON: " + std::string(rapidjson::GetParseError_En(doc.GetParseError())) +
        " at offset " + std::to_string(doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) return Status::invalidArgument("payload is not a JSON object");
  PushEvent event;
  try {
    if (const JsonValue* repo = objectMember(doc, "repository")) {
      for (const char* key : {"clone_url", "ssh_url", "html_url", "git_url", "url", "git_http_url",
                              "git_ssh_url", "homepage"}) {
        addUrl(event.repositoryUrls, stringMember(*repo, key));
      }
    }
    if (const JsonValue* project = objectMember(doc, "project")) {
      for (const char* key :
           {"git_http_url", "git_ssh_url", "http_url", "ssh_url", "web_url", "url"}) {
        addUrl(event.repositoryUrls, stringMember(*project, key));
      }
    }
    event.ref = std::string(stringMember(doc, "ref"));
  } catch (const JsonAssertion& e) {
    return Status::internal(std::string("payload: ") + e.what());
  }
  std::string_view ref = event.ref;
  if (ref.starts_with("refs/heads/")) {
    event.branch = std::string(ref.substr(11));
  } else if (ref.starts_with("refs/tags/")) {
    event.tag = std::string(ref.substr(10));
  } else if (!ref.starts_with("refs/")) {
    event.branch = event.ref;
  }
  return event;
}

std::string normalizeRepositoryUrl(std::string_view url) {
  std::string_view rest = url;
  size_t scheme = rest.find("://");
  bool scpLike = false;
  if (scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);
  } else {
    // scp-like user@host:path (a colon before any slash); anything else is a local path.
    size_t colon = rest.find(':');
    size_t slash = rest.find('/');
    if (colon == std::string_view::npos || (slash != std::string_view::npos && slash < colon)) {
      return std::string(url);
    }
    scpLike = true;
  }
  size_t hostEnd = rest.find(scpLike ? ':' : '/');
  std::string_view authority = rest.substr(0, hostEnd);
  std::string_view path = hostEnd == std::string_view::npos ? "" : rest.substr(hostEnd + 1);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (!scpLike && !authority.starts_with("[")) {
    size_t port = authority.find(':');
    if (port != std::string_view::npos) authority = authority.substr(0, port);
  }
  while (path.starts_with("/")) path.remove_prefix(1);
  while (path.ends_with("/")) path.remove_suffix(1);
  if (path.ends_with(".git")) path.remove_suffix(4);
  while (path.ends_with("/")) path.remove_suffix(1);
  std::string host(authority);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host + "/" + std::string(path);
}

bool pushNamesRepository(const PushEvent& event, std::string_view url) {
  std::string want = normalizeRepositoryUrl(url);
  for (const std::string& u : event.repositoryUrls) {
    if (normalizeRepositoryUrl(u) == want) return true;
  }
  return false;
}

}  // namespace windlass::agent
