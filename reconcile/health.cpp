#include "reconcile/health.h"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace windlass::reconcile {
namespace {

// ---- reading fields that may be absent or of the wrong type ----------------

const JsonValue* member(const JsonValue* v, std::string_view name) {
  if (v == nullptr || !v->IsObject()) return nullptr;
  auto it = v->FindMember(JsonValue(rapidjson::StringRef(name.data(), name.size())));
  return it == v->MemberEnd() ? nullptr : &it->value;
}

const JsonValue* path(const JsonValue& root, std::initializer_list<std::string_view> names) {
  const JsonValue* v = &root;
  for (std::string_view n : names) {
    v = member(v, n);
    if (v == nullptr) return nullptr;
  }
  return v;
}

std::string_view stringAt(const JsonValue& root, std::initializer_list<std::string_view> names,
                          std::string_view fallback = {}) {
  const JsonValue* v = path(root, names);
  if (v == nullptr || !v->IsString()) return fallback;
  return {v->GetString(), v->GetStringLength()};
}

bool hasInt(const JsonValue* v) { return v != nullptr && v->IsInt64(); }

int64_t intAt(const JsonValue& root, std::initializer_list<std::string_view> names,
              int64_t fallback) {
  const JsonValue* v = path(root, names);
  return hasInt(v) ? v->GetInt64() : fallback;
}

std::string_view str(const JsonValue* v) {
  if (v == nullptr || !v->IsString()) return {};
  return {v->GetString(), v->GetStringLength()};
}

struct Condition {
  std::string_view type;
  std::string_view status;
  std::string_view reason;
  std::string_view message;
};

// Calls fn(Condition) for each well-formed entry of status.conditions; stops
// early when fn returns true and returns true then.
template <class Fn>
bool forEachCondition(const JsonValue& object, Fn&& fn) {
  const JsonValue* list = path(object, {"status", "conditions"});
  if (list == nullptr || !list->IsArray()) return false;
  for (const JsonValue& c : list->GetArray()) {
    if (!c.IsObject()) continue;
    Condition cond{str(member(&c, "type")), str(member(&c, "status")), str(member(&c, "reason")),
                   str(member(&c, "message"))};
    if (cond.type.empty()) continue;
    if (fn(cond)) return true;
  }
  return false;
}

// The first condition of `type`, if any.
bool findCondition(const JsonValue& object, std::string_view type, Condition* out) {
  return forEachCondition(object, [&](const Condition& c) {
    if (c.type != type) return false;
    *out = c;
    return true;
  });
}

// "Reason: message", "Reason", "message" or `fallback`, whichever is available.
std::string explain(const Condition& c, std::string_view fallback) {
  if (!c.reason.empty() && !c.message.empty()) {
    return std::string(c.reason) + ": " + std::string(c.message);
  }
  if (!c.reason.empty()) return std::string(c.reason);
  if (!c.message.empty()) return std::string(c.message);
  return std::string(fallback);
}

HealthResult current(std::string message) { return {Health::kCurrent, std::move(message)}; }
HealthResult inProgress(std::string message) { return {Health::kInProgress, std::move(message)}; }
HealthResult failed(std::string message) { return {Health::kFailed, std::move(message)}; }

std::string ratio(std::string_view what, int64_t have, int64_t want) {
  return std::string(what) + ": " + std::to_string(have) + "/" + std::to_string(want);
}

std::string_view groupOf(std::string_view apiVersion) {
  size_t slash = apiVersion.find('/');
  return slash == std::string_view::npos ? std::string_view() : apiVersion.substr(0, slash);
}

// ---- the generic rules ------------------------------------------------------

// Terminating, a stale observedGeneration, Reconciling and Stalled decide alone.
bool genericRules(const JsonValue& object, std::string_view kind, HealthResult* out) {
  if (!stringAt(object, {"metadata", "deletionTimestamp"}).empty()) {
    *out = {Health::kTerminating, "Resource scheduled for deletion"};
    return true;
  }
  const JsonValue* generation = path(object, {"metadata", "generation"});
  const JsonValue* observed = path(object, {"status", "observedGeneration"});
  if (hasInt(generation) && hasInt(observed) && generation->GetInt64() != observed->GetInt64()) {
    *out =
        inProgress(std::string(kind) + " generation is " + std::to_string(generation->GetInt64()) +
                   ", but latest observed generation is " + std::to_string(observed->GetInt64()));
    return true;
  }
  return forEachCondition(object, [&](const Condition& c) {
    if (c.status != "True") return false;
    if (c.type == "Reconciling") {
      *out = inProgress(explain(c, "Reconciling"));
      return true;
    }
    if (c.type == "Stalled") {
      *out = failed(explain(c, "Stalled"));
      return true;
    }
    return false;
  });
}

// ---- kind rules --------------------------------------------------------------

HealthResult deploymentHealth(const JsonValue& d) {
  // Without spec.progressDeadlineSeconds the controller never sets Progressing,
  // so it cannot be required.
  bool progressing = !hasInt(path(d, {"spec", "progressDeadlineSeconds"})) ||
                     intAt(d, {"spec", "progressDeadlineSeconds"}, 0) == INT32_MAX;
  bool available = false;
  Condition deadline;
  bool exceeded = forEachCondition(d, [&](const Condition& c) {
    if (c.type == "Progressing") {
      if (c.reason == "ProgressDeadlineExceeded") {
        deadline = c;
        return true;
      }
      if (c.status == "True" && c.reason == "NewReplicaSetAvailable") progressing = true;
    } else if (c.type == "Available" && c.status == "True") {
      available = true;
    }
    return false;
  });
  if (exceeded) return failed(explain(deadline, "Progress deadline exceeded"));

  int64_t spec = intAt(d, {"spec", "replicas"}, 1);
  int64_t replicas = intAt(d, {"status", "replicas"}, 0);
  int64_t updated = intAt(d, {"status", "updatedReplicas"}, 0);
  int64_t ready = intAt(d, {"status", "readyReplicas"}, 0);
  int64_t avail = intAt(d, {"status", "availableReplicas"}, 0);
  if (spec > replicas) return inProgress(ratio("Replicas", replicas, spec));
  if (spec > updated) return inProgress(ratio("Updated", updated, spec));
  if (replicas > spec) return inProgress("Pending termination: " + std::to_string(replicas - spec));
  if (updated > avail) return inProgress(ratio("Available", avail, updated));
  if (spec > ready) return inProgress(ratio("Ready", ready, spec));
  if (!progressing) return inProgress("ReplicaSet not Available");
  if (!available) return inProgress("Deployment does not have minimum availability");
  return current("Deployment is available. Replicas: " + std::to_string(replicas));
}

HealthResult statefulSetHealth(const JsonValue& s) {
  if (stringAt(s, {"spec", "updateStrategy", "type"}) == "OnDelete") {
    return current("StatefulSet is using the OnDelete update strategy");
  }
  int64_t spec = intAt(s, {"spec", "replicas"}, 1);
  int64_t replicas = intAt(s, {"status", "replicas"}, 0);
  int64_t ready = intAt(s, {"status", "readyReplicas"}, 0);
  int64_t currentReplicas = intAt(s, {"status", "currentReplicas"}, 0);
  int64_t updated = intAt(s, {"status", "updatedReplicas"}, 0);
  const JsonValue* partition = path(s, {"spec", "updateStrategy", "rollingUpdate", "partition"});
  if (spec > replicas) return inProgress(ratio("Replicas", replicas, spec));
  if (spec > ready) return inProgress(ratio("Ready", ready, spec));
  if (replicas > spec) return inProgress("Pending termination: " + std::to_string(replicas - spec));
  if (hasInt(partition)) {
    int64_t want = spec - partition->GetInt64();
    if (want < 0) want = 0;
    if (updated < want) return inProgress(ratio("Partition rollout, updated", updated, want));
    return current("Partition rollout complete. Updated: " + std::to_string(updated));
  }
  if (spec > currentReplicas) return inProgress(ratio("Current", currentReplicas, spec));
  if (stringAt(s, {"status", "currentRevision"}) != stringAt(s, {"status", "updateRevision"})) {
    return inProgress("Waiting for the current revision to match the update revision");
  }
  return current("All replicas scheduled as expected. Replicas: " + std::to_string(replicas));
}

HealthResult daemonSetHealth(const JsonValue& d, std::string_view kind) {
  if (!hasInt(path(d, {"metadata", "generation"}))) {
    return inProgress(std::string(kind) + " metadata.generation not found");
  }
  if (!hasInt(path(d, {"status", "observedGeneration"}))) {
    return inProgress(std::string(kind) + " status.observedGeneration not found");
  }
  const JsonValue* desiredV = path(d, {"status", "desiredNumberScheduled"});
  if (!hasInt(desiredV)) return inProgress("Missing status.desiredNumberScheduled");
  int64_t desired = desiredV->GetInt64();
  int64_t scheduled = intAt(d, {"status", "currentNumberScheduled"}, 0);
  int64_t updated = intAt(d, {"status", "updatedNumberScheduled"}, 0);
  int64_t available = intAt(d, {"status", "numberAvailable"}, 0);
  int64_t ready = intAt(d, {"status", "numberReady"}, 0);
  if (desired > scheduled) return inProgress(ratio("Current", scheduled, desired));
  if (desired > updated) return inProgress(ratio("Updated", updated, desired));
  if (desired > available) return inProgress(ratio("Available", available, desired));
  if (desired > ready) return inProgress(ratio("Ready", ready, desired));
  return current("All replicas scheduled as expected. Replicas: " + std::to_string(desired));
}

HealthResult replicaSetHealth(const JsonValue& r) {
  Condition failure;
  if (findCondition(r, "ReplicaFailure", &failure) && failure.status == "True") {
    return inProgress(explain(failure, "ReplicaFailure"));
  }
  int64_t spec = intAt(r, {"spec", "replicas"}, 1);
  int64_t replicas = intAt(r, {"status", "replicas"}, 0);
  int64_t ready = intAt(r, {"status", "readyReplicas"}, 0);
  int64_t available = intAt(r, {"status", "availableReplicas"}, 0);
  int64_t labelled = intAt(r, {"status", "fullyLabeledReplicas"}, 0);
  if (spec > labelled) return inProgress(ratio("Labelled", labelled, spec));
  if (spec > available) return inProgress(ratio("Available", available, spec));
  if (spec > ready) return inProgress(ratio("Ready", ready, spec));
  if (replicas > spec) return inProgress("Pending termination: " + std::to_string(replicas - spec));
  return current("ReplicaSet is available. Replicas: " + std::to_string(replicas));
}

HealthResult jobHealth(const JsonValue& j) {
  int64_t parallelism = intAt(j, {"spec", "parallelism"}, 1);
  int64_t completions = intAt(j, {"spec", "completions"}, parallelism);
  int64_t succeeded = intAt(j, {"status", "succeeded"}, 0);
  int64_t active = intAt(j, {"status", "active"}, 0);
  int64_t failedPods = intAt(j, {"status", "failed"}, 0);
  HealthResult result;
  bool decided = forEachCondition(j, [&](const Condition& c) {
    if (c.status != "True") return false;
    if (c.type == "Complete") {
      result = current("Job completed. Succeeded: " + std::to_string(succeeded) + "/" +
                       std::to_string(completions));
      return true;
    }
    if (c.type == "Failed") {
      result =
          failed(explain(c, "Job failed") + " (failed pods: " + std::to_string(failedPods) + ")");
      return true;
    }
    if (c.type == "Suspended") {
      result = current("Job is suspended");
      return true;
    }
    return false;
  });
  if (decided) return result;
  if (stringAt(j, {"status", "startTime"}).empty()) return inProgress("Job not started");
  return inProgress("Job in progress. Succeeded: " + std::to_string(succeeded) + ", active: " +
                    std::to_string(active) + ", failed: " + std::to_string(failedPods));
}

HealthResult podHealth(const JsonValue& p) {
  std::string_view phase = stringAt(p, {"status", "phase"});
  if (phase == "Succeeded") return current("Pod has completed successfully");
  if (phase == "Failed") {
    std::string_view reason = stringAt(p, {"status", "reason"});
    std::string_view message = stringAt(p, {"status", "message"});
    std::string why = "Pod has failed";
    if (!reason.empty()) why += ": " + std::string(reason);
    if (!message.empty()) why += (reason.empty() ? ": " : " ") + std::string(message);
    return failed(why);
  }
  if (phase == "Running") {
    Condition ready;
    if (findCondition(p, "Ready", &ready) && ready.status == "True") return current("Pod is Ready");
    std::string crashing;
    const JsonValue* statuses = path(p, {"status", "containerStatuses"});
    if (statuses != nullptr && statuses->IsArray()) {
      for (const JsonValue& cs : statuses->GetArray()) {
        if (stringAt(cs, {"state", "waiting", "reason"}) != "CrashLoopBackOff") continue;
        std::string_view name = stringAt(cs, {"name"});
        if (name.empty()) continue;
        if (!crashing.empty()) crashing += ",";
        crashing += name;
      }
    }
    if (!crashing.empty()) return failed("Containers in CrashLoopBackOff: " + crashing);
    return inProgress("Pod is running but is not Ready");
  }
  if (phase == "Pending") {
    Condition scheduled;
    if (findCondition(p, "PodScheduled", &scheduled) && scheduled.status == "False" &&
        scheduled.reason == "Unschedulable") {
      return failed(explain(scheduled, "Pod could not be scheduled"));
    }
    return inProgress("Pod is in the Pending phase");
  }
  if (phase.empty()) return inProgress("Pod phase not available");
  return {Health::kUnknown, "Pod has an unknown phase " + std::string(phase)};
}

HealthResult pvcHealth(const JsonValue& c) {
  std::string_view phase = stringAt(c, {"status", "phase"}, "unknown");
  if (phase == "Bound") return current("PVC is Bound");
  if (phase == "Lost") return failed("PVC has lost its volume (phase Lost)");
  return inProgress("PVC is not Bound. Phase: " + std::string(phase));
}

HealthResult serviceHealth(const JsonValue& s) {
  if (stringAt(s, {"spec", "type"}, "ClusterIP") != "LoadBalancer") {
    return current("Service is ready");
  }
  if (stringAt(s, {"spec", "clusterIP"}).empty()) {
    return inProgress("ClusterIP not set. Service type: LoadBalancer");
  }
  const JsonValue* ingress = path(s, {"status", "loadBalancer", "ingress"});
  if (ingress != nullptr && ingress->IsArray()) {
    for (const JsonValue& i : ingress->GetArray()) {
      std::string_view ip = stringAt(i, {"ip"});
      std::string_view host = stringAt(i, {"hostname"});
      if (!ip.empty() || !host.empty()) {
        return current("Service is ready. Load balancer: " + std::string(ip.empty() ? host : ip));
      }
    }
  }
  return inProgress("Load balancer address not assigned yet. Service type: LoadBalancer");
}

HealthResult crdHealth(const JsonValue& c) {
  HealthResult result = inProgress("Install in progress");
  forEachCondition(c, [&](const Condition& cond) {
    if (cond.type == "NamesAccepted" && cond.status == "False") {
      result = failed(explain(cond, "Names not accepted"));
      return true;
    }
    if (cond.type == "Established") {
      if (cond.status == "False" && cond.reason != "Installing") {
        result = failed(explain(cond, "Not established"));
        return true;
      }
      if (cond.status == "True") {
        result = current("CRD is established");
        return true;
      }
    }
    return false;
  });
  return result;
}

HealthResult namespaceHealth(const JsonValue& n) {
  if (stringAt(n, {"status", "phase"}) == "Terminating") {
    return {Health::kTerminating, "Namespace is terminating"};
  }
  return current("Namespace is active");
}

HealthResult genericHealth(const JsonValue& object) {
  Condition ready;
  if (!findCondition(object, "Ready", &ready)) return current("Resource is current");
  if (ready.status == "True") return current(explain(ready, "Ready"));
  return inProgress(explain(ready, "Not ready"));
}

}  // namespace

