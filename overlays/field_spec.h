// Field specs: where a transformer acts ("spec/template/metadata/labels" in
// Deployments), and the transformer configuration Kustomize builds in plus what
// a kustomization adds with `configurations:` and `crds:`.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "overlays/resource.h"

namespace windlass::overlays {

struct FieldSpec {
  Gvk gvk;                        // empty parts match anything
  std::vector<std::string> path;  // "[]" suffixes stripped
  bool create = false;            // create missing fields on the way
  // Indexes into path of the parts written "name[]" (a list): looked up, never
  // created, even with create.
  std::vector<size_t> lookupOnly;

  bool selects(const Gvk& resourceGvk) const;
  bool operator==(const FieldSpec&) const = default;
};

// Parses "spec/template/metadata/labels" ("\/" escapes a slash in a key). With
// lookupOnly, the indexes of the parts written with a "[]" suffix are appended.
std::vector<std::string> splitFieldPath(std::string_view path,
                                        std::vector<size_t>* lookupOnly = nullptr);

struct NameBackReference {
  Gvk gvk;  // the kind being referred to (ConfigMap, ...)
  std::vector<FieldSpec> referrers;
};

struct TransformerConfig {
  std::vector<FieldSpec> namePrefix;
  std::vector<FieldSpec> nameSuffix;
  std::vector<FieldSpec> nameSpace;
  std::vector<FieldSpec> commonLabels;
  std::vector<FieldSpec> templateLabels;
  std::vector<FieldSpec> commonAnnotations;
  std::vector<FieldSpec> images;
  std::vector<FieldSpec> replicas;
  std::vector<FieldSpec> varReference;
  std::vector<NameBackReference> nameReference;

  // Adds every spec of `other` not already present (Kustomize's MergeConfig).
  void merge(const TransformerConfig& other);
};

// Kustomize v5.5's built-in configuration. Built once; thread-safe.
const TransformerConfig& builtinConfig();

// Reads a `configurations:` file (already parsed). InvalidArgument naming the
// file and field on a malformed entry.
Result<TransformerConfig> parseTransformerConfig(const JsonValue& doc, std::string_view file);

// Reads one field spec from {group, version, kind, path, create}.
Result<FieldSpec> parseFieldSpec(const JsonValue& v, std::string_view where);

// Calls fn on every field that `path` reaches in obj, descending into every
// element of a list met on the way. With create, missing maps on the way and
// the final field (as null) are created first. fn may replace the field's value.
// Returns the first non-ok status of fn.
Status visitField(JsonValue& obj, const std::vector<std::string>& path, bool create,
                  JsonAllocator& alloc, const std::function<Status(JsonValue&)>& fn);

// visitField for one spec: its parts in lookupOnly are never created.
Status visitFieldSpec(JsonValue& obj, const FieldSpec& spec, JsonAllocator& alloc,
                      const std::function<Status(JsonValue&)>& fn);

// Calls visitFieldSpec for every spec that selects the resource's kind.
Status visitFieldSpecs(JsonValue& obj, const std::vector<FieldSpec>& specs, JsonAllocator& alloc,
                       const std::function<Status(JsonValue&)>& fn);

}  // namespace windlass::overlays
