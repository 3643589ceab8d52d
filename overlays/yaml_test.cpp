#include "overlays/yaml.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace windlass::overlays {
namespace {

// Parses `text` and prints every document back, joined as Kustomize joins them.
std::string roundTrip(const std::string& text, YamlDialect dialect = YamlDialect::kResource) {
  JsonAllocator alloc;
  auto docs = parseYaml(text, "r.yaml", dialect, alloc);
  REQUIRE_MESSAGE(docs, docs.error().message());
  std::string out;
  for (size_t i = 0; i < docs->size(); ++i) {
    if (i > 0) out += "---\n";
    emitYaml((*docs)[i], out);
  }
  return out;
}

std::string parseError(const std::string& text, YamlDialect dialect = YamlDialect::kResource,
                       const YamlLimits& limits = {}) {
  JsonAllocator alloc;
  auto docs = parseYaml(text, "r.yaml", dialect, alloc, limits);
  REQUIRE_MESSAGE(!docs, "expected an error for: " << text);
  CHECK(docs.error().code() == Code::kInvalidArgument);
  return docs.error().message();
}

JsonValue parseOne(const std::string& text, YamlDialect dialect, JsonAllocator& alloc) {
  auto docs = parseYaml(text, "r.yaml", dialect, alloc);
  REQUIRE_MESSAGE(docs, docs.error().message());
  REQUIRE(docs->size() == 1);
  return std::move((*docs)[0]);
}

// Inputs and outputs below were produced with `kubectl kustomize` (Kustomize v5.5.0)
// on a kustomization that lists the one resource.
TEST_CASE("resource scalars are typed and normalised as Kustomize does") {
  const std::string in = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: a
data:
  date: 2024-01-15
  datetime: 2001-12-14t21:59:43.10-05:00
  f1: 1234567.5
  f2: 12345678.9
  f3: 0.0001
  f4: 0.00001
  f5: 1e20
  f6: 1e21
  f7: 1.5e300
  f8: -0.0
  f9: 18446744073709551615
  f10: 18446744073709551616
  f11: 0b101
  f12: 0x_1F
  f13: ._5
  f14: 1__0
  f15: 100000.5
  f16: 1000000.5
  f17: .5e3
  f18: 0.000001
  f19: 123456.7
  s1: "1e3"
  s2: "0b101"
  s3: "-"
  s4: "~"
  s5: "null"
  s6: "2024-01-15"
  s7: ".5"
  s8: "+12"
  s9: "1_000"
  s10: "a: b"
  s11: " lead"
  s12: "trail "
  s13: "x\ty"
  s14: "Y"
  s15: "<<"
  s16: ""
  s17: "0o17"
  s18: "1:20:30"
  s19: "190:20:30.15"
  s20: "-.inf"
  s21: ".Inf"
  s22: "1.0"
  n1: null
  n2: ~
  n3:
  key10: a
  key9: b
  key09: c
  key0: d
  Key: e
  _k: f
  A1b: g
)";
  const std::string want = R"(apiVersion: v1
data:
  _k: f
  A1b: g
  Key: e
  date: "2024-01-15T00:00:00Z"
  datetime: "2001-12-14T21:59:43.1-05:00"
  f1: 1.2345675e+06
  f2: 1.23456789e+07
  f3: 0.0001
  f4: 1e-05
  f5: 1e+20
  f6: 1e+21
  f7: 1.5e+300
  f8: 0
  f9: 18446744073709551615
  f10: 1.8446744073709552e+19
  f11: 5
  f12: 31
  f13: ._5
  f14: 10
  f15: 100000.5
  f16: 1.0000005e+06
  f17: 500
  f18: 1e-06
  f19: 123456.7
  key0: d
  key9: b
  key09: c
  key10: a
  n1: null
  n2: null
  n3: null
  s1: "1e3"
  s2: "0b101"
  s3: '-'
  s4: "~"
  s5: "null"
  s6: "2024-01-15"
  s7: ".5"
  s8: "+12"
  s9: "1_000"
  s10: 'a: b'
  s11: ' lead'
  s12: 'trail '
  s13: "x\ty"
  s14: "Y"
  s15: <<
  s16: ""
  s17: "0o17"
  s18: "1:20:30"
  s19: "190:20:30.15"
  s20: "-.inf"
  s21: ".Inf"
  s22: "1.0"
kind: ConfigMap
metadata:
  name: a
)";
  CHECK(roundTrip(in) == want);
}

