// Steps that connect resources to each other: name references that follow
// renames, $(VAR) substitution, and replacements.
#pragma once

#include <string>
#include <vector>

#include "core/file_source.h"
#include "core/json.h"
#include "core/status.h"
#include "overlays/field_spec.h"
#include "overlays/transformers.h"

namespace windlass::overlays {

// Rewrites every reference (ConfigMap names in volumes, roleRef names, ...)
// that names an earlier name of a renamed resource to that resource's current
// name (and namespace, for references that carry one). InvalidArgument when a
// reference could mean several resources.
Status fixNameReferences(ResourceList& list, const TransformerConfig& config, JsonAllocator& alloc);

struct Var {
  std::string name;
  Gvk gvk;
  std::string objName, objNamespace;
  std::string fieldPath = "metadata.name";
};

// Reads a `vars:` list. InvalidArgument naming the entry when malformed.
Result<std::vector<Var>> parseVars(const JsonValue& list, std::string_view where);

// Binds each var to the one resource its objref names among `list` (Kustomize
// binds a var where it is declared) by recording it in that resource's
// refVarNames. InvalidArgument when the objref matches several resources.
Status bindVars(ResourceList& list, const std::vector<Var>& vars);

// Replaces $(NAME) in the fields the varReference specs reach, reading each
// var from the resource it was bound to.
Status resolveVars(ResourceList& list, const std::vector<Var>& vars,
                   const TransformerConfig& config, JsonAllocator& alloc);

// Applies one replacement ({source, targets}) to the list.
Status applyReplacement(ResourceList& list, const JsonValue& replacement, std::string_view where,
                        JsonAllocator& alloc);

// Splits "spec.containers.[name=web].image" into its parts, brackets kept whole.
std::vector<std::string> splitDottedPath(std::string_view path);

}  // namespace windlass::overlays
