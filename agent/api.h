// The agent's HTTP endpoints, as a handler for HttpServer (agent/http_server.h)
// that needs no sockets to test.
//
//   GET  /healthz                                   200 "ok"
//   GET  /readyz                                    200 "ready" or 503 "not ready"
//   GET  /metrics                                   Prometheus text 0.0.4
//   GET  /api/v1/environments                       {"environments":[SNAPSHOT...]}
//   GET  /api/v1/environments/{env}                 SNAPSHOT
//   GET  /api/v1/environments/{env}/history?limit=N&before=SEQ
//        {"records":[RECORD...],"next":SEQ|null}: newest first, at most N
//        (default 20, 1-100) records with sequence < SEQ; "next" is the
//        `before` of the following page. RECORD is the line serializeRecord prints.
//   GET  /api/v1/environments/{env}/history/{sequence}   RECORD
//   POST /api/v1/environments/{env}/sync            202; needs Authorization: Bearer <token>
//   POST /hooks/{github,gitlab,gitea,generic}       202; needs the provider's signature
//
// SNAPSHOT: {"name","revision":{"commit","branch","author","subject"},
// "lastSyncTime","lastSyncOutcome","health","drift":[...],"suspended","held","hold",
// "nextSync","leader"}. Errors are {"error":"<message>"} with 400 (bad query),
// 401 (token or signature missing or wrong; WWW-Authenticate: Bearer on the
// API), 404 (unknown path, environment or record), 405 (wrong method, with
// Allow), 500 (history unreadable), 503 (sync refused by the agent).
//
// The token file and the webhook secret file are read on each request that
// needs them (a rotated secret takes effect at once) and never appear in a
// response or message; a missing or empty file refuses every such request.
// Every webhook request is counted in windlass_webhook_requests_total{provider,
// result} with result accepted, ignored (no repository URL: a ping), unauthorized
// or bad_request.
//
// Thread safety: handle() may be called from many threads at once when the
// callbacks, the Metrics and the HistoryStore allow it (the ones of this
// project do).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "agent/http_server.h"
#include "agent/metrics.h"
#include "agent/webhook.h"
#include "core/status.h"
#include "reconcile/history.h"

namespace windlass::agent {

// What the agent knows of one environment right now. Empty strings are shown as "".
struct EnvironmentSnapshot {
  struct Revision {
    std::string commit;
    std::string branch;
    std::string author;
    std::string subject;  // the first line of the commit message
  };
  std::string name;
  Revision revision;               // of the last successful sync
  std::string lastSyncTime;        // RFC 3339 UTC, "" before the first sync
  std::string lastSyncOutcome;     // a reason: "Succeeded", "ApplyFailed", ...
  std::string health;              // "Healthy", "Progressing", "Degraded", "Unknown"
  std::vector<std::string> drift;  // objects that differ from Git, e.g. "apps/Deployment prod/web"
  bool suspended = false;
  bool held = false;  // held by a sync window
  // Held at a revision (rollback): "held at abc1234 by bob since ...; 3 commits
  // waiting"; "" when not held.
  std::string hold;
  std::string nextSync;  // RFC 3339 UTC, "" when none is planned
  bool leader = false;
};

// What the router needs from the agent. Every callback is required except
// where noted; they are called on the server's threads.
struct ApiBackend {
  std::function<bool()> ready;
  // Every environment, in config order.
  std::function<std::vector<EnvironmentSnapshot>()> environments;
  // Queues a manual sync of `environment` for `actor` ("token:<tokenFile name>" or the
  // X-Windlass-Actor header of an authenticated request). Ok → 202;
  // NotFound → 404; any other error → 503 with its message.
  std::function<Status(const std::string& environment, const std::string& actor)> requestSync;
  // A verified push naming at least one repository URL; the agent matches the
  // URLs (pushNamesRepository) and branch against its repositories.
  std::function<void(const PushEvent& push)> push;
  Metrics* metrics = nullptr;                        // required; borrowed
  const reconcile::HistoryStore* history = nullptr;  // required; borrowed
  std::string tokenFile;                             // server.tokenFile; "" refuses POST .../sync
  std::string webhookSecretFile;  // server.webhooks.secretFile; "" refuses /hooks
};

class Api {
 public:
  // `backend` is copied; the pointers in it must outlive the Api.
  explicit Api(ApiBackend backend);

  // Answers one request as described at the top of this file. Never throws
  // (a callback's exception becomes a 500 in HttpServer).
  HttpResponse handle(const HttpRequest& request) const;

  // handle() as an HttpHandler borrowing this Api.
  HttpHandler handler() const;

 private:
  HttpResponse environment(const HttpRequest& request, const std::vector<std::string>& parts) const;
  HttpResponse history(const EnvironmentSnapshot& env, const HttpRequest& request,
                       const std::vector<std::string>& parts) const;
  HttpResponse sync(const std::string& env, const HttpRequest& request) const;
  HttpResponse hook(std::string_view provider, const HttpRequest& request) const;

  ApiBackend backend_;
};

// The JSON object of `snapshot` (as above), without a trailing newline.
std::string snapshotJson(const EnvironmentSnapshot& snapshot);

}  // namespace windlass::agent
