// The inventory of an environment, in the Kubernetes ApplySet standard
// (KEP-3659), so `kubectl apply --prune --applyset` and windlass agree on what
// belongs to it: a parent object carries the id label and the group-kinds it
// contains; each member carries the part-of label. Pure functions over values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace windlass::reconcile {

inline constexpr const char* kApplySetIdLabel = "applyset.kubernetes.io/id";
inline constexpr const char* kApplySetPartOfLabel = "applyset.kubernetes.io/part-of";
inline constexpr const char* kApplySetToolingAnnotation = "applyset.kubernetes.io/tooling";
inline constexpr const char* kApplySetGroupKindsAnnotation =
    "applyset.kubernetes.io/contains-group-kinds";
inline constexpr const char* kApplySetNamespacesAnnotation =
    "applyset.kubernetes.io/additional-namespaces";

// "applyset-" + unpadded base64url(sha256("<name>.<namespace>.<kind>.<group>")) + "-v1",
// the id KEP-3659 gives the parent object with that identity.
std::string applySetId(std::string_view name, std::string_view ns, std::string_view kind,
                       std::string_view group);

// "Deployment.apps" for apps/v1 Deployment, "ConfigMap" for the core group.
std::string groupKind(const JsonValue& object);

// Adds the part-of label with `id` to a rendered object (creating labels).
void labelMember(JsonValue& object, const std::string& id, JsonAllocator& alloc);

// The parent object (a Secret named `name` in `ns`) for the given members:
// id label, tooling annotation, sorted contains-group-kinds and the other
// namespaces members live in.
JsonValue makeParent(std::string_view name, std::string_view ns,
                     const std::vector<const JsonValue*>& members, JsonAllocator& alloc);

// True when an object must never be pruned: windlass.dev/prune: disabled, or
// the migration markers of Flux (kustomize.toolkit.fluxcd.io/prune: disabled)
// and Argo CD (argocd.argoproj.io/sync-options containing Prune=false).
bool pruneDisabled(const JsonValue& object);

// Refuses a mass deletion: FailedPrecondition when nothing was rendered but
// something would be pruned, or when `stale` exceeds maxShare of `inventory`;
// ok when allowMassPrune. The message says how to override.
Status checkMassPrune(size_t stale, size_t inventory, size_t rendered, double maxShare,
                      bool allowMassPrune);

}  // namespace windlass::reconcile
