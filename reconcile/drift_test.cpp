#include "reconcile/drift.h"

#include <doctest/doctest.h>

namespace windlass::reconcile {
namespace {

JsonDocument parse(const char* json) {
  JsonDocument d;
  d.Parse(json);
  REQUIRE(!d.HasParseError());
  return d;
}

const char* kDesired = R"({"apiVersion":"apps/v1","kind":"Deployment",
  "metadata":{"name":"web","namespace":"n","labels":{"applyset.kubernetes.io/part-of":"x"}},
  "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"web","image":"w:1"}]}}}})";

}  // namespace

TEST_CASE("an object with server defaults, status and other managers' fields conforms") {
  JsonDocument desired = parse(kDesired);
  JsonDocument live = parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","namespace":"n","uid":"u","resourceVersion":"9",
      "labels":{"applyset.kubernetes.io/part-of":"x","team":"a"},
      "annotations":{"deployment.kubernetes.io/revision":"1"}},
    "spec":{"replicas":2.0,"strategy":{"type":"RollingUpdate"},"template":{"spec":{
      "containers":[{"name":"web","image":"w:1","imagePullPolicy":"IfNotPresent"}]}}},
    "status":{"readyReplicas":2}})");
  CHECK(conforms(desired, live));
}

TEST_CASE("a changed, removed or added list element is drift") {
  JsonDocument desired = parse(kDesired);
  JsonDocument edited = parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","namespace":"n","labels":{"applyset.kubernetes.io/part-of":"x"}},
    "spec":{"replicas":5,"template":{"spec":{"containers":[{"name":"web","image":"w:1"}]}}}})");
  CHECK_FALSE(conforms(desired, edited));
  JsonDocument image = parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","namespace":"n","labels":{"applyset.kubernetes.io/part-of":"x"}},
    "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"web","image":"w:2"}]}}}})");
  CHECK_FALSE(conforms(desired, image));
  JsonDocument sidecar = parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","namespace":"n","labels":{"applyset.kubernetes.io/part-of":"x"}},
    "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"web","image":"w:1"},
      {"name":"evil","image":"e:1"}]}}}})");
  CHECK_FALSE(conforms(desired, sidecar));
  JsonDocument unlabelled = parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","namespace":"n"},
    "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"web","image":"w:1"}]}}}})");
  CHECK_FALSE(conforms(desired, unlabelled));
}

TEST_CASE("a Secret's stringData is folded into data by the server and is not drift") {
  JsonDocument desired = parse(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},
    "stringData":{"a":"b"}})");
  JsonDocument live = parse(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},
    "data":{"a":"Yg=="}})");
  CHECK(conforms(desired, live));
}

TEST_CASE("quantities the server rewrote in canonical form are not drift") {
  JsonDocument desired = parse(R"({"kind":"Deployment","spec":{"template":{"spec":{"containers":[
    {"name":"a","resources":{"limits":{"cpu":"1000m","memory":"1024Mi"},"requests":{"cpu":0.5}}}]}}}})");
  JsonDocument live = parse(R"({"kind":"Deployment","spec":{"template":{"spec":{"containers":[
    {"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"500m"}}}]}}}})");
  CHECK(conforms(desired, live));
  JsonDocument raised = parse(R"({"kind":"Deployment","spec":{"template":{"spec":{"containers":[
    {"name":"a","resources":{"limits":{"cpu":"2","memory":"1Gi"},"requests":{"cpu":"500m"}}}]}}}})");
  CHECK_FALSE(conforms(desired, raised));
  CHECK(parseQuantity("1.5Gi") == 1.5L * 1073741824.0L);
  CHECK(parseQuantity("2e3") == 2000.0L);
  CHECK(parseQuantity("100n") == parseQuantity("0.0000001"));
  CHECK_FALSE(parseQuantity("1Xi").has_value());
  CHECK_FALSE(parseQuantity("Gi").has_value());
}

TEST_CASE("lastOtherManager names the newest writer that is not windlass") {
  JsonDocument live = parse(R"({"metadata":{"managedFields":[
    {"manager":"windlass","time":"2026-01-01T00:00:09Z"},
    {"manager":"kubectl-edit","time":"2026-01-01T00:00:05Z"},
    {"manager":"rogue-controller","time":"2026-01-01T00:00:07Z"}]}})");
  CHECK(lastOtherManager(live) == "rogue-controller");
  CHECK(lastOtherManager(parse(R"({"metadata":{}})")).empty());
}

}  // namespace windlass::reconcile
