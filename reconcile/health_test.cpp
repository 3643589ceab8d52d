#include "reconcile/health.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace windlass::reconcile {
namespace {

struct Case {
  const char* name;
  const char* json;  // the observed object
  Health health;
  const char* message;
};

// Parses each fixture and checks the verdict and its explanation word for word.
void run(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    CAPTURE(c.name);
    JsonDocument doc;
    doc.Parse(c.json);
    REQUIRE_MESSAGE(!doc.HasParseError(), "fixture is not JSON: " << c.name);
    HealthResult r = assessHealth(doc);
    CHECK(healthName(r.health) == std::string(healthName(c.health)));
    CHECK(r.message == c.message);
  }
}

TEST_CASE("generic rules: deletion, stale generation, Reconciling and Stalled decide first") {
  run({
      {"deletionTimestamp wins over a healthy status",
       R"({"apiVersion":"apps/v1","kind":"Deployment",
           "metadata":{"name":"web","generation":2,"deletionTimestamp":"2024-05-01T00:00:00Z"},
           "status":{"observedGeneration":2,"conditions":[{"type":"Stalled","status":"True"}]}})",
       Health::kTerminating, "Resource scheduled for deletion"},
      {"observedGeneration behind generation",
       R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"generation":3},
           "spec":{"replicas":1},
           "status":{"observedGeneration":2,"replicas":1,"updatedReplicas":1,"readyReplicas":1,
                     "availableReplicas":1,"conditions":[{"type":"Available","status":"True"}]}})",
       Health::kInProgress, "Deployment generation is 3, but latest observed generation is 2"},
      {"Reconciling=True on a custom resource",
       R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"generation":1},
           "status":{"observedGeneration":1,"conditions":[
             {"type":"Ready","status":"True"},
             {"type":"Reconciling","status":"True","reason":"Progressing","message":"scaling up"}]}})",
       Health::kInProgress, "Progressing: scaling up"},
      {"Stalled=True on a custom resource",
       R"({"apiVersion":"example.com/v1","kind":"Widget",
           "status":{"conditions":[{"type":"Stalled","status":"True","reason":"BadSpec"}]}})",
       Health::kFailed, "BadSpec"},
      {"Stalled=False is ignored",
       R"({"apiVersion":"example.com/v1","kind":"Widget",
           "status":{"conditions":[{"type":"Stalled","status":"False","reason":"BadSpec"}]}})",
       Health::kCurrent, "Resource is current"},
      {"a generation without observedGeneration is not stale",
       R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"generation":7}})",
       Health::kCurrent, "Resource is current"},
      {"not an object", R"(["a"])", Health::kUnknown, "not a Kubernetes object"},
  });
}

TEST_CASE("generic rules: the Ready condition of other kinds") {
  run({
      {"Ready=True",
       R"({"apiVersion":"cert-manager.io/v1","kind":"Certificate","status":{"conditions":[
           {"type":"Ready","status":"True","reason":"Ready","message":"Certificate is up to date"}]}})",
       Health::kCurrent, "Ready: Certificate is up to date"},
      {"Ready=False",
       R"({"apiVersion":"cert-manager.io/v1","kind":"Certificate","status":{"conditions":[
           {"type":"Ready","status":"False","reason":"Issuing"}]}})",
       Health::kInProgress, "Issuing"},
      {"Ready=Unknown with no reason",
       R"({"apiVersion":"cert-manager.io/v1","kind":"Certificate","status":{"conditions":[
           {"type":"Ready","status":"Unknown"}]}})",
       Health::kInProgress, "Not ready"},
      {"malformed conditions are ignored",
       R"({"apiVersion":"example.com/v1","kind":"Widget","status":{"conditions":[
           "Ready", {"status":"False"}, {"type":5}]}})",
       Health::kCurrent, "Resource is current"},
  });
}

