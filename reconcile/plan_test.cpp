#include "reconcile/plan.h"

#include <doctest/doctest.h>

namespace windlass::reconcile {
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
  CHECK(unifiedDiff("", "x\n", "live", "desired") == "--- live\n+++ desired\n@@ -0,0 +1,1 @@\n+x\n");
  // Two changes far apart make two hunks.
  std::string c = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
  std::string d = "X\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\nY\n";
  std::string diff = unifiedDiff(c, d, "a", "b");
  CHECK(diff == "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-1\n+X\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+Y\n");
}

TEST_CASE("applyStages puts namespaces and CRDs first, then waves, cluster-scoped first") {
  JsonDocument dep = parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"app"}})");
  JsonDocument ns = parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"app"}})");
  JsonDocument crd = parse(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"x.example.com"}})");
  JsonDocument cr = parse(R"({"apiVersion":"example.com/v1","kind":"X","metadata":{"name":"x","namespace":"app"}})");
  JsonDocument role = parse(R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"r"}})");
  JsonDocument late = parse(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"migrate","namespace":"app",
    "annotations":{"argocd.argoproj.io/sync-wave":"5"}}})");
  JsonDocument early = parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"app",
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
  CHECK(diff.find("user: '***'") != std::string::npos);       // unchanged key: context only
  CHECK(diff.find("+  user") == std::string::npos);
  // A new Secret prints every value masked.
  std::string created = objectDiff(nullptr, rotated, "Secret n/db", alloc);
  CHECK(created.find("bmV3") == std::string::npos);
  CHECK(created.find("+  password: '***'") != std::string::npos);
  // The inputs are left as they were.
  CHECK(std::string(live["data"]["password"].GetString()) == "b2xk");
}

}  // namespace windlass::reconcile
