// The values one sync of one environment passes between its stages: the options,
// the plan (plan.h: makePlan), the outcome (apply.h: executePlan, which applies,
// prunes (prune.h) and waits for health (health_wait.h)), and the few helpers the
// stages share. Planning never writes; executing writes only what the plan says
// differs.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"
#include "reconcile/history.h"
#include "reconcile/kube_api.h"

namespace windlass::reconcile {

struct SyncOptions {
  std::string environment;  // names the inventory: Secret windlass-<environment>
  // Namespaced objects without a namespace go here, and the inventory lives
  // here; created when missing (Argo CD's CreateNamespace). Empty: the
  // kubeconfig context's namespace, else "default".
  std::string targetNamespace;
  bool prune = true;            // delete inventory members no longer rendered
  bool allowMassPrune = false;  // lift the empty-render and maxPruneShare guards
  double maxPruneShare = 0.5;   // largest share of the inventory one sync may prune
  std::chrono::milliseconds healthTimeout{std::chrono::minutes(5)};  // 0: do not wait
  std::chrono::milliseconds pollInterval{500};                       // health and CRD polls
  // Checked between stages and in every wait; a cancelled sync stops at the next
  // safe point with Aborted, reporting what it applied. Null: never cancelled.
  const CancelToken* cancel = nullptr;
  // Deadlines and poll pauses of the health and CRD waits (tests pass a FakeClock).
  const Clock* clock = &Clock::system();
  // Delete and recreate an object whose change the server refuses as immutable (a
  // Deployment selector, a Job template, a Service's clusterIP), as Flux's force
  // does. Also per object: the annotation windlass.dev/force: enabled. Default off:
  // such a change fails the plan, naming the object and the field.
  bool force = false;
};

// True when `status` is the server refusing a change to an immutable field.
bool isImmutableChange(const Status& status);

// True when `object` carries windlass.dev/force: enabled.
bool forceAnnotated(const JsonValue& object);

struct PlannedObject {
  JsonValue desired;  // as applied: namespace set, part-of label added
  JsonValue live;     // null when the object does not exist
  ObjectAction action = ObjectAction::kUnchanged;
  bool deferred = false;  // not dry-run: its CRD or namespace is created by this sync
  std::string subject;    // "apps/Deployment ns/web"
  std::string diff;       // unified YAML diff live → dry-run result, Secrets masked
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
  size_t inventorySize = 0;    // members found in the cluster
  bool parentCurrent = false;  // the inventory parent already lists exactly these kinds
  std::vector<PlannedObject> objects;
  std::vector<StaleObject> stale;

  bool changes() const;  // anything to create, update or delete, or an inventory to write
};

struct SyncOutcome {
  std::vector<ObjectRecord> objects;  // every object, with what was done and any error
  HealthRecord health;
  Reason reason = Reason::kSucceeded;
  Status status;  // why the sync failed; ok on success
  // Wall time of each stage that ran, in order: "apply", "prune", "health" (ms).
  std::vector<std::pair<std::string, int64_t>> stageMs;
};

// ---- shared by the stages (plan.cpp, apply.cpp, prune.cpp, health_wait.cpp) ------------

// The group, version and kind of an object, from its apiVersion and kind.
Gvk gvkOf(const JsonValue& object);

// "apps/Deployment ns/web": the object named in messages.
std::string subjectOf(const JsonValue& object);

// The history record of `object` with `action` and `error` ("" on success).
ObjectRecord recordOf(const JsonValue& object, ObjectAction action, std::string error = {});

// The record of planned object `p` after its apply: its action, `error` and its diff,
// cut to kMaxObjectDiffBytes at a line boundary.
ObjectRecord recordOf(const PlannedObject& p, std::string error);

// True for a dry-run failure that no object can fix (credentials, permissions, the server
// gone or busy, a conflict or timeout worth retrying): it stops the sync with its own
// code, instead of joining the per-object list, which is InvalidArgument and would stall
// the environment until the next commit.
bool stopsDryRuns(const Status& status);

// The error for objects whose dry run failed, one line each after
// "dry run failed for N object(s); nothing was applied<applied>:"; ok when there are none.
Status dryRunFailures(const std::vector<std::string>& failures, std::string_view applied);

// Aborted "interrupted: the agent is stopping" once options.cancel is tripped; else ok.
// The safe point between two stages.
Status interrupted(const SyncOptions& options);

// Sleeps options.pollInterval; false (early) when options.cancel is tripped meanwhile.
bool pauseOnePoll(const SyncOptions& options);

}  // namespace windlass::reconcile
