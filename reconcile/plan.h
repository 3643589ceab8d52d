// Planning: what a sync would do. makePlan() reads the cluster (the live objects, the
// inventory and a server-side dry run of each rendered object) and never writes; the
// other functions classify, order and print values and talk to no server.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "reconcile/kube_api.h"
#include "reconcile/sync.h"
#include "reconcile/vocabulary.h"

namespace windlass::reconcile {

// Drops what the server owns and a diff must not show: metadata.managedFields,
// resourceVersion, generation, uid, creationTimestamp, selfLink and status.
void stripServerFields(JsonValue& object);

// create when there is no live object; unchanged when the dry-run result equals
// the live object once both are stripped; else update. Secret values are
// compared as they are (a rotated password is an update); only what is printed
// or recorded is masked (objectDiff). Neither argument is modified.
ObjectAction classify(const JsonValue* live, const JsonValue& dryRun, JsonAllocator& alloc);

// The unified diff of `live` (null: the object is new) and `desired`, both
// stripped of server fields and printed as YAML, labelled "live SUBJECT" and
// "desired SUBJECT". Secret values never appear: each value under data and
// stringData prints as "***" on both sides when it is unchanged, and as
// "*** (before)" / "*** (changed)" when it differs, so a rotation shows as a
// change of that key alone. Empty when there is no difference.
std::string objectDiff(const JsonValue* live, const JsonValue& desired, std::string_view subject,
                       JsonAllocator& alloc);

// A unified diff (3 lines of context) of two texts, line by line, with
// "--- labelA" / "+++ labelB" headers. Empty when the texts are equal.
std::string unifiedDiff(std::string_view a, std::string_view b, std::string_view labelA,
                        std::string_view labelB);

// The sync wave of an object: windlass.dev/sync-wave, else Argo CD's
// argocd.argoproj.io/sync-wave annotation; 0 when absent or not an integer.
int syncWave(const JsonValue& object);

// Groups `objects` (indexes into it) into the stages a sync applies in order:
// first Namespaces and CustomResourceDefinitions (the caller waits for CRDs to
// be Established after this stage), then each sync wave in ascending order,
// cluster-scoped kinds before namespaced ones, in Kustomize's kind order, ties
// by namespace and name. Objects in one stage may be applied concurrently.
// Prune deletes in the reverse of this order.
std::vector<std::vector<size_t>> applyStages(const std::vector<const JsonValue*>& objects);

// Plans a sync of `rendered` (moved in). All or nothing: when any object fails
// its dry run (other than one waiting for a CRD or namespace this sync
// creates), the error lists every failing object with the server's reason and
// nothing is returned. Errors keep the client's codes (PermissionDenied,
// Unavailable, ...). Objects are allocated from `alloc`.
Result<Plan> makePlan(KubeApi& kube, std::vector<JsonValue> rendered, const SyncOptions& options,
                      JsonAllocator& alloc);

// The plan as people read it: a diff per changed object and a summary line
// ("2 to create, 1 to update, 5 unchanged, 1 to delete").
std::string formatPlan(const Plan& plan);

}  // namespace windlass::reconcile
