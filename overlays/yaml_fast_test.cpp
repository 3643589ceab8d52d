#include "overlays/yaml_fast.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/yaml_paths.h"

namespace windlass::overlays {
namespace {

using testing::parseBy;

constexpr YamlDialect kDialects[] = {YamlDialect::kResource, YamlDialect::kKustomization};

// The fast path reads `text` by itself, and gives what yaml-cpp gives.
void checkFast(const std::string& text) {
  for (YamlDialect d : kDialects) {
    auto fast = parseBy(YamlPath::kFastOnly, text, d);
    auto slow = parseBy(YamlPath::kYamlCppOnly, text, d);
    INFO("input:\n" << text);
    REQUIRE_MESSAGE(fast.ok, fast.text);
    CHECK(fast.text == slow.text);
    auto both = parseBy(YamlPath::kAuto, text, d);
    CHECK(both.text == slow.text);
  }
}

// The fast path gives `text` up (in `dialects`), and parseYaml still gives what
// yaml-cpp gives.
void checkLeftToYamlCpp(const std::string& text, std::vector<YamlDialect> dialects = {
                                                     std::begin(kDialects), std::end(kDialects)}) {
  for (YamlDialect d : dialects) {
    INFO("input:\n" << text);
    auto fast = parseBy(YamlPath::kFastOnly, text, d);
    CHECK_MESSAGE(!fast.ok, fast.text);
    CHECK(fast.text.find("outside the subset the fast YAML path reads") != std::string::npos);
    auto slow = parseBy(YamlPath::kYamlCppOnly, text, d);
    auto both = parseBy(YamlPath::kAuto, text, d);
    CHECK(both.ok == slow.ok);
    CHECK(both.text == slow.text);
  }
}

TEST_CASE("the fast path reads block maps and sequences as yaml-cpp does") {
  checkFast("a: 1\nb: two\nc:\n  d: [x, y]\n");
  checkFast("list:\n- a\n- b\nnext: 1\n");             // indentless sequence
  checkFast("list:\n  - a\n  -\n  - c\n");             // empty entry
  checkFast("- a: 1\n  b: 2\n- c:\n  - x\n  d: 4\n");  // compact maps in a sequence
  checkFast("a:\nb:\n  c:\nd: 1\n");                   // empty values
  checkFast("a: ~\nb: null\nc: Null\nd: NULL\nnull: 1\n~: 2\n");
  checkFast("  a: 1\n  b:\n    c: 2\n");  // an indented root
  checkFast("a:   spaced   \nb: x # comment\n# full line\nc: y\n");
  checkFast("key with spaces  : v\n-x: 1\n?y: 2\n:z: 3\n");
  checkFast("a: http://example.com/#frag\nb: a:b\nc: 'q'\nd: \"e\"\n");
  checkFast("---\na: 1\n---\n---\nb: 2\n");
  checkFast("# only a comment\n");
  checkFast("");
  checkFast("a: 1\n--- # next\nb: 2\n---\n");
  checkFast("a: yes\nb: on\nc: 0123\nd: 1e3\ne: 2024-01-15\nf: 0x1F\ng: .5\n");
  checkFast("metadata:\n  annotations:\n    a: 1.50\n    b: true\n    c: ~\n    d:\n");
  checkFast("a: \xC3\xA9t\xC3\xA9\nb: \"\xE2\x80\x94\"\n");
}

TEST_CASE("the fast path folds plain scalars over lines as yaml-cpp does") {
  checkFast("a: one\n  two\n\n  three\n\n\n  four\nb: 1\n");
  checkFast("- one\n  two\n- three\n");
  checkFast("a:\n  b: one\n   two   \n  c: 1\n");
  checkFast("a: one\n  two # comment ends it\nb: 2\n");
  checkFast("a: one\n  # an indented comment ends it\nb: 2\n");
  checkFast("a: one\n  - two\n");   // "- two" is text
  checkFast("a:\n  one\n  two\n");  // a scalar on the lines below its key
  checkFast("a: one\n\n");
  // Tabs among the blanks that start a continuation line, after its indentation.
  checkFast("a: one\n  \ttwo\n   \t three\nb: 1\n");
  checkFast("a: |\n  \tcode\n  x\n");
}

TEST_CASE("the fast path reads quoted scalars as yaml-cpp does") {
  checkFast("a: 'it''s'\nb: \"say \\\"hi\\\" \\\\ \\/ \\n \\t\"\nc: ''\nd: \"\"\n");
  checkFast("a: 'one\n  two\n\n  three   \n    four'\nb: 1\n");
  checkFast("a: \"one \\\n  two\"\nb: \"x\\ty \\\n\n  z\"\n");
  checkFast("a: \"trailing\n\n\n  \"\n");
  checkFast("\"quoted key\": 1\n'other': 2\n");
  checkFast("- 'a'\n- \"b\" # c\n");
  checkFast("a: \"\\ leading space\"\n");
}

TEST_CASE("the fast path reads literal block scalars as yaml-cpp does") {
  checkFast("a: |\n  one\n   two\n\n  three\nb: 1\n");
  checkFast("a: |-\n  one\n  two\n\n\nb: 1\n");
  checkFast("a: |\n\n  after an empty line\n");
  checkFast("- |\n  in a list\n- |-\n  again\n");
  checkFast("a: | # comment\n  text # not a comment\n");
  checkFast("a: |2-\n     two extra\n   none\nb: 1\n");
  checkFast("a:\n  b: |\n    deep\n  c: 1\n");
  checkFast("a: |\n  no final break");
  checkFast("a: |\n  x\n  ");
}

TEST_CASE("the fast path reads flow collections as yaml-cpp does") {
  checkFast("a: []\nb: {}\nc: [ ]\nd: { }\n");
  checkFast("a: [x, 'y', \"z\", 1, ~, null]\nb: {k: v, 'q': [1, {n: m}]}\n");
  checkFast("args: [\"--a\",\n       \"--b\", # comment\n       c]\nnext: 1\n");
  checkFast("a: [x, y, ]\nb: [http://x, a:b]\n");
  checkFast("- [a, b]\n- {c: d}\n");
  checkFast("a:\n  {}\nb:\n  [1, 2]\n");
}

TEST_CASE("the fast path leaves the rest to yaml-cpp") {
  checkLeftToYamlCpp("a: &x 1\nb: *x\n");
  checkLeftToYamlCpp("base: &b {k: v}\nm:\n  <<: *b\n");
  checkLeftToYamlCpp("a: !!str 1\n");
  checkLeftToYamlCpp("a: >\n  folded\n");
  checkLeftToYamlCpp("a: |+\n  kept\n\n");
  checkLeftToYamlCpp("? complex\n: key\n");
  checkLeftToYamlCpp("%YAML 1.2\n---\na: 1\n");
  checkLeftToYamlCpp("a: 1\n...\n");
  checkLeftToYamlCpp("a:\tb\n");
  checkLeftToYamlCpp("a: one\n\ttwo\n");
  checkLeftToYamlCpp("a:\n  \tb: 1\n");
  checkLeftToYamlCpp("a: 'x\n  \ty'\n");
  checkLeftToYamlCpp("a: [x,\n  \ty]\n");
  checkLeftToYamlCpp("- a\n \n  \t\n");
  checkLeftToYamlCpp("a: 1\r\nb: 2\r\n");
  checkLeftToYamlCpp("- - a\n");
  checkLeftToYamlCpp("a: |\n  x\n     ");  // found by fuzz_yaml_fast
  checkLeftToYamlCpp("just a scalar\n");
  checkLeftToYamlCpp("a: \"\\x41\"\n");
  checkLeftToYamlCpp("a: [x\n  , y]\n");
  checkLeftToYamlCpp("a: {k}\n");
  checkLeftToYamlCpp("a: 1\n b: 2\n");       // bad indentation: an error
  checkLeftToYamlCpp("a: b: c\n");           // an error
  checkLeftToYamlCpp("a: 'unterminated\n");  // an error
  // A repeated key: the builder's error, reported at yaml-cpp's marks.
  checkLeftToYamlCpp("a: 1\na: 2\n", {YamlDialect::kResource});
  checkLeftToYamlCpp("a: .inf\n");  // another builder error (kResource)
}

// Every YAML file of the shared corpora: parseYaml gives what yaml-cpp alone
// gives (documents, empty nulls, or the error word for word), and the fast path
// reads nearly all of the bytes.
TEST_CASE("parseYaml with the fast path equals yaml-cpp on the shared corpora") {
  const char* shared = std::getenv("WINDLASS_SHARED");
  std::filesystem::path root = shared != nullptr ? shared : "../shared";
  REQUIRE_MESSAGE(std::filesystem::is_directory(root / "realworld" / "src"),
                  "the shared corpus is missing: " << root);
  size_t files = 0, bytes = 0, fastBytes = 0;
  for (const char* dir : {"realworld/src", "conformance/cases"}) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(
             root / dir, std::filesystem::directory_options::skip_permission_denied)) {
      if (!e.is_regular_file()) continue;
      std::string ext = e.path().extension().string();
      if (ext != ".yaml" && ext != ".yml") continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      std::string text = ss.str();
      ++files;
      bytes += text.size();
      auto slow = parseBy(YamlPath::kYamlCppOnly, text, YamlDialect::kResource);
      auto both = parseBy(YamlPath::kAuto, text, YamlDialect::kResource);
      auto fast = parseBy(YamlPath::kFastOnly, text, YamlDialect::kResource);
      if (fast.ok) fastBytes += text.size();
      INFO(e.path().string());
      CHECK(both.text == slow.text);
      if (fast.ok) CHECK(fast.text == slow.text);
    }
  }
  MESSAGE(files << " files, " << bytes << " bytes, " << fastBytes << " read by the fast path");
  CHECK(files > 1000);
  CHECK(fastBytes * 100 >= bytes * 95);
}

}  // namespace
}  // namespace windlass::overlays