TEST_CASE("the two dialects disagree on YAML 1.1 bools and timestamps, agree on octal") {
  const std::string in = "a: yes\nb: on\nc: y\nd: NO\ne: 0123\nf: 2024-01-15\ng: 'yes'\n";
  JsonAllocator alloc;
  JsonValue k = parseOne(in, YamlDialect::kKustomization, alloc);
  CHECK(k["a"].IsTrue());
  CHECK(k["b"].IsTrue());
  CHECK(k["c"].IsTrue());
  CHECK(k["d"].IsFalse());
  CHECK(k["e"].GetInt64() == 83);
  CHECK(std::string(k["f"].GetString()) == "2024-01-15");
  CHECK(std::string(k["g"].GetString()) == "yes");
  JsonValue r = parseOne(in, YamlDialect::kResource, alloc);
  CHECK(std::string(r["a"].GetString()) == "yes");
  CHECK(std::string(r["b"].GetString()) == "on");
  CHECK(std::string(r["c"].GetString()) == "y");
  CHECK(std::string(r["d"].GetString()) == "NO");
  CHECK(r["e"].GetInt64() == 83);
  CHECK(std::string(r["f"].GetString()) == "2024-01-15T00:00:00Z");
  // Written back, strings that YAML 1.1 reads as bools are quoted.
  CHECK(roundTrip("a: yes\nb: n\nOff: x\n") == "\"Off\": x\na: \"yes\"\nb: \"n\"\n");
}

TEST_CASE("integral floats become integers; the rest stay doubles") {
  JsonAllocator alloc;
  JsonValue r = parseOne("a: 1e3\nb: 1.0\nc: 2.5\nd: 1e20\ne: 9223372036854775808\n",
                         YamlDialect::kResource, alloc);
  CHECK(r["a"].IsInt64());
  CHECK(r["a"].GetInt64() == 1000);
  CHECK(r["b"].GetInt64() == 1);
  CHECK(r["c"].IsDouble());
  CHECK(r["d"].IsDouble());
  CHECK(r["e"].IsUint64());
  CHECK_FALSE(r["e"].IsInt64());
}

TEST_CASE("repeated keys: an error in resources, the last wins in a kustomization") {
  CHECK(parseError("a: 1\nb: 2\na: 3\n") ==
        "r.yaml:3:1: mapping key \"a\" already defined at line 1");
  JsonAllocator alloc;
  JsonValue k = parseOne("namePrefix: a-\nnamePrefix: b-\n", YamlDialect::kKustomization, alloc);
  CHECK(k.MemberCount() == 1);
  CHECK(std::string(k["namePrefix"].GetString()) == "b-");
  // A map with many keys takes the hashed path; the check must still hold.
  std::string big;
  for (int i = 0; i < 40; ++i) big += "k" + std::to_string(i) + ": v\n";
  CHECK(parseError(big + "k7: again\n").find("mapping key \"k7\" already defined at line 8") !=
        std::string::npos);
}

TEST_CASE("merge keys: explicit keys win, then earlier sources") {
  const std::string in = R"(base: &b
  x: 1
  y: 2
  n:
    deep: 1
over: &o
  y: 3
  z: 4
  n:
    other: 2
data:
  <<: [*b, *o]
  x: 9
data3:
  x: 9
  <<: *b
)";
  const std::string want = R"(base:
  "n":
    deep: 1
  x: 1
  "y": 2
data:
  "n":
    deep: 1
  x: 9
  "y": 2
  z: 4
data3:
  "n":
    deep: 1
  x: 9
  "y": 2