HealthResult assessHealth(const JsonValue& object) {
  if (!object.IsObject()) return {Health::kUnknown, "not a Kubernetes object"};
  std::string_view kind = stringAt(object, {"kind"});
  std::string_view group = groupOf(stringAt(object, {"apiVersion"}));

  HealthResult result;
  if (genericRules(object, kind, &result)) return result;

  bool workloads = group == "apps" || group == "extensions";
  if (group.empty()) {
    if (kind == "Pod") return podHealth(object);
    if (kind == "PersistentVolumeClaim") return pvcHealth(object);
    if (kind == "Service") return serviceHealth(object);
    if (kind == "Namespace") return namespaceHealth(object);
    if (kind == "ConfigMap" || kind == "Secret") return current("Resource is always ready");
  } else if (workloads) {
    if (kind == "Deployment") return deploymentHealth(object);
    if (kind == "DaemonSet") return daemonSetHealth(object, kind);
    if (kind == "ReplicaSet") return replicaSetHealth(object);
    if (kind == "StatefulSet" && group == "apps") return statefulSetHealth(object);
  } else if (group == "batch") {
    if (kind == "Job") return jobHealth(object);
    if (kind == "CronJob") return current("Resource is always ready");
  } else if (group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition") {
    return crdHealth(object);
  } else if (group == "policy" && kind == "PodDisruptionBudget") {
    return current("AllowedDisruptions has been computed");
  }
  return genericHealth(object);
}

Health aggregate(const std::vector<HealthResult>& results) {
  auto rank = [](Health h) {
    switch (h) {
      case Health::kFailed:
        return 3;
      case Health::kInProgress:
      case Health::kTerminating:
        return 2;
      case Health::kUnknown:
        return 1;
      case Health::kCurrent:
        return 0;
    }
    return 1;
  };
  Health worst = Health::kCurrent;
  for (const HealthResult& r : results) {
    if (rank(r.health) > rank(worst)) worst = r.health;
  }
  return worst;
}

const char* healthName(Health health) {
  switch (health) {
    case Health::kCurrent:
      return "Current";
    case Health::kInProgress:
      return "InProgress";
    case Health::kFailed:
      return "Failed";
    case Health::kTerminating:
      return "Terminating";
    case Health::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

}  // namespace windlass::reconcile
