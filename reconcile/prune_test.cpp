#include "reconcile/prune.h"

#include <doctest/doctest.h>

#include "reconcile/apply.h"
#include "reconcile/plan.h"
#include "tests/support/fake_kube.h"
#include "tests/support/stage_fixtures.h"

namespace windlass::reconcile {

using testing::prodOptions;
using testing::render;
using testing::syncOnce;
namespace {

constexpr char kConfigA[] =
    R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}})";
constexpr char kConfigB[] =
    R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"},"data":{"x":"1"}})";
constexpr char kKept[] = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kept",
  "annotations":{"windlass.dev/prune":"disabled"}},"data":{"x":"1"}})";
constexpr char kWeb[] = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
  "spec":{"replicas":1}})";

}  // namespace

TEST_CASE("a stale member is pruned and a prune-disabled one kept") {
  FakeKube kube;
  syncOnce(kube, {kConfigA, kConfigB, kKept, kWeb});
  kube.resetCounts();
  JsonAllocator alloc;
  auto plan = makePlan(kube, render({kConfigA, kWeb}, alloc), prodOptions(), alloc);
  REQUIRE(plan);
  REQUIRE(plan->stale.size() == 2);
  CHECK(formatPlan(*plan) ==
        "- ConfigMap prod/b (to delete)\n"
        "  ConfigMap prod/kept is no longer rendered, but prune is disabled for it\n"
        "0 to create, 0 to update, 2 unchanged, 1 to delete, 1 kept (prune disabled)\n");
  SyncOutcome out = executePlan(kube, *plan, prodOptions(), alloc);
  CHECK(out.status.ok());
  REQUIRE(out.objects.size() == 4);
  CHECK(out.objects[2].name == "kept");
  CHECK(out.objects[2].action == ObjectAction::kPruneSkipped);
  CHECK(out.objects[3].name == "b");
  CHECK(out.objects[3].action == ObjectAction::kDelete);
  CHECK(out.objects[3].error == "");
  CHECK(kube.count("delete") == 1);
  CHECK(kube.object(Gvk{"", "v1", "ConfigMap"}, "prod", "b") == "");
  CHECK(kube.object(Gvk{"", "v1", "ConfigMap"}, "prod", "kept") != "");
}

TEST_CASE("prune deletes in reverse stage order, keeps going and reports the first failure") {
  FakeKube kube;
  syncOnce(kube, {kConfigA, kConfigB, kWeb});
  JsonAllocator alloc;
  auto plan = makePlan(kube, render({}, alloc), prodOptions(), alloc);
  REQUIRE(plan);
  REQUIRE(plan->stale.size() == 3);
  // b disappears meanwhile: already gone counts as deleted.
  REQUIRE(kube.remove(Gvk{"", "v1", "ConfigMap"}, "prod", "b").ok());
  kube.resetCounts();
  PruneResult pruned = prune(kube, plan->stale);
  CHECK(pruned.status.ok());
  REQUIRE(pruned.objects.size() == 3);
  // Deployments are applied after ConfigMaps, so deleted before them.
  CHECK(pruned.objects[0].kind == "Deployment");
  CHECK(pruned.objects[1].name == "b");
  CHECK(pruned.objects[2].name == "a");
  CHECK(pruned.objects[1].error == "");
  CHECK(kube.count("delete") == 3);
  CHECK(kube.requests()[0] ==
        "DELETE /apis/apps/v1/namespaces/prod/deployments/web?propagationPolicy=Background");
}

TEST_CASE("the mass-prune guard refuses before anything is written") {
  FakeKube kube;
  syncOnce(kube, {kConfigA, kConfigB, kWeb});
  kube.resetCounts();
  JsonAllocator alloc;
  SUBCASE("an empty render") {
    auto plan = makePlan(kube, render({}, alloc), prodOptions(), alloc);
    REQUIRE(plan);
    SyncOutcome out = executePlan(kube, *plan, prodOptions(), alloc);
    CHECK(out.reason == Reason::kPruneFailed);
    CHECK(out.status.code() == Code::kFailedPrecondition);
    CHECK(out.status.message() ==
          "refusing to prune all 3 objects of the inventory: the render is empty "
          "(pass --allow-mass-prune to do it)");
    CHECK(kube.writes() == 0);
  }
  SUBCASE("more than the share") {
    auto plan = makePlan(kube, render({kConfigA}, alloc), prodOptions(), alloc);
    REQUIRE(plan);
    CHECK(checkPruneGuard(*plan, prodOptions()).message() ==
          "refusing to prune 2 of 3 objects: more than 50% of the inventory "
          "(pass --allow-mass-prune to do it)");
    SyncOptions allow = prodOptions();
    allow.allowMassPrune = true;
    CHECK(checkPruneGuard(*plan, allow).ok());
    SyncOutcome out = executePlan(kube, *plan, prodOptions(), alloc);
    CHECK(out.reason == Reason::kPruneFailed);
    CHECK(kube.writes() == 0);
  }
}

}  // namespace windlass::reconcile