over:
  "n":
    other: 2
  "y": 3
  z: 4
)";
  CHECK(roundTrip(in) == want);
  CHECK(parseError("a: &a {x: 1}\nb:\n  <<: *a\n  <<: {y: 2}\n") ==
        "r.yaml:4:3: duplicate merge key");
  CHECK(parseError("a:\n  <<: 5\n").find("map merge requires map or sequence of maps") !=
        std::string::npos);
}

TEST_CASE("aliases are expanded, and alias bombs stop fast") {
  CHECK(roundTrip("a: &x [1, {b: c}]\nd: *x\n") == "a:\n- 1\n- b: c\nd:\n- 1\n- b: c\n");
  std::string bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c, ++prev) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) bomb += std::string(i ? ", *" : "*") + prev;
    bomb += "]\n";
  }
  auto start = std::chrono::steady_clock::now();
  std::string err = parseError(bomb);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(err.find("r.yaml:") == 0);
  CHECK(err.find("maxAliasExpansion") != std::string::npos);
  CHECK(took < std::chrono::seconds(2));  // generous: the real figure is milliseconds
  CHECK(parseError("a: *nope\n").find("r.yaml:1:4:") == 0);
}

TEST_CASE("limits on depth and node count") {
  std::string deep(300, '[');
  deep += std::string(300, ']') + "\n";
  std::string err = parseError("a: " + deep);
  CHECK(err.find("nesting deeper than 256 levels (YamlLimits::maxDepth)") != std::string::npos);
  YamlLimits small;
  small.maxNodes = 10;
  CHECK(parseError("a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n", YamlDialect::kResource, small)
            .find("more than 10 nodes (YamlLimits::maxNodes)") != std::string::npos);
}

TEST_CASE("yaml-cpp looping on malformed input is stopped at once") {
  // yaml-cpp 0.7 reports empty documents without end for a document that starts
  // with a comma (found by fuzz_render; kept in tests/fuzz/corpus).
  CHECK(parseError(",\n") ==
        "r.yaml:1:1: malformed YAML: the parser reports more nodes than 2 bytes can hold");
  CHECK(parseError("a: 1\n---\n, b\n").find("malformed YAML") != std::string::npos);
  // The bound leaves room for the densest valid YAML: keys without values, nested flows.
  CHECK(roundTrip("a:\nb:\nc:\n") == "a: null\nb: null\nc: null\n");
  CHECK(roundTrip("[[[[{}]]]]\n") == "- - - - {}\n");
}

TEST_CASE("keys with digit runs too long for int64 sort without overflow") {
  // go-yaml compares digit runs as wrapping int64s (found by fuzz_render under UBSan).
  CHECK(roundTrip("k99999999999999999999: 1\nk1: 2\nk18446744073709551617: 3\n") ==
        "k1: 2\nk18446744073709551617: 3\nk99999999999999999999: 1\n");
}

TEST_CASE("a resource's annotations keep each scalar's text, as Kustomize reads them") {
  CHECK(
      roundTrip("metadata:\n  annotations:\n    n: 1.50\n    b: true\n    t: ~\n    o: 0x1F\n"
                "spec:\n  template:\n    metadata:\n      annotations: {n: 1.50}\n") ==
      "metadata:\n  annotations:\n    b: \"true\"\n    \"n\": \"1.50\"\n    o: \"0x1F\"\n"
      "    t: \"~\"\nspec:\n  template:\n    metadata:\n      annotations:\n        \"n\": 1.5\n");
  // The kustomization dialect has no such rule.
  CHECK(roundTrip("metadata:\n  annotations: {p: 1.50}\n", YamlDialect::kKustomization) ==
        "metadata:\n  annotations:\n    p: 1.5\n");
}

TEST_CASE("errors name the file, line and column") {
  CHECK(parseError("apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: tabbed\n") ==
        "r.yaml:4:1: found character that cannot start any token (a tab indents this line; "
        "YAML indents with spaces)");
  CHECK(parseError("a: 1\nb: \"unterminated\n   c: d\n") ==
        "r.yaml:2:4: found unexpected end of stream while scanning a quoted scalar");
  CHECK(parseError("a:\n  b: .inf\n").find("r.yaml:2:6: json: unsupported value: .inf") == 0);
  CHECK(parseError("a:\n  80: http\n") ==
        "r.yaml:2:3: mapping key \"80\" is not a string: Kustomize cannot encode it as JSON");
  std::string bad = parseError("a: [1, 2\n");
  CHECK(bad.find("r.yaml:") == 0);
  CHECK(bad.size() > std::string("r.yaml:1:1: ").size());
}