TEST_CASE("objects without status are Current") {
  run({
      {"ConfigMap", R"({"apiVersion":"v1","kind":"ConfigMap","data":{"a":"b"}})", Health::kCurrent,
       "Resource is always ready"},
      {"Secret", R"({"apiVersion":"v1","kind":"Secret"})", Health::kCurrent,
       "Resource is always ready"},
      {"ServiceAccount", R"({"apiVersion":"v1","kind":"ServiceAccount"})", Health::kCurrent,
       "Resource is current"},
      {"ClusterRole", R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole"})",
       Health::kCurrent, "Resource is current"},
      {"CronJob", R"({"apiVersion":"batch/v1","kind":"CronJob"})", Health::kCurrent,
       "Resource is always ready"},
  });
}

// A Deployment of `spec` replicas with the given status counts and conditions.
TEST_CASE("Deployment") {
  run({
      {"healthy",
       R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"generation":1},
           "spec":{"replicas":3,"progressDeadlineSeconds":600},
           "status":{"observedGeneration":1,"replicas":3,"updatedReplicas":3,"readyReplicas":3,
             "availableReplicas":3,"conditions":[
               {"type":"Available","status":"True","reason":"MinimumReplicasAvailable"},
               {"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}]}})",
       Health::kCurrent, "Deployment is available. Replicas: 3"},
      {"progress deadline exceeded",
       R"({"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":2},
           "status":{"replicas":2,"updatedReplicas":2,"unavailableReplicas":2,"conditions":[
             {"type":"Available","status":"False","reason":"MinimumReplicasUnavailable"},
             {"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded",
              "message":"ReplicaSet \"web-5d\" has timed out progressing."}]}})",
       Health::kFailed,
       "ProgressDeadlineExceeded: ReplicaSet \"web-5d\" has timed out progressing."},
      {"too few replicas (spec.replicas defaults to 1)",
       R"({"apiVersion":"apps/v1","kind":"Deployment","status":{}})", Health::kInProgress,
       "Replicas: 0/1"},
      {"too few updated",
       R"({"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":3},
           "status":{"replicas":3,"updatedReplicas":1}})",
       Health::kInProgress, "Updated: 1/3"},
      {"old pods still terminating",
       R"({"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":2},
           "status":{"replicas":3,"updatedReplicas":2}})",
       Health::kInProgress, "Pending termination: 1"},
      {"updated but not available",
       R"({"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":2},
           "status":{"replicas":2,"updatedReplicas":2,"availableReplicas":1,"readyReplicas":2}})",
       Health::kInProgress, "Available: 1/2"},
      {"available but not ready",
       R"({"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":2},
           "status":{"replicas":2,"updatedReplicas":2,"availableReplicas":2,"readyReplicas":1}})",
       Health::kInProgress, "Ready: 1/2"},
      {"progress deadline set, new ReplicaSet not yet reported available",
       R"({"apiVersion":"apps/v1","kind":"Deployment",
           "spec":{"replicas":1,"progressDeadlineSeconds":600},
           "status":{"replicas":1,"updatedReplicas":1,"availableReplicas":1,"readyReplicas":1,
             "conditions":[{"type":"Available","status":"True"},
                           {"type":"Progressing","status":"True","reason":"ReplicaSetUpdated"}]}})",
       Health::kInProgress, "ReplicaSet not Available"},
      {"counts fine but Available is False",
       R"({"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":1},
           "status":{"replicas":1,"updatedReplicas":1,"availableReplicas":1,"readyReplicas":1,
             "conditions":[{"type":"Available","status":"False"}]}})",
       Health::kInProgress, "Deployment does not have minimum availability"},
      {"scaled to zero",
       R"({"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":0},
           "status":{"conditions":[{"type":"Available","status":"True"}]}})",
       Health::kCurrent, "Deployment is available. Replicas: 0"},
      {"legacy extensions group follows the same rules",
       R"({"apiVersion":"extensions/v1beta1","kind":"Deployment","spec":{"replicas":4},
           "status":{"replicas":2}})",
       Health::kInProgress, "Replicas: 2/4"},
      {"a Deployment of another group is a custom resource",
       R"({"apiVersion":"example.com/v1","kind":"Deployment","spec":{"replicas":4}})",
       Health::kCurrent, "Resource is current"},
  });
}

