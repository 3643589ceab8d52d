// Semantic versions (semver 2.0.0) and version ranges, for environments that deploy
// the newest release tag matching a range (`semver: ">=1.0.0"`).
//
// The range syntax is the one Flux accepts (Masterminds/semver v3 constraints):
//   comparisons    =1.2.3  !=1.2.3  >1.2.3  <1.2.3  >=1.2.3  <=1.2.3  (also => and =<;
//                  no operator means =; spaces may follow the operator: ">= 1.2")
//   AND            comparisons separated by spaces or commas: ">=1.2.0 <2.0.0", ">=1.2, <2"
//   OR             "||" between AND groups: "^1.2 || ^2.0"
//   hyphen ranges  "1.2 - 1.4.5" is ">=1.2 <=1.4.5"
//   wildcards      x, X or * for a part, or a missing part: "1.2.x", "1.2", "1.*", "*"
//                  (=1.2 is >=1.2.0 <1.3.0; <=1.2 is <1.3.0; >1.2 is >=1.3.0; <1.2 and >=1.2
//                  compare with 1.2.0)
//   tilde          ~1.2.3 is >=1.2.3 <1.3.0; ~1.2 is >=1.2.0 <1.3.0; ~1 is >=1.0.0 <2.0.0
//                  (also "~>")
//   caret          ^1.2.3 is >=1.2.3 <2.0.0; ^0.2.3 is >=0.2.3 <0.3.0; ^0.0.3 is >=0.0.3
//                  <0.0.4; ^0.2 is >=0.2.0 <0.3.0; ^0 is >=0.0.0 <1.0.0
// Prerelease versions: as in Masterminds, a comparison whose version has no prerelease
// part never matches a prerelease version (">=1.0.0" does not match 2.0.0-rc.1;
// ">=1.0.0-0" does). The one exception is != without wildcards, which matches every
// version but the one named. Build metadata is ignored when comparing.
//
// Thread safety: plain values and pure functions; everything is reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace windlass::sources {

struct Version {
  uint64_t major = 0;
  uint64_t minor = 0;
  uint64_t patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers; empty: a release
  std::string build;                    // build metadata after "+", without it; "" if none

  bool operator==(const Version&) const = default;  // field by field, build included
};

// Parses a semver 2.0.0 version: MAJOR.MINOR.PATCH, each a number without leading
// zeros, then optionally "-" and dot-separated prerelease identifiers ([0-9A-Za-z-],
// non-empty, numeric ones without leading zeros) and "+" and build identifiers
// ([0-9A-Za-z-], non-empty). A leading "v" is allowed ("v1.4.2"), as Flux allows.
// On failure returns InvalidArgument `invalid version "TEXT": WHY`, e.g.
// `invalid version "1.2": expected MAJOR.MINOR.PATCH`.
[[nodiscard]] Result<Version> parseVersion(std::string_view text);

// Precedence per semver 2.0.0 section 11: <0, 0 or >0 as a is lower than, equal to or
// higher than b. Build metadata is ignored, so 1.0.0+a and 1.0.0+b compare equal.
int compare(const Version& a, const Version& b);

// "1.2.3", "1.2.3-rc.1", "1.2.3-rc.1+build.5" (no "v").
std::string formatVersion(const Version& version);

// One comparison of a range. Exposed so tests and messages can inspect a parsed range;
// build ranges with parseRange().
struct Comparator {
  enum class Op { kEq, kNe, kGt, kLt, kGe, kLe, kTilde, kCaret };
  Op op = Op::kEq;
  Version version;  // wildcard parts are 0
  // How many of the trailing parts are wildcards: 0 none ("1.2.3"), 1 the patch
  // ("1.2.x", "1.2"), 2 minor and patch ("1.x", "1"), 3 all ("*", "x").
  int wildcards = 0;

  bool matches(const Version& v) const;
  bool operator==(const Comparator&) const = default;
};

// A parsed range: OR of AND groups of comparisons.
struct Range {
  std::string text;                                   // as written
  std::vector<std::vector<Comparator>> alternatives;  // never empty; no group is empty

  // True when some alternative has every comparison matching `v`.
  bool matches(const Version& v) const;
};

// Parses a range in the syntax above. On failure returns InvalidArgument
// `invalid range "TEXT": WHY`, e.g. `invalid range ">=1.a": "1.a": minor: "a" is not a
// number or wildcard`.
[[nodiscard]] Result<Range> parseRange(std::string_view text);

// Of `tags`, the one whose version (parseVersion) is the highest that `range` matches;
// tags that are not versions are ignored. When several tags have the same precedence
// ("v1.0.0" and "1.0.0", or differing build metadata), the one that sorts first byte
// by byte wins, so the answer does not depend on the order of `tags`. nullopt when no
// tag matches. Returns a copy of the tag name as given.
std::optional<std::string> newestMatching(const Range& range, const std::vector<std::string>& tags);

}  // namespace windlass::sources
