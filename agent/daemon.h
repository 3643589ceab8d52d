// `windlass run` as a process: the agent with its HTTP surface (health, metrics, the
// JSON API, webhooks), leader election and notifications, across config reloads.
#pragma once

#include <string>

#include "agent/log.h"
#include "core/cancel.h"

namespace windlass::agent {

// Runs until `stop` is tripped (returns 0), reloading the config at `configPath`
// each time `reload` is tripped (it is reset then; a config that does not load is
// logged and the running one stays). With leaderElection set, only the leader
// reconciles and writes; a follower serves /healthz, /readyz, /metrics and the read
// API. Returns 1 when it cannot start (bad credentials files, the HTTP address in
// use), with the reason logged.
int runDaemon(const std::string& configPath, Log& log, const CancelToken& stop,
              CancelToken& reload);

}  // namespace windlass::agent
