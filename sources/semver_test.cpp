#include "sources/semver.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace windlass::sources {
namespace {

Version version(const std::string& text) {
  auto v = parseVersion(text);
  REQUIRE_MESSAGE(v, v.error().message());
  return *v;
}

Range range(const std::string& text) {
  auto r = parseRange(text);
  REQUIRE_MESSAGE(r, r.error().message());
  return *r;
}

TEST_CASE("versions parse with prerelease, build metadata and an optional v") {
  Version v = version("v1.4.2-rc.1+build.5");
  CHECK(v.major == 1);
  CHECK(v.minor == 4);
  CHECK(v.patch == 2);
  CHECK(v.prerelease == std::vector<std::string>{"rc", "1"});
  CHECK(v.build == "build.5");
  CHECK(formatVersion(v) == "1.4.2-rc.1+build.5");
  CHECK(formatVersion(version("0.0.0")) == "0.0.0");
  CHECK(formatVersion(version("1.0.0-x-y.0a")) == "1.0.0-x-y.0a");
  CHECK(formatVersion(version("1.0.0+001")) == "1.0.0+001");  // leading zeros fine in build
  CHECK(version("18446744073709551615.0.0").major == 18446744073709551615ull);
}

TEST_CASE("invalid versions are InvalidArgument with the reason") {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"", R"(invalid version "": empty)"},
      {"1.2", R"(invalid version "1.2": expected MAJOR.MINOR.PATCH)"},
      {"1.2.3.4", R"(invalid version "1.2.3.4": expected MAJOR.MINOR.PATCH)"},
      {"V1.2.3", R"(invalid version "V1.2.3": major: "V1" is not a number)"},
      {"01.2.3", R"(invalid version "01.2.3": major: "01" has a leading zero)"},
      {"1.x.3", R"(invalid version "1.x.3": minor: "x" is not a number)"},
      {"1.2.", R"(invalid version "1.2.": patch: empty)"},
      {"1.2.3-", R"(invalid version "1.2.3-": prerelease: empty identifier)"},
      {"1.2.3-01", R"(invalid version "1.2.3-01": prerelease: "01" has a leading zero)"},
      {"1.2.3-a..b", R"(invalid version "1.2.3-a..b": prerelease: empty identifier)"},
      {"1.2.3-a_b",
       R"(invalid version "1.2.3-a_b": prerelease: "a_b" has a character other than [0-9A-Za-z-])"},
      {"1.2.3+", R"(invalid version "1.2.3+": build metadata: empty identifier)"},
      {"1.2.3+a+b",
       R"(invalid version "1.2.3+a+b": build metadata: "a+b" has a character other than [0-9A-Za-z-])"},
      {"18446744073709551616.0.0",
       R"(invalid version "18446744073709551616.0.0": major: "18446744073709551616" is too large)"},
      {"release-1", R"(invalid version "release-1": expected MAJOR.MINOR.PATCH)"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto v = parseVersion(c.text);
    REQUIRE(!v);
    CHECK(v.error().code() == Code::kInvalidArgument);
    CHECK(v.error().message() == c.message);
  }
}

TEST_CASE("precedence follows semver 2.0.0 section 11") {
  // Each is lower than the next.
  const char* ordered[] = {
      "1.0.0-alpha",  "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
      "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",       "1.0.0",
      "1.0.1",        "1.1.0",         "1.10.0",           "2.0.0",
      "10.0.0",
  };
  const size_t n = sizeof(ordered) / sizeof(ordered[0]);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      INFO(ordered[i] << " vs " << ordered[j]);
      int c = compare(version(ordered[i]), version(ordered[j]));
      CHECK((i < j ? c < 0 : (i == j ? c == 0 : c > 0)));
    }
  }
  CHECK(compare(version("1.0.0+a"), version("1.0.0+b")) == 0);
  CHECK(compare(version("v1.0.0"), version("1.0.0")) == 0);
  CHECK(compare(version("1.0.0-2"), version("1.0.0-10")) < 0);   // numeric, not text
  CHECK(compare(version("1.0.0-10"), version("1.0.0-1a")) < 0);  // numeric below alphanumeric
}

