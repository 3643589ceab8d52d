// One reconcile of one environment, end to end, the way the CLI and (later)
// the daemon run it: fetch the commit, render its tree, plan against the
// cluster, apply, prune, wait for health, and record the sync in the history.
// Every exit path after the config is known records history (except plans
// that write nothing: diff and --dry-run).
#pragma once

#include <string>

#include "agent/config.h"
#include "core/status.h"
#include "reconcile/history.h"

namespace windlass::agent {

struct SyncRequest {
  bool planOnly = false;            // diff / --dry-run: plan, print, write nothing
  std::string revision;             // overrides the environment's branch/tag/commit
  bool forcePrune = false;          // --prune: prune even when the environment says no
  bool allowMassPrune = false;      // --allow-mass-prune
  reconcile::Trigger trigger = reconcile::Trigger::kManual;
};

struct SyncReport {
  std::string planText;             // diffs and the summary line
  bool changes = false;             // the plan had something to do
  reconcile::SyncRecord record;     // as appended to the history (when recorded)
  bool recorded = false;
  Status status;                    // ok, or why the sync (or plan) failed
};

// Runs the request for `env`. Never throws; failures are in report.status and,
// for syncs, in the recorded history. Secrets never reach the report.
SyncReport reconcileEnvironment(const AgentConfig& config, const Environment& env,
                                const SyncRequest& request);

}  // namespace windlass::agent