TEST_CASE("StatefulSet") {
  run({
      {"healthy",
       R"({"apiVersion":"apps/v1","kind":"StatefulSet","spec":{"replicas":2},
           "status":{"replicas":2,"readyReplicas":2,"currentReplicas":2,"updatedReplicas":2,
             "currentRevision":"db-1","updateRevision":"db-1"}})",
       Health::kCurrent, "All replicas scheduled as expected. Replicas: 2"},
      {"revision rolling",
       R"({"apiVersion":"apps/v1","kind":"StatefulSet","spec":{"replicas":2},
           "status":{"replicas":2,"readyReplicas":2,"currentReplicas":2,"updatedReplicas":1,
             "currentRevision":"db-1","updateRevision":"db-2"}})",
       Health::kInProgress, "Waiting for the current revision to match the update revision"},
      {"too few ready",
       R"({"apiVersion":"apps/v1","kind":"StatefulSet","spec":{"replicas":3},
           "status":{"replicas":3,"readyReplicas":1}})",
       Health::kInProgress, "Ready: 1/3"},
      {"too few replicas",
       R"({"apiVersion":"apps/v1","kind":"StatefulSet","spec":{"replicas":3},
           "status":{"replicas":1}})",
       Health::kInProgress, "Replicas: 1/3"},
      {"surplus pods",
       R"({"apiVersion":"apps/v1","kind":"StatefulSet","spec":{"replicas":1},
           "status":{"replicas":2,"readyReplicas":2}})",
       Health::kInProgress, "Pending termination: 1"},
      {"too few current",
       R"({"apiVersion":"apps/v1","kind":"StatefulSet","spec":{"replicas":2},
           "status":{"replicas":2,"readyReplicas":2,"currentReplicas":1}})",
       Health::kInProgress, "Current: 1/2"},
      {"partition not yet rolled out",
       R"({"apiVersion":"apps/v1","kind":"StatefulSet",
           "spec":{"replicas":4,"updateStrategy":{"type":"RollingUpdate",
                   "rollingUpdate":{"partition":2}}},
           "status":{"replicas":4,"readyReplicas":4,"updatedReplicas":1,
                     "currentRevision":"a","updateRevision":"b"}})",
       Health::kInProgress, "Partition rollout, updated: 1/2"},
      {"partition rolled out (revisions may differ)",
       R"({"apiVersion":"apps/v1","kind":"StatefulSet",
           "spec":{"replicas":4,"updateStrategy":{"rollingUpdate":{"partition":2}}},
           "status":{"replicas":4,"readyReplicas":4,"updatedReplicas":2,
                     "currentRevision":"a","updateRevision":"b"}})",
       Health::kCurrent, "Partition rollout complete. Updated: 2"},
      {"OnDelete",
       R"({"apiVersion":"apps/v1","kind":"StatefulSet",
           "spec":{"replicas":4,"updateStrategy":{"type":"OnDelete"}},"status":{}})",
       Health::kCurrent, "StatefulSet is using the OnDelete update strategy"},
  });
}

TEST_CASE("DaemonSet") {
  run({
      {"healthy",
       R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"generation":2},
           "status":{"observedGeneration":2,"desiredNumberScheduled":3,
             "currentNumberScheduled":3,"updatedNumberScheduled":3,"numberAvailable":3,
             "numberReady":3}})",
       Health::kCurrent, "All replicas scheduled as expected. Replicas: 3"},
      {"no observedGeneration yet",
       R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"generation":1},"status":{}})",
       Health::kInProgress, "DaemonSet status.observedGeneration not found"},
      {"no generation",
       R"({"apiVersion":"apps/v1","kind":"DaemonSet","status":{"observedGeneration":1}})",
       Health::kInProgress, "DaemonSet metadata.generation not found"},
      {"no desired number",
       R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"generation":1},
           "status":{"observedGeneration":1}})",
       Health::kInProgress, "Missing status.desiredNumberScheduled"},
      {"not all scheduled",
       R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"generation":1},
           "status":{"observedGeneration":1,"desiredNumberScheduled":3,
             "currentNumberScheduled":2}})",
       Health::kInProgress, "Current: 2/3"},
      {"not all updated",
       R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"generation":1},
           "status":{"observedGeneration":1,"desiredNumberScheduled":3,
             "currentNumberScheduled":3,"updatedNumberScheduled":1}})",
       Health::kInProgress, "Updated: 1/3"},
      {"not all available",
       R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"generation":1},
           "status":{"observedGeneration":1,"desiredNumberScheduled":3,
             "currentNumberScheduled":3,"updatedNumberScheduled":3,"numberAvailable":2,
             "numberReady":3}})",
       Health::kInProgress, "Available: 2/3"},
      {"not all ready",
       R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"generation":1},
           "status":{"observedGeneration":1,"desiredNumberScheduled":3,
             "currentNumberScheduled":3,"updatedNumberScheduled":3,"numberAvailable":3,
             "numberReady":0}})",
       Health::kInProgress, "Ready: 0/3"},
  });
}

