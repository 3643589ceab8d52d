#include "core/regex.h"

#include <doctest/doctest.h>

namespace windlass {
namespace {

Regex must(std::string_view pattern) {
  auto re = Regex::compile(pattern);
  REQUIRE_MESSAGE(re, (re ? "" : re.error().message()));
  return *re;
}

}  // namespace

TEST_CASE("Go syntax: flags, Unicode classes, Perl classes, named groups") {
  CHECK(must("(?i)web.*").fullMatch("WEB-frontend"));
  CHECK(!must("web.*").fullMatch("WEB-frontend"));
  CHECK(must(R"(\pL+)").fullMatch("ümlaut"));
  CHECK(!must(R"(\pL+)").fullMatch("web-1"));
  CHECK(must(R"(\p{Greek}+)").fullMatch("αβγ"));
  CHECK(must(R"(web-\d+)").fullMatch("web-12"));
  CHECK(must(R"((?P<n>x)y)").fullMatch("xy"));
  CHECK(must(R"((?<n>x)y)").fullMatch("xy"));  // Go 1.22 spelling
  CHECK(must(R"([[:alpha:]]+)").fullMatch("abc"));
  CHECK(must(R"(a\(?<b)").fullMatch("a(<b"));  // an escaped paren is not a group
  CHECK(must(R"([(?<]+)").fullMatch("(?<"));   // nor one in a character class
}

TEST_CASE("full and partial match") {
  Regex re = must("b+");
  CHECK(re.partialMatch("abbbc"));
  CHECK(!re.fullMatch("abbbc"));
  CHECK(re.fullMatch("bbb"));
  CHECK(!re.partialMatch("ac"));
  CHECK(must("").fullMatch(""));
}

TEST_CASE("a bad pattern is an error in Go's words, naming the pattern") {
  auto re = Regex::compile("web(");
  REQUIRE(!re);
  CHECK(re.error().code() == Code::kInvalidArgument);
  CHECK(re.error().message() ==
        "invalid regular expression \"web(\": error parsing regexp: missing closing ): `web(`");
  auto bad = Regex::compile("a**");
  REQUIRE(!bad);
  CHECK(bad.error().message() ==
        "invalid regular expression \"a**\": error parsing regexp: invalid nested repetition "
        "operator: `**`");
  CHECK(!Regex::compile("(?=x)"));  // no lookahead in Go either
  CHECK(!Regex::compile(R"(\1)"));  // nor back references
}

TEST_CASE("find returns the groups, by index and by name") {
  Regex re = must(R"(^(?P<major>\d+)\.(?P<minor>\d+)(?:-(?P<pre>\w+))?$)");
  CHECK(re.groupCount() == 3);
  CHECK(re.groupIndex("minor") == 2);
  CHECK(re.groupIndex("nope") == -1);
  auto m = re.find("1.25");
  REQUIRE(m);
  REQUIRE(m->groups.size() == 4);
  CHECK(*m->groups[0] == "1.25");
  CHECK(*re.group(*m, "major") == "1");
  CHECK(*re.group(*m, "minor") == "25");
  CHECK(!re.group(*m, "pre"));  // did not take part
  CHECK(!re.group(*m, "nope"));
  CHECK(!re.find("1.x"));
}

TEST_CASE("expand follows Go's Regexp.ExpandString") {
  // The image-policy form: filterTags {pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)', extract: '$ts'}.
  Regex re = must(R"(^main-[a-f0-9]+-(?P<ts>[0-9]+))");
  auto m = re.find("main-3fa2c1-1700000123");
  REQUIRE(m);
  CHECK(re.expand("$ts", *m) == "1700000123");
  CHECK(re.expand("${ts}", *m) == "1700000123");
  CHECK(re.expand("t=$1!", *m) == "t=1700000123!");
  CHECK(re.expand("$0", *m) == "main-3fa2c1-1700000123");
  CHECK(re.expand("$$ts", *m) == "$ts");
  CHECK(re.expand("$tsx", *m) == "");  // the longest name, and no such group
  CHECK(re.expand("${ts}x", *m) == "1700000123x");
  CHECK(re.expand("$nope-", *m) == "-");  // unknown group: empty
  CHECK(re.expand("$9", *m) == "");       // no such index
  CHECK(re.expand("a$", *m) == "a$");     // malformed: kept as text
  CHECK(re.expand("${ts", *m) == "${ts");
  CHECK(re.expand("plain", *m) == "plain");
}

TEST_CASE("a hostile pattern runs in linear time") {
  // (a+)+$ on "aaaa…!" takes exponential time in a backtracking engine.
  Regex re = must("(a+)+$");
  std::string text(100000, 'a');
  text += '!';
  // A backtracking engine would not finish (or would overflow its stack); RE2
  // answers in milliseconds. No timing is asserted: the test's timeout is the bound.
  CHECK(!re.fullMatch(text));
  CHECK(!must("(a|aa)*b").fullMatch(text));
  CHECK(re.partialMatch(text.substr(0, 5000)));
}

TEST_CASE("copies share the compiled pattern") {
  Regex a = must("x+");
  Regex b = a;
  CHECK(b.fullMatch("xxx"));
  CHECK(b.pattern() == "x+");
}

}  // namespace windlass
