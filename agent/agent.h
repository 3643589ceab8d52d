// The long-running agent (`windlass run`): keeps every environment converged
// with Git and heals drift, with no one at the keyboard.
//
// One Boost.Asio event loop owns the schedule: each repository is fetched at
// its interval (with jitter; one fetch serves every environment on it); an
// environment syncs when its commit moved (and its render changed), after a
// retryable failure (backoff by error code), and every resyncInterval. Blocking
// work (libgit2, rendering, API batches) runs on a small worker pool, so one
// environment's slowness never delays another. Drift is seen through one watch
// per managed group-kind and environment, selected by the ApplySet label; only
// the drifted object is re-applied. In steady state no request is made beyond
// the open watches.
//
// Each environment's state is written to <stateDir>/status/<env>.json for
// `windlass status`.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "agent/api.h"
#include "agent/config.h"
#include "agent/log.h"
#include "agent/metrics.h"
#include "agent/notify.h"
#include "core/cancel.h"
#include "core/status.h"
#include "reconcile/reconciler.h"

namespace windlass::agent {

// When to try again after a sync that failed with `code`, the `attempt`-th
// failure in a row (1 for the first): Conflict/Aborted soon (1 s);
// NotFound (a branch not pushed yet) at the poll interval; Unavailable,
// DeadlineExceeded and the rest with exponential backoff from 2 s, capped at
// 5 min; nullopt for InvalidArgument and FailedPrecondition (a bad commit or
// a Degraded roll-out): stalled until the revision or the config changes.
std::optional<std::chrono::milliseconds> retryDelay(Code code, int attempt,
                                                    std::chrono::milliseconds interval);

// What the agent reports to, beside its log; each may be null. Borrowed.
struct AgentServices {
  Metrics* metrics = nullptr;
  Notifier* notifier = nullptr;
};

class Agent {
 public:
  Agent(const AgentConfig& config, reconcile::Reconciler& reconciler, Log& log,
        AgentServices services = {});
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs until `stop` or `reload` is tripped: then stops taking work, lets the
  // current syncs stop at their next safe point (they record themselves),
  // closes the watches and returns. Never throws.
  // `lost` (may be null) ends the run like `reload` (leadership lost).
  void run(const CancelToken& stop, const CancelToken& reload, const CancelToken* lost = nullptr);

  // ---- for the HTTP API; thread-safe ------------------------------------------------

  // Every environment as last seen by the event loop (config order).
  std::vector<EnvironmentSnapshot> snapshot() const;
  // Each repository fetched once since start.
  bool ready() const;
  // Queues a manual sync (trigger manual; `actor` is logged). NotFound for an
  // unknown environment.
  [[nodiscard]] Status requestManualSync(const std::string& environment, const std::string& actor);
  // A verified push: fetch every repository it names now (coalesced with a fetch
  // under way); only environments whose revision moved sync.
  void push(const PushEvent& push);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace windlass::agent
