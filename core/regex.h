// Regular expressions as Go (and so Kustomize and Flux) writes them, run by
// RE2: `(?i)`, `\pL`, `(?P<name>…)` and `(?<name>…)` work, and matching takes
// time linear in the input whatever the pattern (no backtracking).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace re2 {
class RE2;
}

namespace windlass {

// The groups of one match. group(0) is the whole match; a group that took no
// part in the match is std::nullopt. Views point into the matched text, which
// must outlive the RegexMatch.
struct RegexMatch {
  std::vector<std::optional<std::string_view>> groups;
};

// A compiled pattern. Immutable once compiled; copies share the compiled form
// and may be used from several threads at once.
class Regex {
 public:
  // Compiles `pattern` (Go regexp syntax, UTF-8). InvalidArgument when it does
  // not parse or is too large, with Go's wording: `invalid regular expression
  // "web(": error parsing regexp: missing closing ): `web(``.
  static Result<Regex> compile(std::string_view pattern);

  // Whether the whole of `text` matches.
  bool fullMatch(std::string_view text) const;
  // Whether some part of `text` matches (Go's MatchString).
  bool partialMatch(std::string_view text) const;
  // The leftmost match in `text` and its groups (Go's FindStringSubmatch), or
  // std::nullopt when nothing matches.
  std::optional<RegexMatch> find(std::string_view text) const;

  // The index of the group named `name`, or -1 when there is none.
  int groupIndex(std::string_view name) const;
  // The text of group `name` in `m`, or std::nullopt when there is no such group
  // or it did not take part in the match.
  std::optional<std::string_view> group(const RegexMatch& m, std::string_view name) const;
  // Go's Regexp.ExpandString: `tmpl` with `$name`, `${name}`, `$1` and `${1}`
  // replaced by the groups of `m` (empty when the group does not exist or did not
  // match) and `$$` by `$`. A `$` followed by no valid name is copied as is.
  std::string expand(std::string_view tmpl, const RegexMatch& m) const;

  // The number of capturing groups.
  int groupCount() const;
  // The pattern as given to compile().
  const std::string& pattern() const { return pattern_; }

 private:
  Regex(std::string pattern, std::shared_ptr<const re2::RE2> re)
      : pattern_(std::move(pattern)), re_(std::move(re)) {}

  std::string pattern_;
  std::shared_ptr<const re2::RE2> re_;  // shared by copies; RE2 is thread-safe for matching
};

}  // namespace windlass
