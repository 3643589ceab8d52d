#include "sources/image_policy.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace windlass::sources {
namespace {

TagPolicy policy(const TagPolicySpec& spec) {
  auto p = TagPolicy::compile(spec, "imagePolicies[0]");
  REQUIRE_MESSAGE(p, p.error().message());
  return *p;
}

TagPolicySpec semver(const std::string& range) {
  TagPolicySpec s;
  s.kind = TagPolicySpec::Kind::kSemver;
  s.range = range;
  return s;
}

TagPolicySpec ordered(TagPolicySpec::Kind kind, TagPolicySpec::Order order) {
  TagPolicySpec s;
  s.kind = kind;
  s.order = order;
  return s;
}

const std::vector<std::string> kTags = {"latest",      "1.0.0",       "1.4.2", "v1.10.0",
                                        "2.0.0-rc.1",  "1.11.0-rc.1", "2.0.0", "main-abc-9",
                                        "main-def-10", "dev-e6c52a4", "0.9.9"};

TEST_CASE("semver picks the highest version in range and skips prereleases") {
  TagChoice c = policy(semver(">=1.0.0 <2.0.0")).choose(kTags);
  REQUIRE(c.tag);
  CHECK(*c.tag == "v1.10.0");
  CHECK(c.seen == kTags.size());
  CHECK(c.candidates == 3);  // 1.0.0, 1.4.2, v1.10.0
  CHECK(c.reason == "highest of 3 versions in range \">=1.0.0 <2.0.0\" (of 11 tags)");
  CHECK(*policy(semver(">=1.0.0")).choose(kTags).tag == "2.0.0");
  // A range with a prerelease admits prereleases.
  CHECK(*policy(semver(">=2.0.0-0")).choose({"2.0.0-rc.1", "2.0.0-rc.2", "1.9.0"}).tag ==
        "2.0.0-rc.2");
  CHECK(*policy(semver(">=1.0.0")).choose({"2.0.0-rc.1", "1.9.0"}).tag == "1.9.0");
}

TEST_CASE("semver: nothing in range says so") {
  TagChoice c = policy(semver(">=5.0.0")).choose(kTags);
  CHECK_FALSE(c.tag);
  CHECK(c.reason == "no version in range \">=5.0.0\" (of 11 tags)");
}

TEST_CASE("semver ties go to the byte-first tag whatever the listing order") {
  CHECK(*policy(semver("*")).choose({"v1.0.0", "1.0.0"}).tag == "1.0.0");
  CHECK(*policy(semver("*")).choose({"1.0.0", "v1.0.0"}).tag == "1.0.0");
}

TEST_CASE("alphabetical asc takes the last, desc the first") {
  using K = TagPolicySpec::Kind;
  using O = TagPolicySpec::Order;
  std::vector<std::string> ts = {"2026-01-02T10", "2026-01-10T00", "2025-12-31T23"};
  CHECK(*policy(ordered(K::kAlphabetical, O::kAsc)).choose(ts).tag == "2026-01-10T00");
  CHECK(*policy(ordered(K::kAlphabetical, O::kDesc)).choose(ts).tag == "2025-12-31T23");
  CHECK_FALSE(policy(ordered(K::kAlphabetical, O::kAsc)).choose({}).tag);
}

TEST_CASE("numerical orders numbers as numbers and skips the rest") {
  using K = TagPolicySpec::Kind;
  using O = TagPolicySpec::Order;
  std::vector<std::string> ts = {"9", "10", "100", "1.5", "x1", "-3"};
  TagChoice c = policy(ordered(K::kNumerical, O::kAsc)).choose(ts);
  CHECK(*c.tag == "100");
  CHECK(c.reason == "highest of 5 numbers (of 6 tags), 1 values not numbers skipped");
  CHECK(*policy(ordered(K::kNumerical, O::kDesc)).choose(ts).tag == "-3");
}

TEST_CASE("filterTags keeps matching tags and sorts by the extracted value") {
  TagPolicySpec s = ordered(TagPolicySpec::Kind::kNumerical, TagPolicySpec::Order::kAsc);
  s.pattern = "^main-[a-f0-9]+-(?P<ts>[0-9]+)$";
  s.extract = "$ts";
  TagChoice c = policy(s).choose(kTags);
  REQUIRE(c.tag);
  CHECK(*c.tag == "main-def-10");  // 10 > 9 numerically
  CHECK(c.filtered == 2);
  CHECK(c.reason == "highest of 2 numbers (2 of 11 tags match the pattern)");
  // The same values alphabetically: "9" > "10".
  s.kind = TagPolicySpec::Kind::kAlphabetical;
  CHECK(*policy(s).choose(kTags).tag == "main-abc-9");
  // Semver over an extracted version.
  TagPolicySpec v = semver("^1.0");
  v.pattern = R"(^release-(?P<version>.*)$)";
  v.extract = "${version}";
  CHECK(*policy(v).choose({"release-1.2.0", "release-1.3.0", "1.9.0", "release-x"}).tag ==
        "release-1.3.0");
}

TEST_CASE("filterTags without extract filters only; the pattern is unanchored like Go's") {
  TagPolicySpec s = ordered(TagPolicySpec::Kind::kAlphabetical, TagPolicySpec::Order::kAsc);
  s.pattern = "dev-";
  TagChoice c = policy(s).choose(kTags);
  CHECK(*c.tag == "dev-e6c52a4");
  CHECK(c.filtered == 1);
}

TEST_CASE("extract is a Go template: $name, ${name}, $1, $$, $0") {
  TagPolicySpec s = ordered(TagPolicySpec::Kind::kAlphabetical, TagPolicySpec::Order::kAsc);
  s.pattern = "^main-(?P<sha>[a-f0-9]+)-(?P<ts>[0-9]+)$";
  auto value = [&](const std::string& extract) {
    s.extract = extract;
    return policy(s).extractValue("main-abc-12");
  };
  CHECK(value("$ts") == "12");
  CHECK(value("${ts}-${sha}") == "12-abc");
  CHECK(value("${1}x") == "abcx");
  CHECK(value("$$ts") == "$ts");
  CHECK(value("$0") == "main-abc-12");
  CHECK(value("") == "main-abc-12");
  s.extract = "$ts";
  CHECK(policy(s).extractValue("dev-abc") == std::nullopt);
}

TEST_CASE("bad ranges, patterns and extracts are errors with the field path") {
  auto p = TagPolicy::compile(semver(">=1.a"), "imagePolicies[2]");
  REQUIRE_FALSE(p);
  CHECK(p.error().message().rfind("imagePolicies[2].policy.semver.range: invalid range", 0) == 0);
  TagPolicySpec s = semver("*");
  s.pattern = "main-(";
  p = TagPolicy::compile(s, "imagePolicies[1]");
  REQUIRE_FALSE(p);
  CHECK(p.error().message() ==
        "imagePolicies[1].filterTags.pattern: invalid regular expression \"main-(\": error "
        "parsing regexp: missing closing ): `main-(`");
  s.pattern = "main-(?P<ts>[0-9]+)";
  s.extract = "$nope";
  p = TagPolicy::compile(s, "imagePolicies[1]");
  REQUIRE_FALSE(p);
  CHECK(p.error().message() ==
        "imagePolicies[1].filterTags.extract: \"$nope\" names no group of the pattern");
  s.extract = "$2";
  CHECK_FALSE(TagPolicy::compile(s, "x"));
  s.extract = "$1";
  CHECK(TagPolicy::compile(s, "x"));
  TagPolicySpec e = semver("*");
  e.extract = "$ts";
  p = TagPolicy::compile(e, "imagePolicies[0]");
  REQUIRE_FALSE(p);
  CHECK(p.error().message() == "imagePolicies[0].filterTags.extract: needs filterTags.pattern");
  // Perl lookarounds are not Go syntax.
  s.pattern = "(?=x)";
  s.extract = "";
  CHECK_FALSE(TagPolicy::compile(s, "x"));
}

}  // namespace
}  // namespace windlass::sources
