#include "reconcile/inventory.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/base64.h"
#include "core/sha256.h"
#include "overlays/resource.h"

namespace windlass::reconcile {

using overlays::ensureObject;
using overlays::findMember;
using overlays::idOf;
using overlays::makeString;
using overlays::setMember;

std::string applySetId(std::string_view name, std::string_view ns, std::string_view kind,
                       std::string_view group) {
  std::string gknn = std::string(name) + "." + std::string(ns) + "." + std::string(kind) + "." +
                     std::string(group);
  Sha256Digest d = sha256(gknn);
  std::string raw(reinterpret_cast<const char*>(d.data()), d.size());
  return "applyset-" + base64UrlEncode(raw) + "-v1";
}

std::string groupKind(const JsonValue& object) {
  overlays::ResId id = idOf(object);
  return id.gvk.group.empty() ? id.gvk.kind : id.gvk.kind + "." + id.gvk.group;
}

void labelMember(JsonValue& object, const std::string& id, JsonAllocator& alloc) {
  JsonValue& labels = ensureObject(ensureObject(object, "metadata", alloc), "labels", alloc);
  setMember(labels, kApplySetPartOfLabel, makeString(id, alloc), alloc);
}

JsonValue makeParent(std::string_view name, std::string_view ns,
                     const std::vector<const JsonValue*>& members, JsonAllocator& alloc) {
  std::set<std::string> kinds, namespaces;
  for (const JsonValue* m : members) {
    kinds.insert(groupKind(*m));
    std::string_view mns = overlays::metadataField(*m, "namespace");
    if (!mns.empty() && mns != ns) namespaces.insert(std::string(mns));
  }
  auto join = [](const std::set<std::string>& s) {
    std::string out;
    for (const std::string& x : s) {
      if (!out.empty()) out += ',';
      out += x;
    }
    return out;
  };
  JsonValue parent(rapidjson::kObjectType);
  parent.AddMember("apiVersion", "v1", alloc);
  parent.AddMember("kind", "Secret", alloc);
  JsonValue& md = ensureObject(parent, "metadata", alloc);
  setMember(md, "name", makeString(name, alloc), alloc);
  setMember(md, "namespace", makeString(ns, alloc), alloc);
  JsonValue& labels = ensureObject(md, "labels", alloc);
  setMember(labels, kApplySetIdLabel, makeString(applySetId(name, ns, "Secret", ""), alloc), alloc);
  JsonValue& ann = ensureObject(md, "annotations", alloc);
  setMember(ann, kApplySetToolingAnnotation, makeString("windlass/v0.1.0", alloc), alloc);
  setMember(ann, kApplySetGroupKindsAnnotation, makeString(join(kinds), alloc), alloc);
  if (!namespaces.empty()) {
    setMember(ann, kApplySetNamespacesAnnotation, makeString(join(namespaces), alloc), alloc);
  }
  parent.AddMember("type", "windlass.dev/applyset", alloc);
  return parent;
}

bool pruneDisabled(const JsonValue& object) {
  const JsonValue* md = findMember(object, "metadata");
  const JsonValue* ann = md != nullptr ? findMember(*md, "annotations") : nullptr;
  if (ann == nullptr) return false;
  if (overlays::stringField(*ann, "windlass.dev/prune") == "disabled") return true;
  if (overlays::stringField(*ann, "kustomize.toolkit.fluxcd.io/prune") == "disabled") return true;
  std::string_view argo = overlays::stringField(*ann, "argocd.argoproj.io/sync-options");
  return argo.find("Prune=false") != std::string_view::npos;
}

Status checkMassPrune(size_t stale, size_t inventory, size_t rendered, double maxShare,
                      bool allowMassPrune) {
  if (allowMassPrune || stale == 0) return {};
  if (rendered == 0) {
    return Status::failedPrecondition(
        "refusing to prune all " + std::to_string(stale) +
        " objects of the inventory: the render is empty (pass --allow-mass-prune to do it)");
  }
  if (inventory > 0 && static_cast<double>(stale) > maxShare * static_cast<double>(inventory)) {
    return Status::failedPrecondition(
        "refusing to prune " + std::to_string(stale) + " of " + std::to_string(inventory) +
        " objects: more than " + std::to_string(static_cast<int>(std::lround(maxShare * 100))) +
        "% of the inventory (pass --allow-mass-prune to do it)");
  }
  return {};
}

}  // namespace windlass::reconcile
