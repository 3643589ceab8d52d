// RFC 6902 JSON Patch, applied the way Kustomize v5.5 applies it.
//
// Kustomize hands JSON 6902 patches to evanphx/json-patch v4, whose behaviour
// differs from the RFC in ways real kustomizations depend on; windlass keeps
// those differences so the same patch renders the same object:
//   - "add" (and the destination of "move"/"copy") never creates missing
//     intermediate objects: the parent must exist.
//   - "replace" on a missing key of an existing object adds it.
//   - "copy" from a missing key of an existing object adds null.
//   - "test" of a missing key (or a null value) passes when the value is null.
//   - Negative array indices count from the end ("-1" on add appends).
//   - Array indices are parsed like Go's strconv.Atoi ("+1" and "01" are 1).
//   - A path's first segment is ignored when the path does not start with "/".
//   - "replace" of the whole document ("") with a scalar does nothing.
//   - Numbers compare by type in "test": 1 and 1.0 differ.
// Error texts are Kustomize's own (e.g. "add operation does not apply: doc is
// missing path: ...", "testing value /a failed: test failed", "Unexpected
// kind: frobnicate"), so they can be checked against Kustomize's output.
#pragma once

#include "core/json.h"
#include "core/status.h"

namespace windlass::overlays {

// Applies the JSON 6902 operations `ops` (an array of {op, path, value, from})
// to `target` in place, in order. `target` must be an object or an array;
// values it gains are allocated from `alloc` (copied, never borrowed from `ops`).
//
// Returns OK when every operation applied (a passing "test" included).
// Returns InvalidArgument when `ops` is not an array of objects, when an
// operation is unknown or does not apply, or when a "test" fails; the message
// names the op index, op and path, then Kustomize's text:
//   json patch op 0 (add /spec/x/y): add operation does not apply: doc is
//   missing path: "/spec/x/y": missing value
// On error `target` may be partly modified (callers work on a copy).
//
// Thread-safe for distinct targets; `alloc` must not be shared between threads.
[[nodiscard]] Status applyJsonPatch(JsonValue& target, const JsonValue& ops, JsonAllocator& alloc);

}  // namespace windlass::overlays
