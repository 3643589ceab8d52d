#include "reconcile/plan.h"

#include <doctest/doctest.h>

#include "reconcile/apply.h"
#include "tests/support/fake_kube.h"
#include "tests/support/stage_fixtures.h"

namespace windlass::reconcile {

using testing::prodOptions;
using testing::render;
using testing::syncOnce;
namespace {

JsonDocument parse(const char* json) {
  JsonDocument d;
  d.Parse(json);
  REQUIRE(!d.HasParseError());
  return d;
}

}  // namespace

TEST_CASE("classify ignores what the server owns") {
  JsonDocument live = parse(R"({"apiVersion":"v1","kind":"ConfigMap",
    "metadata":{"name":"a","namespace":"n","uid":"u1","resourceVersion":"7",
    "creationTimestamp":"2026-01-01T00:00:00Z","managedFields":[{"manager":"windlass"}]},
    "data":{"k":"v"}})");
  JsonDocument same = parse(R"({"apiVersion":"v1","kind":"ConfigMap",
    "metadata":{"name":"a","namespace":"n","uid":"u1","resourceVersion":"8"},"data":{"k":"v"}})");
  JsonDocument changed = parse(R"({"apiVersion":"v1","kind":"ConfigMap",
    "metadata":{"name":"a","namespace":"n"},"data":{"k":"w"}})");
  JsonAllocator alloc;
  CHECK(classify(&live, same, alloc) == ObjectAction::kUnchanged);
  CHECK(classify(&live, changed, alloc) == ObjectAction::kUpdate);
  CHECK(classify(nullptr, same, alloc) == ObjectAction::kCreate);
  CHECK(std::string(actionName(ObjectAction::kUpdate)) == "update");
}

TEST_CASE("unifiedDiff shows changed lines with context and hunk headers") {
  std::string a = "a\nb\nc\nd\ne\nf\ng\nh\ni\n";
  std::string b = "a\nb\nc\nd\nE\nf\ng\nh\ni\n";
  CHECK(unifiedDiff(a, a, "live", "desired").empty());
  CHECK(unifiedDiff(a, b, "live", "desired") ==
        "--- live\n+++ desired\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n");
  CHECK(unifiedDiff("", "x\n", "live", "desired") ==
        "--- live\n+++ desired\n@@ -0,0 +1,1 @@\n+x\n");
  // Two changes far apart make two hunks.
  std::string c = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
  std::string d = "X\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\nY\n";
  std::string diff = unifiedDiff(c, d, "a", "b");
  CHECK(diff ==
        "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-1\n+X\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n "
        "11\n-12\n+Y\n");
}

TEST_CASE("applyStages puts namespaces and CRDs first, then waves, cluster-scoped first") {
  JsonDocument dep = parse(
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"app"}})");
  JsonDocument ns = parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app"}})");
  JsonDocument crd = parse(
      R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"x.example.com"}})");
  JsonDocument cr = parse(
      R"({"apiVersion":"example.com/v1","kind":"X","metadata":{"name":"x","namespace":"app"}})");
  JsonDocument role = parse(
      R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"r"}})");
  JsonDocument late =
      parse(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"migrate","namespace":"app",
    "annotations":{"argocd.argoproj.io/sync-wave":"5"}}})");
  JsonDocument early =
      parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"app",
    "annotations":{"windlass.dev/sync-wave":"-1"}}})");
  std::vector<const JsonValue*> objects = {&dep, &late, &cr, &ns, &early, &crd, &role};
  auto stages = applyStages(objects);
  REQUIRE(stages.size() == 4);
  CHECK(stages[0] == std::vector<size_t>{3, 5});     // Namespace, CRD
  CHECK(stages[1] == std::vector<size_t>{4});        // wave -1
  CHECK(stages[2] == std::vector<size_t>{6, 0, 2});  // wave 0: ClusterRole, Deployment, X
  CHECK(stages[3] == std::vector<size_t>{1});        // wave 5
  CHECK(syncWave(late) == 5);
  CHECK(syncWave(dep) == 0);
}

}  // namespace windlass::reconcile

