// Kustomize's content hash for generated ConfigMaps and Secrets.
//
// Kustomize v5.5 (api/hasher) builds a small JSON object from the generated
// object, encodes it as Go's encoding/json would (keys sorted, <, > and &
// written as \u003c, \u003e, \u0026, U+2028/U+2029 escaped), takes its SHA-256
// and turns the first 10 hex digits into the name suffix, replacing 0, 1, 3,
// a and e by g, h, k, m and t so the suffix never looks like a number or a word.
//
// The encoded object is
//   ConfigMap: {"binaryData": ..., "data": ..., "kind": "ConfigMap", "name": ""}
//   Secret:    {"data": ..., "kind": "Secret", "name": "", "stringData": ..., "type": ...}
// where a missing data or type reads as "", and binaryData / stringData appear
// only when they are objects. "name" is always "": Kustomize looks the name up
// under the literal key "metadata/name", which never exists, so two generators
// with equal content get equal suffixes whatever their names. windlass keeps
// that so generated names match Kustomize's byte for byte.
#pragma once

#include <string>
#include <string_view>

#include "core/json.h"
#include "core/status.h"

namespace windlass::overlays {

// The 10-character suffix Kustomize v5.5 appends to a generated ConfigMap or
// Secret name (e.g. "42722hgcgc"), computed from the object exactly as
// Kustomize does. Only kind, data, binaryData (ConfigMap) and type, data,
// stringData (Secret) are read; labels, annotations, namespace, immutable and
// the name do not change the hash.
//
// Returns InvalidArgument when the object is not an object of kind ConfigMap
// or Secret. Thread-safe; the object is only read.
Result<std::string> generatorHash(const JsonValue& configMapOrSecret);

// The exact JSON text whose SHA-256 gives generatorHash (see the file comment).
// Same errors as generatorHash. Exposed for tests and for debugging a mismatch.
Result<std::string> generatorHashInput(const JsonValue& configMapOrSecret);

// Kustomize's encoding of a hex digest into a name suffix: its first 10
// characters with 0→g, 1→h, 3→k, a→m, e→t. InvalidArgument when `hex` is
// shorter than 10 characters.
Result<std::string> encodeHashSuffix(std::string_view hex);

// `value` as Go's json.Marshal prints it after a json.Unmarshal into
// interface{}: compact, object keys sorted bytewise (the last of duplicate keys
// wins), numbers as float64, strings with Go's HTML-safe escaping and invalid
// UTF-8 bytes turned into U+FFFD. Thread-safe.
std::string goJsonMarshal(const JsonValue& value);

}  // namespace windlass::overlays
