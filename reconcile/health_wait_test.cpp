#include "reconcile/health_wait.h"

#include <doctest/doctest.h>

#include "core/cancel.h"
#include "reconcile/apply.h"
#include "reconcile/plan.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_kube.h"

namespace windlass::reconcile {
namespace {

constexpr char kConfigA[] =
    R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}})";
constexpr char kWeb[] = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
  "spec":{"replicas":2,"progressDeadlineSeconds":600}})";
constexpr char kAvailable[] = R"({"observedGeneration":1,"replicas":2,"updatedReplicas":2,
  "readyReplicas":2,"availableReplicas":2,"conditions":[
  {"type":"Available","status":"True"},
  {"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}]})";
constexpr char kDeadline[] = R"({"observedGeneration":1,"replicas":2,"updatedReplicas":1,
  "conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded",
  "message":"ReplicaSet \"web-5d\" has timed out progressing."}]})";

const Gvk kDeployment{"apps", "v1", "Deployment"};

SyncOptions prodOptions() {
  SyncOptions o;
  o.environment = "prod";
  o.targetNamespace = "prod";
  o.healthTimeout = std::chrono::milliseconds(0);
  o.pollInterval = std::chrono::milliseconds(1);
  return o;
}

// Applies ConfigMap a and Deployment web; the plan a health wait then watches.
Plan applied(FakeKube& kube, JsonAllocator& alloc) {
  std::vector<JsonValue> docs;
  docs.push_back(parseObject(kConfigA, alloc));
  docs.push_back(parseObject(kWeb, alloc));
  auto plan = makePlan(kube, std::move(docs), prodOptions(), alloc);
  REQUIRE(plan);
  SyncOutcome out = executePlan(kube, *plan, prodOptions(), alloc);
  REQUIRE(out.status.ok());
  kube.resetCounts();
  return std::move(*plan);
}

}  // namespace

TEST_CASE("waitHealthy: everything Current is Healthy, read with one LIST per kind") {
  FakeKube kube;
  JsonAllocator alloc;
  Plan plan = applied(kube, alloc);
  REQUIRE(kube.setStatus(kDeployment, "prod", "web", kAvailable).ok());
  HealthWaitResult r = waitHealthy(kube, plan, prodOptions());
  CHECK(r.status.ok());
  CHECK(r.health.status == HealthStatus::kHealthy);
  REQUIRE(r.health.objects.size() == 2);
  CHECK(r.health.objects[1].name == "web");
  CHECK(r.health.objects[1].message == "Deployment is available. Replicas: 2");
  CHECK(kube.count("list") == 2);
  CHECK(kube.count("get") == 0);
  CHECK(kube.writes() == 0);
}

TEST_CASE("waitHealthy: a Deployment past its progress deadline is Degraded") {
  FakeKube kube;
  JsonAllocator alloc;
  Plan plan = applied(kube, alloc);
  REQUIRE(kube.setStatus(kDeployment, "prod", "web", kDeadline).ok());
  SyncOptions options = prodOptions();
  options.healthTimeout = std::chrono::minutes(5);
  HealthWaitResult r = waitHealthy(kube, plan, options);
  CHECK(r.status.code() == Code::kFailedPrecondition);
  CHECK(r.status.message() ==
        "Degraded: apps/Deployment prod/web: ProgressDeadlineExceeded: "
        "ReplicaSet \"web-5d\" has timed out progressing.");
  CHECK(r.health.status == HealthStatus::kDegraded);
  CHECK(kube.count("list") == 2);  // one observation: no waiting for what cannot recover
}

TEST_CASE("waitHealthy: still progressing at the deadline times out naming what is not ready") {
  FakeKube kube;
  JsonAllocator alloc;
  Plan plan = applied(kube, alloc);  // the Deployment has no status: too few replicas
  SyncOptions options = prodOptions();
  options.healthTimeout = std::chrono::milliseconds(1);
  HealthWaitResult r = waitHealthy(kube, plan, options);
  CHECK(r.status.code() == Code::kDeadlineExceeded);
  CHECK(r.status.message() == "health check timed out after 0s: apps/Deployment prod/web: " +
                                  r.health.objects[1].message);
  CHECK(r.health.objects[1].message == "Replicas: 0/2");
  CHECK(r.health.status == HealthStatus::kProgressing);
}

TEST_CASE(
    "the health wait's deadline and pauses are the clock's: five minutes pass in no real time") {
  FakeKube kube;
  JsonAllocator alloc;
  Plan plan = applied(kube, alloc);  // never becomes available
  FakeClock clock;
  SyncOptions options = prodOptions();
  options.healthTimeout = std::chrono::minutes(5);
  options.pollInterval = std::chrono::seconds(5);
  options.clock = &clock;
  auto started = clock.now();
  auto realStart = std::chrono::steady_clock::now();
  HealthWaitResult r = waitHealthy(kube, plan, options);
  CHECK(r.status.code() == Code::kDeadlineExceeded);
  CHECK(r.status.message().rfind("health check timed out after 300s:", 0) == 0);
  // Observed at 0, 5, ..., 300 s and once past the deadline: 62 observations, 61 pauses.
  CHECK(clock.sleeps() == 61);
  CHECK(kube.count("list") == 62 * 2);  // two kinds per observation
  CHECK(clock.now() - started == std::chrono::seconds(305));
  CHECK(std::chrono::steady_clock::now() - realStart < std::chrono::seconds(5));
}

TEST_CASE("cancelling the health wait returns at once with Aborted") {
  FakeKube kube;
  JsonAllocator alloc;
  Plan plan = applied(kube, alloc);
  CancelToken cancel;
  SyncOptions options = prodOptions();
  options.healthTimeout = std::chrono::hours(1);
  options.pollInterval = std::chrono::hours(1);  // only the token can end this wait
  options.cancel = &cancel;
  kube.setOnRequest([&](const Request& r) {
    if (r.verb == "list") cancel.cancel();
  });
  HealthWaitResult r = waitHealthy(kube, plan, options);
  CHECK(r.status.code() == Code::kAborted);
  CHECK(r.status.message() == "interrupted while waiting for health");
  CHECK(kube.count("list") == 2);  // one observation, then the wait ended
}

TEST_CASE("observeHealth reads what the labelled LISTs miss with GETs") {
  FakeKube kube;
  JsonAllocator alloc;
  Plan plan = applied(kube, alloc);
  // An object the plan holds but that carries no ApplySet label in the cluster.
  REQUIRE(kube.seed(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s",
    "namespace":"prod"}})")
              .ok());
  PlannedObject s;
  s.desired = parseObject(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s",
    "namespace":"prod"}})",
                          alloc);
  s.subject = "Secret prod/s";
  plan.objects.push_back(std::move(s));
  PlannedObject gone;
  gone.desired = parseObject(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"gone",
    "namespace":"prod"}})",
                             alloc);
  gone.subject = "Secret prod/gone";
  plan.objects.push_back(std::move(gone));
  kube.resetCounts();
  std::vector<HealthResult> h = observeHealth(kube, plan.objects, plan.applySetId);
  REQUIRE(h.size() == 4);
  CHECK(h[2].health == Health::kCurrent);
  CHECK(h[3].health == Health::kUnknown);
  CHECK(h[3].message == "Secret prod/gone: get not found: secrets \"gone\" not found");
  CHECK(kube.count("list") == 3);
  CHECK(kube.count("get") == 2);
}

}  // namespace windlass::reconcile