TEST_CASE("ranges match as Masterminds/semver constraints do") {
  struct Case {
    const char* range;
    const char* version;
    bool matches;
  };
  const Case cases[] = {
      // Comparisons.
      {"1.2.3", "1.2.3", true},
      {"=1.2.3", "1.2.4", false},
      {"!=1.2.3", "1.2.3", false},
      {"!=1.2.3", "1.2.4", true},
      {">1.2.3", "1.2.4", true},
      {">1.2.3", "1.2.3", false},
      {"<1.2.3", "1.2.2", true},
      {">=1.2.3", "1.2.3", true},
      {">= 1.2.3", "1.2.2", false},
      {"=>1.2.3", "2.0.0", true},
      {"<=1.2.3", "1.2.3", true},
      {"=<1.2.3", "1.2.4", false},
      {">=1.0.0", "v1.4.2", true},
      {">=v1.0.0", "1.4.2", true},
      // AND: spaces or commas.
      {">=1.2.0 <2.0.0", "1.9.9", true},
      {">=1.2.0 <2.0.0", "2.0.0", false},
      {">=1.2, <2", "1.1.9", false},
      {">=1.2,<2", "1.2.0", true},
      // OR.
      {"^1.2 || ^3.0", "3.4.0", true},
      {"^1.2 || ^3.0", "2.0.0", false},
      {"1.0.0||2.0.0", "2.0.0", true},
      // Hyphen ranges: inclusive; a partial upper bound covers its wildcard.
      {"1.2 - 1.4.5", "1.2.0", true},
      {"1.2 - 1.4.5", "1.4.5", true},
      {"1.2 - 1.4.5", "1.4.6", false},
      {"1.2 - 1.4.5", "1.1.9", false},
      {"1.2.3 - 1.4", "1.4.9", true},
      {"1.2.3 - 1.4", "1.5.0", false},
      {"1.0.0 - 1.1.0 || 2.0.0 - 2.1.0", "2.0.5", true},
      // Wildcards.
      {"1.2.x", "1.2.9", true},
      {"1.2.x", "1.3.0", false},
      {"1.2.*", "1.2.0", true},
      {"1.2", "1.2.7", true},
      {"1.X", "1.9.0", true},
      {"1", "2.0.0", false},
      {"*", "0.0.1", true},
      {"x", "42.0.0", true},
      {">1.2", "1.2.9", false},
      {">1.2", "1.3.0", true},
      {">1.x", "1.9.0", false},
      {">1.x", "2.0.0", true},
      {"<=1.2", "1.2.9", true},
      {"<=1.2", "1.3.0", false},
      {"<1.2", "1.2.0", false},
      {">=1.2", "1.2.0", true},
      {"!=1.2.x", "1.2.5", false},
      {"!=1.2.x", "1.3.0", true},
      // Tilde.
      {"~1.2.3", "1.2.3", true},
      {"~1.2.3", "1.2.9", true},
      {"~1.2.3", "1.3.0", false},
      {"~1.2.3", "1.2.2", false},
      {"~1.2", "1.2.0", true},
      {"~1", "1.9.0", true},
      {"~1", "2.0.0", false},
      {"~>1.2.3", "1.2.5", true},
      // Caret.
      {"^1.2.3", "1.9.9", true},
      {"^1.2.3", "2.0.0", false},
      {"^1.2.3", "1.2.2", false},
      {"^0.2.3", "0.2.9", true},
      {"^0.2.3", "0.3.0", false},
      {"^0.0.3", "0.0.3", true},
      {"^0.0.3", "0.0.4", false},
      {"^0.2", "0.2.0", true},
      {"^0.2", "0.3.0", false},
      {"^0", "0.9.0", true},
      {"^0", "1.0.0", false},
      {"^1.x", "1.0.0", true},
      // Prereleases only match comparisons that name a prerelease.
      {">=1.0.0", "2.0.0-rc.1", false},
      {"*", "1.0.0-alpha", false},
      {"^1.2.3", "1.3.0-beta", false},
      {">=1.0.0-0", "2.0.0-rc.1", true},
      {">=1.2.3-alpha", "1.2.3-beta", true},
      {">=1.2.3-beta", "1.2.3-alpha", false},
      {"1.0.0-alpha", "1.0.0-alpha", true},
      {"!=1.2.3", "1.3.0-beta", true},
      {">=1.0.0-0 <2.0.0", "1.5.0-beta", false},  // "<2.0.0" names no prerelease
      // Build metadata is ignored.
      {"1.2.3", "1.2.3+build.7", true},
  };
  for (const Case& c : cases) {
    INFO(c.range << " vs " << c.version);
    CHECK(range(c.range).matches(version(c.version)) == c.matches);
  }
}