TEST_CASE("ReplicaSet") {
  run({
      {"healthy",
       R"({"apiVersion":"apps/v1","kind":"ReplicaSet","spec":{"replicas":2},
           "status":{"replicas":2,"fullyLabeledReplicas":2,"availableReplicas":2,
                     "readyReplicas":2}})",
       Health::kCurrent, "ReplicaSet is available. Replicas: 2"},
      {"replica failure",
       R"({"apiVersion":"apps/v1","kind":"ReplicaSet","spec":{"replicas":2},
           "status":{"conditions":[{"type":"ReplicaFailure","status":"True",
             "reason":"FailedCreate","message":"pods \"web-x\" is forbidden: quota"}]}})",
       Health::kInProgress, "FailedCreate: pods \"web-x\" is forbidden: quota"},
      {"not labelled",
       R"({"apiVersion":"apps/v1","kind":"ReplicaSet","spec":{"replicas":2},
           "status":{"replicas":2,"fullyLabeledReplicas":1}})",
       Health::kInProgress, "Labelled: 1/2"},
      {"not available",
       R"({"apiVersion":"apps/v1","kind":"ReplicaSet","spec":{"replicas":2},
           "status":{"replicas":2,"fullyLabeledReplicas":2,"availableReplicas":1}})",
       Health::kInProgress, "Available: 1/2"},
      {"not ready",
       R"({"apiVersion":"apps/v1","kind":"ReplicaSet","spec":{"replicas":2},
           "status":{"replicas":2,"fullyLabeledReplicas":2,"availableReplicas":2,
                     "readyReplicas":1}})",
       Health::kInProgress, "Ready: 1/2"},
      {"surplus",
       R"({"apiVersion":"apps/v1","kind":"ReplicaSet","spec":{"replicas":1},
           "status":{"replicas":3,"fullyLabeledReplicas":3,"availableReplicas":3,
                     "readyReplicas":3}})",
       Health::kInProgress, "Pending termination: 2"},
  });
}

TEST_CASE("Job") {
  run({
      {"complete",
       R"({"apiVersion":"batch/v1","kind":"Job","spec":{"completions":2},
           "status":{"succeeded":2,"startTime":"t","conditions":[
             {"type":"Complete","status":"True"}]}})",
       Health::kCurrent, "Job completed. Succeeded: 2/2"},
      {"failed",
       R"({"apiVersion":"batch/v1","kind":"Job",
           "status":{"failed":6,"startTime":"t","conditions":[{"type":"Failed","status":"True",
             "reason":"BackoffLimitExceeded","message":"Job has reached the specified backoff limit"}]}})",
       Health::kFailed,
       "BackoffLimitExceeded: Job has reached the specified backoff limit (failed pods: 6)"},
      {"running",
       R"({"apiVersion":"batch/v1","kind":"Job",
           "status":{"active":1,"succeeded":0,"startTime":"t"}})",
       Health::kInProgress, "Job in progress. Succeeded: 0, active: 1, failed: 0"},
      {"not started", R"({"apiVersion":"batch/v1","kind":"Job","status":{}})", Health::kInProgress,
       "Job not started"},
      {"suspended",
       R"({"apiVersion":"batch/v1","kind":"Job","status":{"conditions":[
           {"type":"Complete","status":"False"},{"type":"Suspended","status":"True"}]}})",
       Health::kCurrent, "Job is suspended"},
  });
}

