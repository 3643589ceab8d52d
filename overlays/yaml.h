// The YAML edge of windlass: text in, JSON values out, and back again, with the
// typing and the output format of Kustomize v5.5.0 (`kubectl kustomize`).
//
// Reading uses yaml-cpp's event parser and builds RapidJSON values directly;
// the block YAML most manifests are written in is scanned by a faster reader of
// its own that reports the same events (overlays/yaml_fast.h), and yaml-cpp
// reads whatever that one leaves.
// Two dialects exist because Kustomize reads its own file and resource files
// with different libraries:
//   * kKustomization: sigs.k8s.io/yaml (go-yaml v2, YAML 1.1 typing). Unquoted
//     yes/no/on/off/y/n are bools; timestamps stay strings; a repeated key
//     replaces the earlier one.
//   * kResource: kyaml (go-yaml v3) followed by a JSON round trip. yes/on/y stay
//     strings, but 0123 is still octal; number-like scalars are normalised as
//     JSON would (1e3 → 1000, 1.0 → 1, 0x1F → 31, ints beyond 64 bits become
//     doubles); timestamps become RFC 3339 strings ("2024-01-15T00:00:00Z");
//     .inf/.nan are errors; a repeated key is an error; a key of a nested map
//     that is not a string (80:, true:) is an error, as in Kustomize.
// In both, anchors and aliases are expanded and `<<` merge keys are applied
// (explicit keys win, earlier merge sources win over later ones).
//
// Writing follows go-yaml v2 as sigs.k8s.io/yaml drives it: keys sorted in
// go-yaml's natural order, two-space indentation, sequences not indented under
// their key, plain scalars folded past 80 columns, strings holding a newline as
// literal blocks, strings YAML 1.1 would mis-read quoted.
//
// Thread safety: all functions are reentrant; concurrent calls must not share an
// allocator (JsonAllocator is not thread-safe).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace windlass::overlays {

enum class YamlDialect {
  kKustomization,  // kustomization.yaml: YAML 1.1 typing (sigs.k8s.io/yaml)
  kResource,       // resource files: go-yaml v3 typing, then a JSON round trip
  kPatch,          // a strategic-merge patch: as kResource, but a null annotation
                   // value stays null (it deletes the key) instead of "null"
};

// Bounds on untrusted input. Exceeding one is an InvalidArgument error that
// names the limit; parsing stops at once (no work proportional to the bomb).
struct YamlLimits {
  // Deepest nesting of maps and sequences. Kubernetes objects, CRD schemas
  // included, stay far below; yaml-cpp itself gives up at 2000.
  size_t maxDepth = 256;
  // Nodes created by expanding aliases, summed over one parseYaml call. A
  // "billion laughs" document needs 10^9; real manifests need a few hundred.
  size_t maxAliasExpansion = 100000;
  // Nodes (scalars, maps, sequences, alias copies included) over one call.
  // 10 million nodes is about 100 MB of YAML.
  size_t maxNodes = 10000000;
};

// The map members of one document whose value was written empty (`key:`,
// `key: !!null`), as opposed to a null written out (`key: null`, `key: ~`). Both
// read as JSON null, but kyaml keeps the text, and a strategic merge patch drops
// the empty ones from every map it walks (see strategicMerge). Each path runs
// from the document's root through map keys and list indices (decimal text),
// e.g. {"spec", "volumes", "0", "emptyDir"}; the order is unspecified.
using EmptyNullPaths = std::vector<std::vector<std::string>>;

// Parses every document of `text` into JSON values allocated from `alloc`.
// Documents that are empty or null (a trailing "---", a lone "...") are dropped.
// On success the values live as long as `alloc` (the vector itself is the
// caller's). On failure returns InvalidArgument with "FILE:LINE:COL: message"
// (1-based, FILE is `fileName`) and allocates nothing the caller must free.
// Never throws.
//
// With `emptyNulls` and the kResource dialect, *emptyNulls is set to the empty
// nulls of each returned document: either empty (no document has any) or one
// entry per returned document. Members that aliases and `<<` merge keys copy
// count where the copies land. Nothing is recorded for kKustomization. On
// failure *emptyNulls is empty.
[[nodiscard]] Result<std::vector<JsonValue>> parseYaml(
    std::string_view text, std::string_view fileName, YamlDialect dialect, JsonAllocator& alloc,
    const YamlLimits& limits = {}, std::vector<EmptyNullPaths>* emptyNulls = nullptr);

// Appends one document to `out` exactly as `kubectl kustomize` (Kustomize
// v5.5.0) prints it: no leading "---", ends with "\n". Callers join documents
// with "---\n". Numbers print as Kustomize's JSON round trip leaves them
// (integral doubles as integers, other doubles in Go's shortest 'g' form).
// Strings that are not valid UTF-8 have the bad bytes replaced by U+FFFD, as
// Go's JSON encoder does. Never fails.
void emitYaml(const JsonValue& doc, std::string& out);

// Appends `docs` to `out` as emitYaml prints them, joined with "---\n". First
// reserves about the room they take, so a stream of megabytes is not copied
// each time `out` would double. Never fails.
void emitYamlStream(const std::vector<JsonValue>& docs, std::string& out);

}  // namespace windlass::overlays
