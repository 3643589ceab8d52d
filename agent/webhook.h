// Webhooks: checking that a push notification comes from the Git server, and
// reading which repository and branch it is about. Pure functions over the
// request's headers and body; nothing here does I/O or keeps state.
//
// Providers and how each signs its request (the secret is the configured
// server.webhooks.secretFile's content):
//   github   X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>
//   gitea    X-Gitea-Signature: <hex HMAC-SHA256(secret, body)>
//   gitlab   X-Gitlab-Token: <secret>
//   generic  X-Windlass-Signature: sha256=<hex HMAC-SHA256(secret, body)>
// Every comparison is constant-time (CRYPTO_memcmp over equal-length digests).
//
// Thread safety: every function is reentrant.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace windlass::agent {

enum class WebhookProvider { kGithub, kGitlab, kGitea, kGeneric };

// "github", "gitlab", "gitea", "generic". Never null.
const char* providerName(WebhookProvider provider);

// The provider called `name` (as providerName spells it), or nullopt.
std::optional<WebhookProvider> parseProvider(std::string_view name);

// The lowercase hex HMAC-SHA256 of `data` keyed with `key` (64 characters).
std::string hmacSha256Hex(std::string_view key, std::string_view data);

// True when `a` and `b` are equal. The time taken depends on neither content
// nor length (both are hashed first and the digests compared with CRYPTO_memcmp).
bool constantTimeEquals(std::string_view a, std::string_view b);

// Checks the request's signature. `headers` maps lowercase header names to
// values. Ok when the request was signed with `secret`. Errors (messages name
// the header, never the secret or the expected value):
//   FailedPrecondition "no webhook secret is configured" when `secret` is empty;
//   Unauthenticated "missing header X-Hub-Signature-256" (or the provider's header);
//   Unauthenticated "header X-Hub-Signature-256 is not of the form sha256=<hex>";
//   Unauthenticated "header X-Hub-Signature-256 does not match the body" (for a
//   token: "header X-Gitlab-Token does not match the secret").
[[nodiscard]] Status verifyWebhook(WebhookProvider provider,
                                   const std::map<std::string, std::string>& headers,
                                   std::string_view body, std::string_view secret);

// What a push notification says.
struct PushEvent {
  // Every URL naming the pushed repository, in payload order without
  // duplicates: repository.{clone_url, ssh_url, html_url, git_url, url,
  // git_http_url, git_ssh_url, homepage} then project.{git_http_url,
  // git_ssh_url, http_url, ssh_url, web_url, url}. Only non-empty strings.
  std::vector<std::string> repositoryUrls;
  std::string ref;     // as sent, e.g. "refs/heads/main"; "" when absent
  std::string branch;  // "main" for refs/heads/main, or a ref that does not start with refs/
  std::string tag;     // "v1.2" for refs/tags/v1.2

  bool operator==(const PushEvent&) const = default;
};

// Reads a push payload of any provider (GitHub, GitLab, Gitea or the generic
// {"repository": {"url": ...}, "ref": ...}). Missing or mistyped fields are
// skipped, so a ping or other event gives an event without URLs. Errors:
// InvalidArgument "payload is not JSON: <why> at offset N" or "payload is not
// a JSON object". Never crashes on hostile input (deep nesting is parsed
// iteratively; types are checked before access).
[[nodiscard]] Result<PushEvent> parsePushPayload(std::string_view body);

// A repository URL reduced to host/path for comparison: scheme, user, port and
// a trailing ".git" or "/" dropped, the host lowercased, scp-like
// "git@host:org/repo" read as host/org/repo. "https://GitHub.com/org/repo.git",
// "git@github.com:org/repo" and "ssh://git@github.com:22/org/repo" all give
// "github.com/org/repo". A local path is returned as it is.
std::string normalizeRepositoryUrl(std::string_view url);

// True when some URL of `event` names the same repository as `url`
// (normalizeRepositoryUrl of both equal).
bool pushNamesRepository(const PushEvent& event, std::string_view url);

}  // namespace windlass::agent
