// Strategic merge patches with the semantics of Kustomize 5.5 (kyaml merge2 with
// patch elements placed first).
//
// What a patch does, field by field:
//   * maps merge key by key; a null value deletes the key; `$patch: replace` in a
//     map replaces the target's map with the patch's, `$patch: delete` removes
//     it, `$patch: merge` is the default;
//   * a null in the target that the patch does not mention stays when written
//     out (`key: null`, `key: ~`) and goes when written with no value (`key:`),
//     in every map the merge walks: all of the target but the lists it does not
//     merge (see `emptyNulls` below);
//   * a list that the schema marks as merged (MergeSchema) merges element by
//     element: elements are matched by the merge keys, the elements of the patch
//     come first in patch order and the target's unmatched elements follow in
//     their order (see the notes in strategic_merge.cpp for lists with two keys,
//     e.g. ports with protocol, where matched elements keep the target's order);
//     an element `{key: x, $patch: delete}` removes the match; a list element
//     `{$patch: replace}` or `{$patch: delete}` replaces or removes the whole list;
//     merged lists of primitives (finalizers) are merged as sets;
//   * every other list, and every list of a kind without schema (custom
//     resources), is replaced by the patch's list verbatim, directives included;
//   * `$retainKeys`, `$setElementOrder/...` and `$deleteFromPrimitiveList/...`
//     are not directives here: they are copied into the result like any field.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "overlays/merge_schema.h"

namespace windlass::overlays {

enum class MergeOutcome {
  kMerged,   // target holds the patched object
  kDeleted,  // the patch was `$patch: delete` at the top: remove the resource
};

// Applies the strategic merge patch `patch` (an object) onto `target` (an object)
// in place, using the schema of target's apiVersion/kind (else of the patch's).
// New values are allocated from `alloc`; `target` must use the same allocator.
// `patch` is only read and may be freed afterwards.
//
// On kDeleted, target is unchanged. Identity fields are not protected: a patch
// can change kind, metadata.name or namespace, or (with `$patch: replace` at the
// top) replace the whole object, so callers restore them as Kustomize does.
// `emptyNulls` (optional) names the nulls of target that were written with no
// value, as parseYaml's EmptyNullPaths do (paths that reach no null are
// ignored); without it every null counts as written out. On kMerged it is
// replaced by the empty nulls that remain in target (those inside lists the
// merge did not walk); otherwise it is unchanged.
//
// Errors (InvalidArgument) name the field path, e.g. "spec.replicas: ..."; on
// error target is unchanged. Thread-safe for distinct targets.
Result<MergeOutcome> strategicMerge(JsonValue& target, const JsonValue& patch,
                                    const MergeSchema& schema, JsonAllocator& alloc,
                                    std::vector<std::vector<std::string>>* emptyNulls = nullptr);

}  // namespace windlass::overlays
