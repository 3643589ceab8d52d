// Prune: deletes the inventory members a sync no longer renders.
#pragma once

#include <vector>

#include "core/status.h"
#include "reconcile/history.h"
#include "reconcile/kube_api.h"
#include "reconcile/sync.h"

namespace windlass::reconcile {

struct PruneResult {
  // One record per stale object, in the order handled: kDelete (with the error when the
  // deletion failed) or kPruneSkipped for one marked prune-disabled.
  std::vector<ObjectRecord> objects;
  Status status;  // the first deletion that failed; ok when every one succeeded
};

// Refuses a mass deletion before anything is written: checkMassPrune() over the stale
// members that are not prune-disabled, the inventory size and the rendered objects of
// `plan`. Ok when options.prune is off or options.allowMassPrune is set.
[[nodiscard]] Status checkPruneGuard(const Plan& plan, const SyncOptions& options);

// Deletes `stale` in the reverse of the apply-stage order (applyStages()), skipping
// those marked prune-disabled. Keeps going after a failed deletion; an object already
// gone (NotFound) counts as deleted. Partial progress is always in the result. Writes
// nothing else; does not check the mass-prune guard (checkPruneGuard).
PruneResult prune(KubeApi& kube, const std::vector<StaleObject>& stale);

}  // namespace windlass::reconcile
