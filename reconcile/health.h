// Health of one observed Kubernetes object, after kstatus
// (sigs.k8s.io/cli-utils/pkg/kstatus/status), as a pure function of the object.
//
// assessHealth() reads the object as the API server returned it (metadata,
// spec and status) and decides, in this order:
//   1. metadata.deletionTimestamp set                      → Terminating
//   2. status.observedGeneration present and not equal to
//      metadata.generation (the controller has not seen
//      the latest spec yet)                                → InProgress
//   3. condition Reconciling=True                          → InProgress
//      condition Stalled=True                              → Failed
//   4. the kind's own rules (below), keyed by API group and kind
//   5. any other kind: condition Ready=True → Current, Ready=False or
//      Unknown → InProgress (kstatus itself ignores Ready; custom resources
//      that only report Ready are the reason windlass reads it; they fail only
//      through Stalled=True); no Ready condition → Current.
//
// The kinds with their own rules (apps and the legacy extensions group for the
// workloads) and where windlass deliberately differs from kstatus:
//   Deployment   Progressing reason ProgressDeadlineExceeded → Failed; too few
//                replicas / updated / available / ready, surplus pods still
//                terminating, or (with a progress deadline) the new ReplicaSet
//                not yet available → InProgress; Available=True → Current.
//   StatefulSet  OnDelete strategy → Current; replicas and ready short, surplus
//                pods → InProgress; with a partition, updatedReplicas must reach
//                replicas − partition; otherwise currentReplicas and
//                currentRevision == updateRevision.
//   DaemonSet    requires generation and observedGeneration; desired vs
//                current / updated / available / ready numbers.
//   ReplicaSet   ReplicaFailure=True → InProgress; labelled / available / ready
//                short, surplus pods → InProgress.
//   Job          Complete=True → Current; Failed=True → Failed; Suspended=True
//                → Current; otherwise InProgress (kstatus calls a started Job
//                Current; windlass waits for it to complete, as Argo CD does).
//   Pod          Succeeded → Current; Failed → Failed (kstatus: Current);
//                Running and Ready → Current; a container in CrashLoopBackOff →
//                Failed; PodScheduled=False reason Unschedulable → Failed
//                (kstatus waits 15 s; a pure function has no clock); other
//                states → InProgress; an unknown phase → Unknown.
//   PersistentVolumeClaim  phase Bound → Current; Lost → Failed (kstatus:
//                InProgress); else InProgress.
//   Service      type LoadBalancer needs a clusterIP and an address in
//                status.loadBalancer.ingress (kstatus checks only the
//                clusterIP); other types → Current.
//   CustomResourceDefinition  NamesAccepted=False → Failed; Established=True →
//                Current; Established=False with a reason other than Installing
//                → Failed; otherwise InProgress.
//   Namespace    phase Terminating → Terminating; else Current.
//   Ingress, ConfigMap, Secret, ServiceAccount, RBAC and every other kind
//                without a status → Current (as kstatus).
//
// A field of the wrong type counts as absent; a value that is not an object is
// Unknown. Never throws, never allocates into the object. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"

namespace windlass::reconcile {

enum class Health {
  kCurrent,      // healthy: the object is what its spec asks for
  kInProgress,   // still rolling out, or the controller has not caught up
  kFailed,       // degraded: will not get there without a change
  kTerminating,  // being deleted
  kUnknown,      // cannot be told from the object
};

struct HealthResult {
  Health health = Health::kUnknown;
  // Why, for people: "Deployment is available. Replicas: 3",
  // "ProgressDeadlineExceeded: ReplicaSet \"web-5d\" has timed out progressing."
  std::string message;
};

// Assesses one observed object (see the rules above). Pure: the result depends
// only on `object`.
HealthResult assessHealth(const JsonValue& object);

// The health of a set of objects: the worst one wins, Failed > InProgress and
// Terminating (the first of those two met) > Unknown > Current. An empty set is
// Current.
Health aggregate(const std::vector<HealthResult>& results);

// "Current", "InProgress", "Failed", "Terminating", "Unknown" (kstatus's
// names). Never null.
const char* healthName(Health health);

}  // namespace windlass::reconcile