namespace windlass::reconcile {

TEST_CASE("a Secret whose value changed is an update, and its diff shows no value") {
  JsonDocument live = parse(R"({"apiVersion":"v1","kind":"Secret",
    "metadata":{"name":"db","namespace":"n","resourceVersion":"3",
      "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"password\":\"b2xk\"}}"}},
    "data":{"password":"b2xk","user":"YWRh"}})");
  JsonDocument rotated = parse(R"({"apiVersion":"v1","kind":"Secret",
    "metadata":{"name":"db","namespace":"n",
      "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"password\":\"bmV3\"}}"}},
    "data":{"password":"bmV3","user":"YWRh"}})");
  JsonAllocator alloc;
  CHECK(classify(&live, rotated, alloc) == ObjectAction::kUpdate);
  CHECK(classify(&live, live, alloc) == ObjectAction::kUnchanged);
  std::string diff = objectDiff(&live, rotated, "Secret n/db", alloc);
  CHECK(diff.find("b2xk") == std::string::npos);
  CHECK(diff.find("bmV3") == std::string::npos);
  CHECK(diff.find("-  password: '*** (before)'") != std::string::npos);
  CHECK(diff.find("+  password: '*** (changed)'") != std::string::npos);
  CHECK(diff.find("user: '***'") != std::string::npos);  // unchanged key: context only
  CHECK(diff.find("+  user") == std::string::npos);
  // A new Secret prints every value masked.
  std::string created = objectDiff(nullptr, rotated, "Secret n/db", alloc);
  CHECK(created.find("bmV3") == std::string::npos);
  CHECK(created.find("+  password: '***'") != std::string::npos);
  // The inputs are left as they were.
  CHECK(std::string(live["data"]["password"].GetString()) == "b2xk");
}

// ---- makePlan against the in-memory API -------------------------------------------------

namespace {

constexpr char kConfigA[] =
    R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}})";
constexpr char kConfigB[] =
    R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"},"data":{"x":"1"}})";
constexpr char kWeb[] = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
  "spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"c","image":"web:1"}]}}}})";

}  // namespace

TEST_CASE("makePlan of an empty cluster creates every object and the namespace, writing nothing") {
  FakeKube kube;
  JsonAllocator alloc;
  auto plan = makePlan(kube, render({kConfigA, kWeb}, alloc), prodOptions(), alloc);
  REQUIRE(plan);
  CHECK(plan->createNamespace);
  CHECK(plan->targetNamespace == "prod");
  CHECK(plan->inventoryName == "windlass-prod");
  REQUIRE(plan->objects.size() == 2);
  for (const PlannedObject& p : plan->objects) {
    CHECK(p.action == ObjectAction::kCreate);
    CHECK(p.deferred);  // nothing can be dry-run in a namespace that does not exist
  }
  CHECK(plan->changes());
  CHECK(formatPlan(*plan) ==
        "+ Namespace prod (created)\n"
        "+ ConfigMap prod/a (created after its CustomResourceDefinition or namespace)\n"
        "+ apps/Deployment prod/web (created after its CustomResourceDefinition or namespace)\n"
        "2 to create, 0 to update, 0 unchanged, 0 to delete\n");
  CHECK(kube.writes() == 0);
  CHECK(kube.count("dryrun") == 0);
  CHECK(kube.requests() ==
        std::vector<std::string>{"GET /api/v1/namespaces/prod",
                                 "GET /api/v1/namespaces/prod/secrets/windlass-prod"});
}

TEST_CASE("a second plan after executing has no changes, no writes and no per-object GET") {
  FakeKube kube;
  syncOnce(kube, {kConfigA, kWeb});
  CHECK(kube.object(Gvk{"", "v1", "ConfigMap"}, "prod", "a") != "");
  CHECK(kube.object(Gvk{"apps", "v1", "Deployment"}, "prod", "web") != "");
  CHECK(kube.object(Gvk{"", "v1", "Secret"}, "prod", "windlass-prod") != "");
  kube.resetCounts();

  JsonAllocator alloc;
  auto plan = makePlan(kube, render({kConfigA, kWeb}, alloc), prodOptions(), alloc);
  REQUIRE(plan);
  CHECK_FALSE(plan->changes());
  CHECK_FALSE(plan->createNamespace);
  CHECK(plan->parentCurrent);
  CHECK(plan->inventorySize == 2);
  for (const PlannedObject& p : plan->objects) CHECK(p.action == ObjectAction::kUnchanged);
  CHECK(formatPlan(*plan) == "0 to create, 0 to update, 2 unchanged, 0 to delete\n");
  // The namespace and the inventory parent are read; the members come from one LIST per
  // kind; each object is dry-run; nothing is GET one by one and nothing is written.
  CHECK(kube.count("get") == 2);
  CHECK(kube.count("list") == 2);
  CHECK(kube.count("dryrun") == 2);
  CHECK(kube.writes() == 0);

  SyncOutcome out = executePlan(kube, *plan, prodOptions(), alloc);
  CHECK(out.status.ok());
  CHECK(out.objects.size() == 2);
  CHECK(kube.writes() == 0);
}