TEST_CASE("documents: empty ones are dropped, markers and comments ignored") {
  JsonAllocator alloc;
  auto docs = parseYaml("# c\n---\n---\na: 1 # x\n...\n---\nb: 2\n---\n", "r.yaml",
                        YamlDialect::kResource, alloc);
  REQUIRE(docs);
  REQUIRE(docs->size() == 2);
  CHECK((*docs)[0]["a"].GetInt64() == 1);
  CHECK((*docs)[1]["b"].GetInt64() == 2);
  auto none = parseYaml("", "r.yaml", YamlDialect::kResource, alloc);
  REQUIRE(none);
  CHECK(none->empty());
}

// The empty-null paths of each document, each path joined with '.', sorted.
std::vector<std::vector<std::string>> emptyNullsOf(const std::string& text,
                                                   YamlDialect dialect = YamlDialect::kResource) {
  JsonAllocator alloc;
  std::vector<EmptyNullPaths> nulls;
  auto docs = parseYaml(text, "r.yaml", dialect, alloc, YamlLimits{}, &nulls);
  REQUIRE_MESSAGE(docs, docs.error().message());
  REQUIRE((nulls.empty() || nulls.size() == docs->size()));
  std::vector<std::vector<std::string>> out;
  for (const EmptyNullPaths& doc : nulls) {
    std::vector<std::string> joined;
    for (const std::vector<std::string>& path : doc) {
      std::string s;
      for (const std::string& step : path) s += (s.empty() ? "" : ".") + step;
      joined.push_back(s);
    }
    std::sort(joined.begin(), joined.end());
    out.push_back(std::move(joined));
  }
  return out;
}

TEST_CASE("members written with no value are told from nulls written out") {
  // Kustomize (kyaml) keeps the text: `key:` and `key: !!null` are empty, while
  // null, Null, NULL and ~ are written out; a following key `nullable` or `null`
  // does not make the empty node before it a written null.
  using Docs = std::vector<std::vector<std::string>>;
  CHECK(emptyNullsOf(R"(a:
nullable: 1
b: null
c: ~
d:
  e:
  f: !!null
  g: !!null null
  h: # comment
  i:
    null
l:
- k:
  j: Null
- {x: , y: NULL, z: }
- 
last:
)") == Docs{{"a", "d.e", "d.f", "d.h", "l.0.k", "l.1.x", "l.1.z", "last"}});
  CHECK(emptyNullsOf("a:\nnull: 1\n") == Docs{{"a"}});
  CHECK(emptyNullsOf("a:\n~ : 1\n") == Docs{{"a"}});
  // One entry per returned document; none at all when no document has any.
  CHECK(emptyNullsOf("a: 1\n---\n---\nb:\n---\nc: null\n") == Docs{{}, {"b"}, {}});
  CHECK(emptyNullsOf("a: 1\nb: null\n").empty());
  CHECK(emptyNullsOf("a:\n", YamlDialect::kKustomization).empty());
}

TEST_CASE("empty nulls follow aliases and merge keys to where the copies land") {
  using Docs = std::vector<std::vector<std::string>>;
  CHECK(emptyNullsOf(R"(m: &z
  inner:
  keep: null
  arr:
  - q:
n: *z
o:
  <<: *z
  inner: 1
p: &e
q: *e
r: &w null
s: *w
t:
  <<: [{extra: }, *z]
)") == Docs{{"m.arr.0.q", "m.inner", "n.arr.0.q", "n.inner", "o.arr.0.q", "p", "q", "t.arr.0.q",
             "t.extra", "t.inner"}});
}

