// An OCI distribution API client (libcurl): the tags of a repository and the digest of
// a tag, for image policies. Nothing else: no manifest or blob pulls.
//
//   GET  /v2/<name>/tags/list?n=N      following the Link header (rel="next") page by page
//   HEAD /v2/<name>/manifests/<tag>    with OCI index, OCI manifest and Docker manifest-list
//                                      Accept headers; the digest from Docker-Content-Digest
//
// Authentication: anonymous first; on a 401 the WWW-Authenticate challenge decides: Basic
// sends the credentials, Bearer runs the token flow (GET realm?service=…&scope=… with the
// credentials as basic auth when there are some, as Docker Hub, GHCR, ACR, Harbor and Quay
// expect) and retries with the token. Tokens are cached per realm, service and scope until
// they expire. A 429 waits for Retry-After (capped) and tries again.
//
// Errors name the registry and the repository and say what went wrong; passwords, tokens
// and Authorization headers never appear in a message.
//
// The parsers of registry answers (parseTagList, nextLinkFromHeader, parseChallenge,
// parseTokenResponse, parseDockerConfig) are exposed for tests and the fuzz target.
//
// Thread safety: the free functions are reentrant. A RegistryClient is used by one thread
// at a time (it owns one curl handle, reused for keep-alive, and a token cache).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"

namespace windlass::sources {

// An image repository without tag or digest, split into the registry host and the
// repository name. "harbor.example.com/shop/web" → {"harbor.example.com", "shop/web"};
// "127.0.0.1:5000/web" → {"127.0.0.1:5000", "web"}; Docker Hub names follow Docker's rules:
// "nginx" → {"registry-1.docker.io", "library/nginx"}, "bitnami/redis" →
// {"registry-1.docker.io", "bitnami/redis"}, "docker.io/x/y" → {"registry-1.docker.io", "x/y"}.
struct ImageRepository {
  std::string host;        // host[:port] to connect to
  std::string repository;  // path components, e.g. "shop/web"

  std::string display() const { return host + "/" + repository; }
  bool operator==(const ImageRepository&) const = default;
};

// Parses an image repository as above. A tag (":1.0") or digest ("@sha256:…") is an error:
// InvalidArgument `image "TEXT": WHY`, as are empty path components and upper-case letters.
[[nodiscard]] Result<ImageRepository> parseImageRepository(std::string_view text);

// Credentials for one registry. Empty username and password: anonymous. identityToken
// (from a Docker config's "identitytoken") is sent as an OAuth2 refresh token to the token
// server when set; Harbor and ACR robot accounts use plain username/password.
struct RegistryCredentials {
  std::string username;
  std::string password;
  std::string identityToken;

  bool anonymous() const { return username.empty() && password.empty() && identityToken.empty(); }
};

// The credentials for `host` in a Docker config.json (`{"auths": {"HOST": {"auth":
// base64(user:pass)} | {"username", "password"} | {"identitytoken"}}}`). Keys are matched
// as Docker does: "HOST", "https://HOST", "http://HOST", with or without a "/v1/" or "/v2/"
// path; for Docker Hub also "https://index.docker.io/v1/". nullopt when the file has no
// entry for the host. InvalidArgument `docker config: WHY` when the text is not such a
// document (the message never quotes a credential).
[[nodiscard]] Result<std::optional<RegistryCredentials>> parseDockerConfig(std::string_view json,
                                                                           std::string_view host);

// One page of a tag list: {"name": "...", "tags": ["...", ...]}. "tags": null counts as
// empty (distribution answers so for a repository without tags). InvalidArgument `tag
// list: WHY` otherwise.
[[nodiscard]] Result<std::vector<std::string>> parseTagList(std::string_view json);

// The target of the rel="next" link in an RFC 8288 Link header value
// (`</v2/web/tags/list?last=x&n=100>; rel="next"`), as written (maybe relative); nullopt
// when there is none or the value does not parse.
std::optional<std::string> nextLinkFromHeader(std::string_view value);

// A WWW-Authenticate challenge: scheme ("Basic", "Bearer"; compared case-insensitively by
// callers) and its auth-params with lower-case names (realm, service, scope, error).
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};

// Parses the first challenge of a WWW-Authenticate header value (RFC 7235: a scheme, then
// comma-separated name=value or name="quoted value" params). InvalidArgument `challenge:
// WHY` when it does not parse.
[[nodiscard]] Result<Challenge> parseChallenge(std::string_view value);

// A token server's answer: {"token": …} or {"access_token": …}, optional "expires_in"
// (seconds; 60 when absent, as the Docker token spec says).
struct BearerToken {
  std::string token;
  int64_t expiresInSeconds = 60;
};
[[nodiscard]] Result<BearerToken> parseTokenResponse(std::string_view json);

// Seconds to wait from a Retry-After value: delta-seconds, or an HTTP-date relative to
// `now` (time since the epoch). nullopt when it parses as neither.
std::optional<int64_t> parseRetryAfter(std::string_view value, std::chrono::seconds now);

struct RegistryOptions {
  // PEM bundle to verify the registry's (and the token server's) TLS certificate with;
  // empty: the system's CAs.
  std::string caFile;
  // true: plain HTTP (local registries). TLS is never unverified.
  bool insecure = false;
  // Per request: connecting, and the whole request.
  std::chrono::milliseconds connectTimeout{10'000};
  std::chrono::milliseconds requestTimeout{60'000};
  // Tags per page asked for with ?n= (the registry may send fewer).
  int pageSize = 1000;
  // A safety stop against a registry that links pages in a loop.
  int maxPages = 10'000;
  // 429 answers tried again (waiting for Retry-After, at most maxRetryAfter each).
  int maxRetries = 3;
  std::chrono::seconds maxRetryAfter{60};
  // Tripped: waits end and the call returns Aborted. Borrowed; may be null.
  const CancelToken* cancel = nullptr;
};

// Counters of what a client did, for metrics and benchmarks.
struct RegistryStats {
  int64_t requests = 0;       // HTTP requests sent, token requests included
  int64_t tokenRequests = 0;  // of those, to token servers
  int64_t throttled = 0;      // 429 answers
};

class RegistryClient {
 public:
  explicit RegistryClient(RegistryOptions options = {});
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  // Every tag of `repo`, in the order the registry listed them, all pages followed.
  // Errors (each naming `host/repository`): Unauthenticated when the credentials are
  // refused or missing ("registry HOST: credentials for user "U" refused"),
  // PermissionDenied on 403, NotFound when the repository does not exist, Unavailable on
  // network errors, 5xx and timeouts, ResourceExhausted after maxRetries 429s,
  // InvalidArgument when an answer does not parse.
  [[nodiscard]] Result<std::vector<std::string>> listTags(const ImageRepository& repo,
                                                          const RegistryCredentials& credentials);

  // The manifest digest ("sha256:…") of `tag`, by HEAD (GET when the registry sends no
  // Docker-Content-Digest header, hashing the body). Errors as listTags; NotFound when the
  // tag does not exist.
  [[nodiscard]] Result<std::string> digest(const ImageRepository& repo, const std::string& tag,
                                           const RegistryCredentials& credentials);

  const RegistryStats& stats() const { return stats_; }

  struct Impl;  // the curl handle and the caches; internal to registry.cpp

 private:
  std::unique_ptr<Impl> impl_;
  RegistryStats stats_;
};

}  // namespace windlass::sources
