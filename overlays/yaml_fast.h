// A fast path in front of yaml-cpp for the plain block YAML that Kubernetes
// manifests, CRD schemas above all, are written in. yaml-cpp's scanner reads
// about 25 MB/s; this one reads the same text line by line and reports the same
// parser events, so parseYaml's event handler (typing, merge keys, limits,
// empty nulls) stays the one place that turns events into values.
//
// The subset it reads: block maps and sequences (indentless ones included),
// plain scalars on one or more lines, single- and double-quoted scalars on one
// or more lines (double-quoted with the escapes \" \\ \/ \  \' \n \t \r \a \b
// \v \f \e and escaped line breaks), literal block scalars `|` and `|-` with or
// without an indentation indicator, flow collections of scalars and flow
// collections, comments, and `---` between documents; a tab only among the
// blanks that start a plain scalar's continuation line. Anything else (anchors,
// aliases, tags, folded scalars, `|+`, `?` keys, directives, `...`, other tabs,
// carriage returns, control characters, text that yaml-cpp would reject) makes
// it give up, and the caller parses the whole text with yaml-cpp instead.
#pragma once

#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "overlays/yaml.h"

namespace YAML {
class EventHandler;
}

namespace windlass::overlays {

// Reports the documents of `text` (UTF-8, byte order mark removed) to `handler`
// exactly as yaml-cpp 0.7's YAML::Parser reports them: the same events in the
// same order, with the same tags and values, and for scalars and nulls marks at
// the same byte offsets (the offsets parseYaml's handler reads the source text
// at). Returns true when the whole text was read. Returns false as soon as the
// text leaves the subset above, possibly after some events: the caller must
// then drop everything the handler built and parse the text with yaml-cpp.
// Exceptions thrown by the handler pass through. Reentrant; never reads past
// `text`.
[[nodiscard]] bool scanYamlFast(std::string_view text, YAML::EventHandler& handler);

// parseYaml with the fast path turned off or forced, for tests and the
// differential fuzzer (defined in yaml.cpp).
enum class YamlPath {
  kAuto,         // what parseYaml does: the fast path, else yaml-cpp
  kYamlCppOnly,  // yaml-cpp alone
  kFastOnly,     // the fast path alone: FailedPrecondition when it gives up
};
[[nodiscard]] Result<std::vector<JsonValue>> parseYamlVia(
    YamlPath path, std::string_view text, std::string_view fileName, YamlDialect dialect,
    JsonAllocator& alloc, const YamlLimits& limits = {},
    std::vector<EmptyNullPaths>* emptyNulls = nullptr);

}  // namespace windlass::overlays
