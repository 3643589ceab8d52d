// Resources as the renderer holds them: the object plus the identity history
// that Kustomize keeps (original id, previous ids, name prefixes/suffixes) so
// that references can follow renames.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"

namespace windlass::overlays {

struct Gvk {
  std::string group;
  std::string version;
  std::string kind;

  bool operator==(const Gvk&) const = default;
  // Kustomize's string form "group_version_kind" with "~G", "~V", "~K" for
  // empty parts; it decides the legacy output order among unlisted kinds.
  std::string sortString() const;
};

struct ResId {
  Gvk gvk;
  std::string name;
  std::string ns;

  // Equal gvk and name; namespaces equal when "" and "default" are treated alike.
  bool equals(const ResId& o) const;
  // The namespace with "" read as "default", and a marker for cluster-scoped kinds.
  std::string effectiveNamespace() const;
  // Kustomize's view (isKustomizeClusterScoped).
  bool isClusterScoped() const;
  // "Kind ns/name" (or "Kind name") for messages.
  std::string describe() const;
};

// True for kinds that are cluster-scoped in a cluster (Namespace, ClusterRole,
// ValidatingAdmissionPolicy, ...), whatever their version. Unknown kinds are
// namespaced. For ordering what is applied, not for rendering.
bool isClusterScopedKind(std::string_view kind);

// True for the group/version/kinds Kustomize v5.5 treats as cluster-scoped (its
// built-in Kubernetes 1.21 schema): e.g. flowcontrol v1beta1 FlowSchema is, v1
// is not. The renderer's notion (namespace transformer, ids, name references).
bool isKustomizeClusterScoped(const Gvk& gvk);

// Kustomize's legacy kind order: a negative rank for the kinds that go first
// (Namespace = most negative, ... PodDisruptionBudget), a positive rank for the
// kinds that go last (the webhook configurations), 0 for every other kind.
int legacyKindOrder(std::string_view kind);

Gvk parseApiVersion(std::string_view apiVersion, std::string_view kind);

// The string at obj[key] or "" when missing or not a string.
std::string_view stringField(const JsonValue& obj, std::string_view key);
// obj.metadata[key] as a string, or "".
std::string_view metadataField(const JsonValue& obj, std::string_view key);
// Finds a member; nullptr when obj is not an object or has no such key.
const JsonValue* findMember(const JsonValue& obj, std::string_view key);
JsonValue* findMember(JsonValue& obj, std::string_view key);
// Sets obj[key] = value (replacing), creating the member. obj must be an object.
void setMember(JsonValue& obj, std::string_view key, JsonValue value, JsonAllocator& alloc);
// obj[key] as an object, created (or replaced when not an object) when needed.
JsonValue& ensureObject(JsonValue& obj, std::string_view key, JsonAllocator& alloc);
JsonValue makeString(std::string_view s, JsonAllocator& alloc);

enum class GeneratorBehavior { kNone, kCreate, kMerge, kReplace };

struct Resource {
  JsonValue obj;
  ResId orgId;                        // id when first loaded or generated
  std::vector<ResId> prevIds;         // ids before each rename, oldest first
  std::vector<std::string> prefixes;  // namePrefix values applied, innermost first
  std::vector<std::string> suffixes;
  GeneratorBehavior behavior = GeneratorBehavior::kNone;
  bool needsHash = false;  // a generated name that takes a content hash
  std::vector<std::string> refVarNames;
  // Members of obj read from a resource file with no value (`key:`), which a
  // strategic merge drops (parseYaml's EmptyNullPaths, strategicMerge). Paths
  // that no longer reach a null are harmless; a JSON 6902 patch clears them all.
  std::vector<std::vector<std::string>> emptyNulls;

  ResId curId() const;
  // Records the current id as a previous one (before a rename).
  void storePreviousId();
  // All ids this resource has had: original, previous, current.
  bool matchesAnyId(const ResId& id) const;
};

// Reads the id of an object. InvalidArgument-free: missing fields read as "".
ResId idOf(const JsonValue& obj);

}  // namespace windlass::overlays
