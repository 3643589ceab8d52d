#include "reconcile/apply.h"

#include <doctest/doctest.h>

#include "core/cancel.h"
#include "reconcile/plan.h"
#include "tests/support/fake_kube.h"
#include "tests/support/stage_fixtures.h"

namespace windlass::reconcile {

using testing::prodOptions;
using testing::render;
using testing::syncOnce;
namespace {

constexpr char kNamespace[] =
    R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}})";
constexpr char kConfigA[] =
    R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}})";
// Wave 1: applied in a later stage than a.
constexpr char kConfigB[] = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b",
  "annotations":{"windlass.dev/sync-wave":"1"}},"data":{"x":"1"}})";

}  // namespace

TEST_CASE("executePlan of an empty cluster creates the namespace, the parent and every object") {
  FakeKube kube;
  JsonAllocator alloc;
  auto plan = makePlan(kube, render({kConfigA, kConfigB}, alloc), prodOptions(), alloc);
  REQUIRE(plan);
  kube.resetCounts();
  SyncOutcome out = executePlan(kube, *plan, prodOptions(), alloc);
  CHECK(out.status.ok());
  CHECK(out.reason == Reason::kSucceeded);
  REQUIRE(out.objects.size() == 2);
  CHECK(out.objects[0].name == "a");
  CHECK(out.objects[0].action == ObjectAction::kCreate);
  CHECK(out.objects[1].name == "b");
  // Namespace, parent (all kinds), the deferred dry runs, a, b, parent again: the parent
  // is written twice only because the plan said it was not current.
  CHECK(kube.count("dryrun") == 2);
  CHECK(kube.count("apply") == 5);
  CHECK(kube.object(Gvk{"", "v1", "Namespace"}, "", "prod") != "");
  CHECK(kube.object(Gvk{"", "v1", "ConfigMap"}, "prod", "b")
            .find(R"("applyset.kubernetes.io/part-of":"applyset-)") != std::string::npos);
}

TEST_CASE("executePlan cancelled mid-apply stops before the next stage and records what it did") {
  FakeKube kube;
  REQUIRE(kube.seed(kNamespace).ok());
  JsonAllocator alloc;
  auto plan = makePlan(kube, render({kConfigA, kConfigB}, alloc), prodOptions(), alloc);
  REQUIRE(plan);
  CancelToken cancel;
  SyncOptions options = prodOptions();
  options.cancel = &cancel;
  kube.setOnRequest([&](const Request& r) {
    if (r.method == "PATCH" && r.path.find("/configmaps/a?") != std::string::npos &&
        r.path.find("dryRun") == std::string::npos) {
      cancel.cancel();  // the stop arrives while the first stage is being applied
    }
  });
  SyncOutcome out = executePlan(kube, *plan, options, alloc);
  CHECK(out.status.code() == Code::kAborted);
  CHECK(out.status.message() == "interrupted: the agent is stopping");
  CHECK(out.reason == Reason::kApplyFailed);
  REQUIRE(out.objects.size() == 2);
  CHECK(out.objects[0].name == "a");
  CHECK(out.objects[0].error == "");
  CHECK(out.objects[1].name == "b");
  CHECK(out.objects[1].action == ObjectAction::kCreate);
  CHECK(out.objects[1].error == "not applied: the sync stopped earlier");
  CHECK(kube.object(Gvk{"", "v1", "ConfigMap"}, "prod", "a") != "");
  CHECK(kube.object(Gvk{"", "v1", "ConfigMap"}, "prod", "b") == "");
}

TEST_CASE("executePlan with a token cancelled before it starts applies no object") {
  FakeKube kube;
  REQUIRE(kube.seed(kNamespace).ok());
  JsonAllocator alloc;
  auto plan = makePlan(kube, render({kConfigA, kConfigB}, alloc), prodOptions(), alloc);
  REQUIRE(plan);
  CancelToken cancel;
  cancel.cancel();
  SyncOptions options = prodOptions();
  options.cancel = &cancel;
  kube.resetCounts();
  SyncOutcome out = executePlan(kube, *plan, options, alloc);
  CHECK(out.status.code() == Code::kAborted);
  CHECK(kube.count("apply") == 1);  // the inventory parent, written before the first stage
  REQUIRE(out.objects.size() == 2);
  for (const ObjectRecord& r : out.objects) {
    CHECK(r.error == "not applied: the sync stopped earlier");
  }
}

TEST_CASE("a failed apply stops the sync after its stage with the server's code") {
  FakeKube kube;
  REQUIRE(kube.seed(kNamespace).ok());
  JsonAllocator alloc;
  auto plan = makePlan(kube, render({kConfigA, kConfigB}, alloc), prodOptions(), alloc);
  REQUIRE(plan);
  kube.failApply("ConfigMap prod/a", 500, "etcdserver: request timed out");
  SyncOutcome out = executePlan(kube, *plan, prodOptions(), alloc);
  CHECK(out.reason == Reason::kApplyFailed);
  CHECK(out.status.code() == Code::kUnavailable);
  CHECK(out.status.message() ==
        "ConfigMap prod/a: patch server error (HTTP 500): etcdserver: request timed out");
  REQUIRE(out.objects.size() == 2);
  CHECK(out.objects[0].error == out.status.message());
  CHECK(out.objects[1].error == "not applied: the sync stopped earlier");
  CHECK(kube.object(Gvk{"", "v1", "ConfigMap"}, "prod", "b") == "");
}

}  // namespace windlass::reconcile
