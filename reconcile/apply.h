// Executing a plan: the target namespace, the inventory parent, the deferred dry runs,
// the staged apply (waiting for CRDs to be Established), then prune (prune.h) and the
// health wait (health_wait.h). Writes only what the plan says differs.
#pragma once

#include "core/json.h"
#include "reconcile/kube_api.h"
#include "reconcile/sync.h"

namespace windlass::reconcile {

// Executes `plan`: creates the target namespace, writes the inventory parent
// (with the union of old and new group-kinds, so an interrupted sync can still
// prune), applies changed objects stage by stage (waiting for CRDs to be
// Established after the first), prunes stale members in reverse order (never
// one marked prune-disabled; mass deletions refused), writes the parent again,
// then waits for health. A plan without changes writes nothing and only waits
// for health. Partial progress is always reported in `objects`; objects not
// reached keep their planned action with the error "not applied: the sync stopped
// earlier". A tripped options.cancel stops before the next stage with Aborted.
// Each stage fails with its own reason (ApplyFailed, PruneFailed, HealthFailed).
// Objects are allocated from `alloc`; `plan` is borrowed for the call.
SyncOutcome executePlan(KubeApi& kube, Plan& plan, const SyncOptions& options,
                        JsonAllocator& alloc);

}  // namespace windlass::reconcile
