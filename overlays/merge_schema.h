// The merge schema that strategic merge patches follow: for each resource type,
// which list fields merge element by element and by which keys.
//
// Kustomize 5.5 (kyaml) reads this from the Kubernetes 1.21.2 OpenAPI document it
// embeds. Only two facts of that document change how a patch applies:
//   * a list field whose x-kubernetes-patch-strategy includes "merge" is merged,
//     its elements matched by x-kubernetes-list-map-keys (when present) or else by
//     x-kubernetes-patch-merge-key; with neither it is a list of primitives merged
//     as a set (metadata.finalizers);
//   * every other list is replaced by the patch's list, and maps always merge.
// So the schema holds only the object fields that lead to a merged list, and the
// merged lists themselves. A field absent from the schema has no schema: its maps
// merge, its lists are replaced, and (as in kyaml) a map reached without schema
// that carries apiVersion and kind is looked up again as a resource.
//
// Kinds and versions are exact: extensions/v1beta1 Deployment or autoscaling/v2
// HorizontalPodAutoscaler are not in the 1.21.2 document, so Kustomize treats them
// like custom resources, and so does kubernetes() here.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace windlass::overlays {

// Index of a type within one MergeSchema; kNoType means "no schema".
using SchemaTypeId = int;
inline constexpr SchemaTypeId kNoType = -1;

// One field of a schema type.
struct SchemaField {
  // The type of the field's value (an object field) or of its elements (a list);
  // kNoType when the elements have nothing to merge by schema.
  SchemaTypeId type = kNoType;
  // True for a list with patch strategy "merge".
  bool mergeList = false;
  // The keys that identify an element of a merged list, in schema order; empty
  // for a merged list of primitives.
  std::vector<std::string> keys;
};

// A set of schema types and the resource kinds that use them. Copyable, so a
// render can extend the built-in schema (e.g. from CRDs) without touching it.
// Not synchronised: share a const MergeSchema between threads, never mutate one
// that another thread reads.
class MergeSchema {
 public:
  // An empty schema: every kind is unknown, every list is replaced.
  MergeSchema() = default;

  // The built-in Kubernetes kinds as Kustomize 5.5 knows them. Built on first
  // use; thread-safe.
  static const MergeSchema& kubernetes();

  // The schema of an OpenAPI v2 document, as kyaml reads a kustomization's
  // `openapi: {path: FILE}` (which then replaces the built-in schema): each
  // definition with x-kubernetes-group-version-kind is a resource type; a property
  // with a "$ref" (or an allOf holding one) is an object of that type; an array
  // property whose x-kubernetes-patch-strategy includes "merge" is a merged list,
  // keyed by x-kubernetes-list-map-keys or else x-kubernetes-patch-merge-key (a
  // list of primitives with neither). InvalidArgument naming `file` when the
  // document has no "definitions" map.
  [[nodiscard]] static Result<MergeSchema> fromOpenApi(const JsonValue& doc, std::string_view file);

  // The root type of a resource, or kNoType when the kind is unknown.
  SchemaTypeId typeForResource(std::string_view apiVersion, std::string_view kind) const;

  // The schema of field `name` of `type`, or nullptr when the type is kNoType or
  // has no such field. The pointer is valid until the schema is next changed.
  const SchemaField* field(SchemaTypeId type, std::string_view name) const;

  // The type named `name`, created empty when missing.
  SchemaTypeId internType(std::string_view name);
  // Declares owner.field as an object of type `child`.
  void addObjectField(std::string_view owner, std::string_view field, std::string_view child);
  // Declares owner.field as a merged list whose elements (of type `element`, ""
  // for none) are matched by `keys` (empty: a list of primitives).
  void addMergeListField(std::string_view owner, std::string_view field, std::string_view element,
                         std::vector<std::string> keys);
  // Declares that resources of apiVersion/kind have root type `type`.
  void addResourceType(std::string_view apiVersion, std::string_view kind, std::string_view type);

 private:
  struct Type {
    std::string name;
    std::map<std::string, SchemaField, std::less<>> fields;
  };
  std::vector<Type> types_;
  std::map<std::string, SchemaTypeId, std::less<>> typeIds_;
  std::map<std::string, SchemaTypeId, std::less<>> resources_;  // "apiVersion kind" → type
};

}  // namespace windlass::overlays
