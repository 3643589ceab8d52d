#include "reconcile/inventory.h"

#include <doctest/doctest.h>

#include "overlays/resource.h"

namespace windlass::reconcile {
namespace {

JsonDocument parse(const char* json) {
  JsonDocument d;
  d.Parse(json);
  REQUIRE(!d.HasParseError());
  return d;
}

}  // namespace

TEST_CASE("applySetId follows KEP-3659") {
  std::string id = applySetId("windlass-prod", "orders", "Secret", "");
  CHECK(id.rfind("applyset-", 0) == 0);
  CHECK(id.size() == std::string("applyset-").size() + 43 + 3);  // 32 bytes unpadded base64url
  CHECK(id.substr(id.size() - 3) == "-v1");
  CHECK(id.find_first_of("+/=") == std::string::npos);
  CHECK(id != applySetId("windlass-prod", "other", "Secret", ""));
}

TEST_CASE("the parent lists group-kinds and other namespaces, members get the label") {
  JsonAllocator alloc;
  JsonDocument dep = parse(
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"orders"}})");
  JsonDocument cm = parse(
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"shared"}})");
  JsonDocument role = parse(
      R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"r"}})");
  JsonValue parent = makeParent("windlass-prod", "orders", {&dep, &cm, &role}, alloc);
  const JsonValue& ann =
      *overlays::findMember(*overlays::findMember(parent, "metadata"), "annotations");
  CHECK(overlays::stringField(ann, kApplySetGroupKindsAnnotation) ==
        "ClusterRole.rbac.authorization.k8s.io,ConfigMap,Deployment.apps");
  CHECK(overlays::stringField(ann, kApplySetNamespacesAnnotation) == "shared");
  JsonValue member(dep, alloc);
  labelMember(member, "applyset-x-v1", alloc);
  const JsonValue& labels =
      *overlays::findMember(*overlays::findMember(member, "metadata"), "labels");
  CHECK(overlays::stringField(labels, kApplySetPartOfLabel) == "applyset-x-v1");
}

TEST_CASE("prune opt-outs of windlass, Flux and Argo CD") {
  CHECK(pruneDisabled(parse(R"({"metadata":{"annotations":{"windlass.dev/prune":"disabled"}}})")));
  CHECK(pruneDisabled(
      parse(R"({"metadata":{"annotations":{"kustomize.toolkit.fluxcd.io/prune":"disabled"}}})")));
  CHECK(pruneDisabled(parse(
      R"({"metadata":{"annotations":{"argocd.argoproj.io/sync-options":"Prune=false,ServerSideApply=true"}}})")));
  CHECK(!pruneDisabled(parse(R"({"metadata":{"annotations":{"windlass.dev/prune":"enabled"}}})")));
  CHECK(!pruneDisabled(parse(R"({"metadata":{"name":"x"}})")));
}

TEST_CASE("mass prune is refused unless allowed") {
  CHECK(checkMassPrune(0, 10, 0, 0.5, false).ok());
  Status empty = checkMassPrune(10, 10, 0, 0.5, false);
  CHECK(empty.code() == Code::kFailedPrecondition);
  CHECK(empty.message() ==
        "refusing to prune all 10 objects of the inventory: the render is empty "
        "(pass --allow-mass-prune to do it)");
  CHECK(checkMassPrune(6, 10, 4, 0.5, false).message() ==
        "refusing to prune 6 of 10 objects: more than 50% of the inventory (pass "
        "--allow-mass-prune to do it)");
  CHECK(checkMassPrune(5, 10, 5, 0.5, false).ok());
  CHECK(checkMassPrune(10, 10, 0, 0.5, true).ok());
}

}  // namespace windlass::reconcile