TEST_CASE("Pod") {
  run({
      {"running and ready",
       R"({"apiVersion":"v1","kind":"Pod","status":{"phase":"Running","conditions":[
           {"type":"Ready","status":"True"}]}})",
       Health::kCurrent, "Pod is Ready"},
      {"succeeded", R"({"apiVersion":"v1","kind":"Pod","status":{"phase":"Succeeded"}})",
       Health::kCurrent, "Pod has completed successfully"},
      {"failed",
       R"({"apiVersion":"v1","kind":"Pod","status":{"phase":"Failed","reason":"Evicted",
           "message":"The node was low on resource: memory."}})",
       Health::kFailed, "Pod has failed: Evicted The node was low on resource: memory."},
      {"crash looping",
       R"({"apiVersion":"v1","kind":"Pod","status":{"phase":"Running",
           "conditions":[{"type":"Ready","status":"False"}],"containerStatuses":[
             {"name":"app","state":{"waiting":{"reason":"CrashLoopBackOff"}}},
             {"name":"sidecar","state":{"running":{}}},
             {"name":"init","state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}})",
       Health::kFailed, "Containers in CrashLoopBackOff: app,init"},
      {"running, not ready",
       R"({"apiVersion":"v1","kind":"Pod","status":{"phase":"Running","containerStatuses":[
           {"name":"app","state":{"waiting":{"reason":"ContainerCreating"}}}]}})",
       Health::kInProgress, "Pod is running but is not Ready"},
      {"unschedulable",
       R"({"apiVersion":"v1","kind":"Pod","status":{"phase":"Pending","conditions":[
           {"type":"PodScheduled","status":"False","reason":"Unschedulable",
            "message":"0/3 nodes are available"}]}})",
       Health::kFailed, "Unschedulable: 0/3 nodes are available"},
      {"pending", R"({"apiVersion":"v1","kind":"Pod","status":{"phase":"Pending"}})",
       Health::kInProgress, "Pod is in the Pending phase"},
      {"not observed", R"({"apiVersion":"v1","kind":"Pod"})", Health::kInProgress,
       "Pod phase not available"},
      {"unknown phase", R"({"apiVersion":"v1","kind":"Pod","status":{"phase":"Weird"}})",
       Health::kUnknown, "Pod has an unknown phase Weird"},
  });
}

TEST_CASE("PersistentVolumeClaim") {
  run({
      {"bound", R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","status":{"phase":"Bound"}})",
       Health::kCurrent, "PVC is Bound"},
      {"pending",
       R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","status":{"phase":"Pending"}})",
       Health::kInProgress, "PVC is not Bound. Phase: Pending"},
      {"no status", R"({"apiVersion":"v1","kind":"PersistentVolumeClaim"})", Health::kInProgress,
       "PVC is not Bound. Phase: unknown"},
      {"lost", R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","status":{"phase":"Lost"}})",
       Health::kFailed, "PVC has lost its volume (phase Lost)"},
  });
}

TEST_CASE("Service") {
  run({
      {"ClusterIP", R"({"apiVersion":"v1","kind":"Service","spec":{"clusterIP":"10.0.0.1"}})",
       Health::kCurrent, "Service is ready"},
      {"LoadBalancer with an address",
       R"({"apiVersion":"v1","kind":"Service","spec":{"type":"LoadBalancer","clusterIP":"10.0.0.1"},
           "status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.7"}]}}})",
       Health::kCurrent, "Service is ready. Load balancer: 203.0.113.7"},
      {"LoadBalancer with a hostname",
       R"({"apiVersion":"v1","kind":"Service","spec":{"type":"LoadBalancer","clusterIP":"10.0.0.1"},
           "status":{"loadBalancer":{"ingress":[{},{"hostname":"lb.example.com"}]}}})",
       Health::kCurrent, "Service is ready. Load balancer: lb.example.com"},
      {"LoadBalancer waiting for an address",
       R"({"apiVersion":"v1","kind":"Service","spec":{"type":"LoadBalancer","clusterIP":"10.0.0.1"},
           "status":{"loadBalancer":{}}})",
       Health::kInProgress, "Load balancer address not assigned yet. Service type: LoadBalancer"},
      {"LoadBalancer without a cluster IP",
       R"({"apiVersion":"v1","kind":"Service","spec":{"type":"LoadBalancer"}})",
       Health::kInProgress, "ClusterIP not set. Service type: LoadBalancer"},
  });
}

