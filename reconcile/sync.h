// One reconcile of one environment against a cluster: plan (server-side dry
// run of every rendered object, diff against the live objects, stale inventory
// members) and execute (staged apply of what changed, prune, health wait).
// Planning never writes; executing writes only what the plan says differs.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/json.h"
#include "core/status.h"
#include "reconcile/history.h"
#include "reconcile/kube_client.h"

namespace windlass::reconcile {

struct SyncOptions {
  std::string environment;      // names the inventory: Secret windlass-<environment>
  // Namespaced objects without a namespace go here, and the inventory lives
  // here; created when missing (Argo CD's CreateNamespace). Empty: the
  // kubeconfig context's namespace, else "default".
  std::string targetNamespace;
  bool prune = true;             // delete inventory members no longer rendered
  bool allowMassPrune = false;   // lift the empty-render and maxPruneShare guards
  double maxPruneShare = 0.5;    // largest share of the inventory one sync may prune
  std::chrono::milliseconds healthTimeout{std::chrono::minutes(5)};  // 0: do not wait
  std::chrono::milliseconds pollInterval{500};                       // health and CRD polls
  // Checked between stages and in every wait; a cancelled sync stops at the next
  // safe point with Aborted, reporting what it applied. Null: never cancelled.
  const CancelToken* cancel = nullptr;
};

struct PlannedObject {
  JsonValue desired;         // as applied: namespace set, part-of label added
  JsonValue live;            // null when the object does not exist
  ObjectAction action = ObjectAction::kUnchanged;
  bool deferred = false;     // not dry-run: its CRD or namespace is created by this sync
  std::string subject;       // "apps/Deployment ns/web"
  std::string diff;          // unified YAML diff live → dry-run result, Secrets masked
};

struct StaleObject {
  JsonValue live;
  std::string subject;
  bool pruneDisabled = false;
};

struct Plan {
  std::string targetNamespace;
  bool createNamespace = false;  // the target namespace does not exist yet
  std::string inventoryName;     // windlass-<environment>
  std::string applySetId;
  size_t inventorySize = 0;      // members found in the cluster
  bool parentCurrent = false;    // the inventory parent already lists exactly these kinds
  std::vector<PlannedObject> objects;
  std::vector<StaleObject> stale;

  bool changes() const;  // anything to create, update or delete, or an inventory to write
};

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

struct SyncOutcome {
  std::vector<ObjectRecord> objects;  // every object, with what was done and any error
  HealthRecord health;
  Reason reason = Reason::kSucceeded;
  Status status;                      // why the sync failed; ok on success
};

// Executes `plan`: creates the target namespace, writes the inventory parent
// (with the union of old and new group-kinds, so an interrupted sync can still
// prune), applies changed objects stage by stage (waiting for CRDs to be
// Established after the first), prunes stale members in reverse order (never
// one marked prune-disabled; mass deletions refused), writes the parent again,
// then waits for health. Partial progress is always reported in `objects`.
SyncOutcome executePlan(KubeApi& kube, Plan& plan, const SyncOptions& options,
                        JsonAllocator& alloc);

}  // namespace windlass::reconcile