TEST_CASE("one changed field is one update with its diff") {
  FakeKube kube;
  syncOnce(kube, {kConfigA, kWeb});
  kube.resetCounts();
  JsonAllocator alloc;
  const char* changed =
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"w"}})";
  auto plan = makePlan(kube, render({changed, kWeb}, alloc), prodOptions(), alloc);
  REQUIRE(plan);
  REQUIRE(plan->objects.size() == 2);
  CHECK(plan->objects[0].action == ObjectAction::kUpdate);
  CHECK(plan->objects[0].diff.find("-  k: v\n+  k: w\n") != std::string::npos);
  CHECK(plan->objects[1].action == ObjectAction::kUnchanged);
  CHECK(formatPlan(*plan).find("0 to create, 1 to update, 1 unchanged, 0 to delete\n") !=
        std::string::npos);
  CHECK(kube.writes() == 0);

  SyncOutcome out = executePlan(kube, *plan, prodOptions(), alloc);
  CHECK(out.status.ok());
  CHECK(kube.count("apply") == 1);  // the ConfigMap alone; the parent is current
  CHECK(kube.object(Gvk{"", "v1", "ConfigMap"}, "prod", "a").find(R"("k":"w")") !=
        std::string::npos);
}

TEST_CASE("an object the server rejects fails the whole plan naming it, nothing written") {
  FakeKube kube;
  REQUIRE(kube.seed(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}})").ok());
  kube.failApply("ConfigMap prod/b", 422, "ConfigMap \"b\" is invalid: data.x: Invalid value");
  JsonAllocator alloc;
  auto plan = makePlan(kube, render({kConfigA, kConfigB, kWeb}, alloc), prodOptions(), alloc);
  REQUIRE_FALSE(plan);
  CHECK(plan.error().code() == Code::kInvalidArgument);
  CHECK(plan.error().message() ==
        "dry run failed for 1 object(s); nothing was applied:\n"
        "  ConfigMap prod/b: patch invalid: ConfigMap \"b\" is invalid: data.x: Invalid value");
  CHECK(kube.count("dryrun") == 3);
  CHECK(kube.writes() == 0);
  CHECK(kube.objectCount() == 1);  // the namespace
}

TEST_CASE("a conflict or an unavailable server on a dry run keeps its code") {
  FakeKube kube;
  REQUIRE(kube.seed(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}})").ok());
  JsonAllocator alloc;
  SUBCASE("409") {
    kube.failApply("ConfigMap prod/a", 409, "Operation cannot be fulfilled", true);
    auto plan = makePlan(kube, render({kConfigA, kWeb}, alloc), prodOptions(), alloc);
    REQUIRE_FALSE(plan);
    CHECK(plan.error().code() == Code::kConflict);
    CHECK(plan.error().message() ==
          "ConfigMap prod/a: patch conflict: Operation cannot be fulfilled");
  }
  SUBCASE("503") {
    kube.failApply("ConfigMap prod/a", 503, "etcd leader changed", true);
    auto plan = makePlan(kube, render({kConfigA, kWeb}, alloc), prodOptions(), alloc);
    REQUIRE_FALSE(plan);
    CHECK(plan.error().code() == Code::kUnavailable);
    CHECK(plan.error().message() ==
          "ConfigMap prod/a: patch server error (HTTP 503): etcd leader changed");
  }
  CHECK(kube.writes() == 0);
}

}  // namespace windlass::reconcile

namespace windlass::reconcile {

TEST_CASE("an immutable change fails with the way out; with force it is a replacement") {
  FakeKube kube;
  syncOnce(kube, {kConfigA, kWeb});
  kube.failApply("apps/Deployment prod/web", 422,
                 "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: "
                 "v1.LabelSelector{}: field is immutable",
                 /*dryRunOnly=*/true);
  JsonAllocator alloc;
  auto refused = makePlan(kube, render({kConfigA, kWeb}, alloc), prodOptions(), alloc);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message().find(
            "apps/Deployment prod/web: patch invalid: Deployment.apps \"web\" is invalid: "
            "spec.selector: Invalid value: v1.LabelSelector{}: field is immutable (set force: "
            "true on the environment, or annotate the object windlass.dev/force: enabled, to "
            "delete and recreate it)") != std::string::npos);

  SyncOptions force = prodOptions();
  force.force = true;
  kube.resetCounts();
  auto plan = makePlan(kube, render({kConfigA, kWeb}, alloc), force, alloc);
  REQUIRE(plan);
  CHECK(plan->objects[1].action == ObjectAction::kReplace);
  CHECK(formatPlan(*plan).find("0 to create, 0 to update, 1 unchanged, 0 to delete, 1 to "
                               "replace\n") != std::string::npos);
  SyncOutcome out = executePlan(kube, *plan, force, alloc);
  CHECK(out.status.ok());
  CHECK(kube.count("delete") == 1);
  CHECK(kube.count("apply") == 1);
  REQUIRE(out.objects.size() == 2);
  CHECK(out.objects[1].action == ObjectAction::kReplace);
}

}  // namespace windlass::reconcile