TEST_CASE("Ingress is Current, as in kstatus") {
  run({
      {"without an address",
       R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress","status":{"loadBalancer":{}}})",
       Health::kCurrent, "Resource is current"},
      {"with an address",
       R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
           "status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}})",
       Health::kCurrent, "Resource is current"},
      {"being deleted",
       R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
           "metadata":{"deletionTimestamp":"2024-05-01T00:00:00Z"}})",
       Health::kTerminating, "Resource scheduled for deletion"},
  });
}

TEST_CASE("CustomResourceDefinition") {
  run({
      {"established",
       R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
           "status":{"conditions":[{"type":"NamesAccepted","status":"True"},
                                   {"type":"Established","status":"True"}]}})",
       Health::kCurrent, "CRD is established"},
      {"names not accepted",
       R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
           "status":{"conditions":[{"type":"NamesAccepted","status":"False",
             "reason":"MultipleNamesConflict","message":"\"widgets\" is already in use"},
             {"type":"Established","status":"False","reason":"NotAccepted"}]}})",
       Health::kFailed, "MultipleNamesConflict: \"widgets\" is already in use"},
      {"installing",
       R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
           "status":{"conditions":[{"type":"Established","status":"False",
             "reason":"Installing"}]}})",
       Health::kInProgress, "Install in progress"},
      {"not established for another reason",
       R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
           "status":{"conditions":[{"type":"Established","status":"False",
             "reason":"NotAccepted","message":"not all names are accepted"}]}})",
       Health::kFailed, "NotAccepted: not all names are accepted"},
      {"no status yet",
       R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition"})",
       Health::kInProgress, "Install in progress"},
  });
}

TEST_CASE("Namespace") {
  run({
      {"active", R"({"apiVersion":"v1","kind":"Namespace","status":{"phase":"Active"}})",
       Health::kCurrent, "Namespace is active"},
      {"terminating", R"({"apiVersion":"v1","kind":"Namespace","status":{"phase":"Terminating"}})",
       Health::kTerminating, "Namespace is terminating"},
      {"no status", R"({"apiVersion":"v1","kind":"Namespace"})", Health::kCurrent,
       "Namespace is active"},
  });
}

TEST_CASE("aggregate: the worst wins") {
  auto of = [](std::vector<Health> hs) {
    std::vector<HealthResult> rs;
    for (Health h : hs) rs.push_back({h, ""});
    return aggregate(rs);
  };
  CHECK(of({}) == Health::kCurrent);
  CHECK(of({Health::kCurrent, Health::kCurrent}) == Health::kCurrent);
  CHECK(of({Health::kCurrent, Health::kUnknown}) == Health::kUnknown);
  CHECK(of({Health::kUnknown, Health::kInProgress}) == Health::kInProgress);
  CHECK(of({Health::kTerminating, Health::kUnknown}) == Health::kTerminating);
  CHECK(of({Health::kTerminating, Health::kInProgress}) == Health::kTerminating);
  CHECK(of({Health::kInProgress, Health::kTerminating}) == Health::kInProgress);
  CHECK(of({Health::kInProgress, Health::kFailed, Health::kCurrent}) == Health::kFailed);
  CHECK(of({Health::kFailed, Health::kTerminating}) == Health::kFailed);
}

TEST_CASE("names") {
  CHECK(std::string(healthName(Health::kCurrent)) == "Current");
  CHECK(std::string(healthName(Health::kInProgress)) == "InProgress");
  CHECK(std::string(healthName(Health::kFailed)) == "Failed");
  CHECK(std::string(healthName(Health::kTerminating)) == "Terminating");
  CHECK(std::string(healthName(Health::kUnknown)) == "Unknown");
}

}  // namespace
}  // namespace windlass::reconcile