TEST_CASE("invalid ranges are InvalidArgument with the reason") {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"", R"(invalid range "": empty)"},
      {"  ", R"(invalid range "  ": empty)"},
      {">=1.a", R"(invalid range ">=1.a": "1.a": minor: "a" is not a number or wildcard)"},
      {"==1.2.3", R"(invalid range "==1.2.3": unknown operator "==")"},
      {">=", R"(invalid range ">=": operator ">=" without a version)"},
      {"1.2.3 ||", R"(invalid range "1.2.3 ||": empty comparison group)"},
      {"|| 1.2.3", R"(invalid range "|| 1.2.3": empty comparison group)"},
      {"1.2.3.4", R"(invalid range "1.2.3.4": "1.2.3.4": more than three parts)"},
      {"01.2", R"(invalid range "01.2": "01.2": major: "01" has a leading zero)"},
      {"1.2.3-", R"(invalid range "1.2.3-": "1.2.3-": prerelease: empty identifier)"},
      {"- 1.2", R"(invalid range "- 1.2": "-" must stand between two versions ("1.2 - 1.4.5"))"},
      {"1.2 -", R"(invalid range "1.2 -": "-" must stand between two versions ("1.2 - 1.4.5"))"},
      {">1.2 - 1.4",
       R"(invalid range ">1.2 - 1.4": a hyphen range takes two plain versions ("1.2 - 1.4.5"))"},
      {"1.2 | 1.3", R"(invalid range "1.2 | 1.3": "|": major: "|" is not a number or wildcard)"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto r = parseRange(c.text);
    REQUIRE(!r);
    CHECK(r.error().code() == Code::kInvalidArgument);
    CHECK(r.error().message() == c.message);
  }
}

TEST_CASE("newestMatching picks the highest matching tag and ignores the rest") {
  const std::vector<std::string> tags = {
      "v1.0.0", "v1.4.2",    "v1.10.0-rc.1", "v1.9.0",         "v2.0.0",
      "latest", "release-7", "1.9.0",        "v1.9.0+build.2",
  };
  CHECK(newestMatching(range(">=1.0.0 <2.0.0"), tags) == "1.9.0");  // ties: first by bytes
  CHECK(newestMatching(range(">=1.0.0"), tags) == "v2.0.0");
  CHECK(newestMatching(range(">=1.10.0-0 <2.0.0-0"), tags) == "v1.10.0-rc.1");
  CHECK(newestMatching(range("~1.4"), tags) == "v1.4.2");
  CHECK(newestMatching(range(">=3.0.0"), tags) == std::nullopt);
  CHECK(newestMatching(range("*"), {}) == std::nullopt);
  // The order of the tags does not matter.
  std::vector<std::string> reversed(tags.rbegin(), tags.rend());
  CHECK(newestMatching(range(">=1.0.0 <2.0.0"), reversed) == "1.9.0");
}

}  // namespace
}  // namespace windlass::sources
