// Image policies: which of a repository's tags is the one to run. The field names and the
// choice follow Flux's ImagePolicy:
//
//   policy: {semver: {range: ">=1.0.0 <2.0.0"}}   highest version in the range (semver.h:
//                                                  a range without a prerelease excludes
//                                                  prereleases, as semver 2.0 and Flux do)
//   policy: {alphabetical: {order: asc|desc}}      asc (default): the last tag in byte order,
//                                                  desc: the first
//   policy: {numerical: {order: asc|desc}}         asc (default): the highest number, desc:
//                                                  the lowest; values that are not numbers
//                                                  are skipped (and counted in the reason)
//   filterTags: {pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)$', extract: '$ts'}
//                                                  only tags the pattern matches (a Go
//                                                  regexp through core/regex, unanchored
//                                                  as Go's MatchString); extract, a Go
//                                                  Expand template ($name,
//                                                  ${name}, $1, $$), gives the value the
//                                                  policy sorts; empty: the tag itself
//
// Ties (two tags with the same value) go to the tag that sorts first byte by byte, so the
// choice never depends on the order the registry listed them in.
//
// Thread safety: a TagPolicy is immutable after compile() and may be shared by threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sources/semver.h"

namespace windlass {
class Regex;
}

namespace windlass::sources {

struct TagPolicySpec {
  enum class Kind { kSemver, kAlphabetical, kNumerical };
  enum class Order { kAsc, kDesc };
  Kind kind = Kind::kSemver;
  std::string range;          // semver only
  Order order = Order::kAsc;  // alphabetical and numerical
  std::string pattern;        // filterTags.pattern; "" none
  std::string extract;        // filterTags.extract; "" the whole tag
};

// What a policy chose, and why, for `windlass images` and the status.
struct TagChoice {
  std::optional<std::string> tag;  // nullopt: no tag qualifies
  size_t seen = 0;                 // tags listed
  size_t filtered = 0;             // of those, left after filterTags
  size_t candidates = 0;           // of those, values the policy could order (and in range)
  std::string reason;              // one line, e.g. `highest of 12 versions in ">=1.0.0"`
};

class TagPolicy {
 public:
  // Checks and compiles `spec`. `where` is the field path of the policy in the
  // configuration ("imagePolicies[0]"); errors name the field under it:
  //   imagePolicies[0].policy.semver.range: invalid range ">=1.a": ...
  //   imagePolicies[0].filterTags.pattern: invalid Go regexp "(": missing ): (
  //   imagePolicies[0].filterTags.extract: "$nope" names no group of the pattern
  [[nodiscard]] static Result<TagPolicy> compile(const TagPolicySpec& spec,
                                                 const std::string& where);

  // The tag this policy picks from `tags` (any order), with counts and a reason.
  TagChoice choose(const std::vector<std::string>& tags) const;

  // The sort value filterTags gives `tag`, or nullopt when the pattern does not match
  // (the tag itself when there is no filter).
  std::optional<std::string> extractValue(const std::string& tag) const;

  const TagPolicySpec& spec() const { return spec_; }

 private:
  TagPolicySpec spec_;
  std::optional<Range> range_;
  std::shared_ptr<const Regex> pattern_;  // filterTags.pattern (core/regex.h); null: none
};

}  // namespace windlass::sources