TEST_CASE("the empty nulls are left empty when parsing fails") {
  JsonAllocator alloc;
  std::vector<EmptyNullPaths> nulls(1);
  auto docs =
      parseYaml("a:\n---\nb: [\n", "r.yaml", YamlDialect::kResource, alloc, YamlLimits{}, &nulls);
  REQUIRE_FALSE(docs);
  CHECK(nulls.empty());
}

TEST_CASE("emission of tricky strings, keys and empty collections") {
  const std::string in = R"(metadata:
  longkey: {"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk": 1, "multi\nline": 2}
  seqseq: [[1, 2], [], [[3]], {}, "", null]
  folded_more: "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp qqqq rrrr"
  sq: "it's a  double  space string that is pretty long and needs folding at some point after eighty"
  trailing: "abc\n"
  lead_nl: "\nabc"
  sp_nl: "abc \ndef"
  tabs: "a\tb\nc"
  zz: "keep\n\n"
)";
  const std::string want = R"(metadata:
  folded_more: aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn
    oooo pppp qqqq rrrr
  lead_nl: |2-

    abc
  longkey:
    ? kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk
    : 1
    ? |-
      multi
      line
    : 2
  seqseq:
  - - 1
    - 2
  - []
  - - - 3
  - {}
  - ""
  - null
  sp_nl: "abc \ndef"
  sq: it's a  double  space string that is pretty long and needs folding at some point
    after eighty
  tabs: "a\tb\nc"
  trailing: |
    abc
  zz: |+
    keep

)";
  CHECK(roundTrip(in) == want);
  // é is printable and written as is; the emoji (beyond the BMP) and BEL are escaped.
  CHECK(roundTrip("t: \">ab\"\nu: \"\\u00e9\\U0001F680\\a\"\n") ==
        "t: '>ab'\nu: \"\xC3\xA9\\U0001F680\\a\"\n");
}

TEST_CASE("folded scalars read back as kyaml rewrites them") {
  // kyaml writes a folded node out again and go-yaml v3 doubles some of its
  // line breaks; ">+" keeps every trailing empty line (yaml-cpp loses one).
  const std::string in =
      "a: >\n  normal text\n    indented keeps newline\n  back to normal\n"
      "b: >+\n  folded keep\n\n"
      "c: >\n  folded lines\n  become one\n\n  new paragraph\n";
  const std::string want =
      "a: |\n  normal text\n\n    indented keeps newline\n  back to normal\n"
      "b: |+\n  folded keep\n\n\n"
      "c: |\n  folded lines become one\n  new paragraph\n";
  CHECK(roundTrip(in) == want);
  // The kustomization dialect reads folded scalars plainly.
  JsonAllocator alloc;
  JsonValue k = parseOne(in, YamlDialect::kKustomization, alloc);
  CHECK(std::string(k["a"].GetString()) ==
        "normal text\n  indented keeps newline\nback to normal\n");
  CHECK(std::string(k["b"].GetString()) == "folded keep\n\n");
}

TEST_CASE("emitting values built in code") {
  JsonAllocator alloc;
  JsonValue doc(rapidjson::kObjectType);
  doc.AddMember("pi", JsonValue(3.14159), alloc);
  doc.AddMember("big", JsonValue(1e20), alloc);
  doc.AddMember("whole", JsonValue(42.0), alloc);
  doc.AddMember("neg", JsonValue(int64_t{-7}), alloc);
  doc.AddMember("tiny", JsonValue(2.5e-7), alloc);
  doc.AddMember("s", JsonValue("on", alloc), alloc);
  doc.AddMember("bad", JsonValue("a\xFFz", alloc), alloc);
  std::string out;
  emitYaml(doc, out);
  CHECK(out ==
        "bad: a\xEF\xBF\xBDz\nbig: 1e+20\nneg: -7\npi: 3.14159\ns: \"on\"\ntiny: 2.5e-07\nwhole: "
        "42\n");
  std::string list;
  emitYaml(JsonValue(rapidjson::kArrayType), list);
  CHECK(list == "[]\n");
}

}  // namespace
}  // namespace windlass::overlays
