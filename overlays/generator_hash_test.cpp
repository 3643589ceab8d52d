#include "overlays/generator_hash.h"

#include <doctest/doctest.h>

#include <string>

#include "core/sha256.h"

namespace windlass::overlays {
namespace {

JsonDocument parse(const std::string& json) {
  JsonDocument d;
  d.Parse(json.c_str());
  REQUIRE_MESSAGE(!d.HasParseError(), "bad test JSON: " << json);
  return d;
}

std::string hashOf(const std::string& json) {
  JsonDocument d = parse(json);
  auto h = generatorHash(d);
  REQUIRE_MESSAGE(h.has_value(), h.error().message());
  return *h;
}

std::string inputOf(const std::string& json) {
  JsonDocument d = parse(json);
  auto in = generatorHashInput(d);
  REQUIRE_MESSAGE(in.has_value(), in.error().message());
  return *in;
}

std::string configMap(const std::string& name, const std::string& rest) {
  return R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ")" + name + R"("}, )" +
         rest + "}";
}

std::string secret(const std::string& name, const std::string& rest) {
  return R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": ")" + name + R"("}, )" +
         rest + "}";
}

}  // namespace

// Every expected suffix below is what `kubectl kustomize` (Kustomize v5.5.0)
// printed for a generator producing that object: the first group comes from
// the conformance corpus (/work/shared/conformance/cases/generator-*), the
// second from generators written for this test and run through kubectl.

TEST_CASE("ConfigMaps from the conformance corpus get Kustomize's suffixes") {
  // generator-configmap-literals: app-literals-6mc5hcftdm
  CHECK(hashOf(configMap("app-literals", R"("data": {
    "PLAIN": "value", "WITH_EQUALS": "a=b=c", "WITH_SPACES": "hello world",
    "QUOTED": "double quoted", "SINGLE": "single quoted", "NUMBER": "8080", "BOOL": "true",
    "EMPTY": ""})")) == "6mc5hcftdm");
  // generator-configmap-envs: app-env-dd8dbm7fk8
  CHECK(hashOf(configMap("app-env", R"("data": {
    "DB_HOST": "db.internal", "DB_PORT": "5432", "DB_REPLICA_PORT": "6432",
    "DSN": "postgres://user@db.internal:5432/app?sslmode=disable", "EMPTY": "", "EXTRA": "1",
    "GREETING": "\"hello there\""})")) == "dd8dbm7fk8");
  // generator-multiline-file-values: scripts-2fd89dtffd
  CHECK(hashOf(configMap("scripts", R"("data": {
    "entrypoint.sh": "#!/bin/sh\nset -eu\necho \"starting $APP\"\nexec \"$@\"\n",
    "no-trailing-newline.txt": "line one\nline two",
    "trailing-spaces.txt": "ends with spaces   \n  and indented line\n"})")) == "2fd89dtffd");
  // generator-binary-file: blobs-k49h6h9b57
  CHECK(hashOf(configMap("blobs", R"("binaryData": {"logo.bin": "iVBORw0KGgoA//4QgA=="},
    "data": {"readme.txt": "plain text\n"})")) == "k49h6h9b57");
}

TEST_CASE("the name, labels, annotations, namespace and immutable do not change the hash") {
  // generator-immutable: frozen-276ch85d82 (immutable) and thawed-276ch85d82
  CHECK(hashOf(configMap("frozen", R"("data": {"K": "v"}, "immutable": true)")) == "276ch85d82");
  CHECK(hashOf(configMap("thawed", R"("data": {"K": "v"})")) == "276ch85d82");
  // generator-options-labels-annotations: with-global-options-89g4tffbfk
  CHECK(hashOf(R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
    "name": "with-global-options", "namespace": "prod",
    "labels": {"app": "billing", "generated-by": "kustomize"},
    "annotations": {"note": "generated"}}, "data": {"A": "1"}})") == "89g4tffbfk");
  CHECK(hashOf(configMap("other-name", R"("data": {"A": "1"})")) == "89g4tffbfk");
  // A different value does change it.
  CHECK(hashOf(configMap("thawed", R"("data": {"K": "w"})")) != "276ch85d82");
}

TEST_CASE("Secrets from the conformance corpus get Kustomize's suffixes") {
  // generator-secret-literals-files-type
  CHECK(hashOf(secret("db-auth", R"("type": "Opaque",
    "data": {"username": "YWRtaW4=", "password": "czNjcjN0IQ=="})")) == "9fkdhmtfc7");
  CHECK(hashOf(secret("env-secret", R"("type": "Opaque",
    "data": {"API_KEY": "YWJjMTIz", "API_SECRET": "eHl6PTc4OQ=="})")) == "kgc89bf7mt");
  // Kustomize breaks base64 longer than 70 characters into lines, each ending in "\n".
  CHECK(hashOf(secret("tls-pair",
                      R"("type": "kubernetes.io/tls", "data": {"tls.crt": ")"
                      "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJmYWtlY2VydGlmaWNhdGVkYXRhb2\\n"
                      "5seWZvcnRlc3RzCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K\\n"
                      R"(", "tls.key": ")"
                      "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUJmYWtla2V5ZGF0YW9ubHlmb3J0ZX\\n"
                      "N0cwotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==\\n"
                      R"("})")) == "5mkfh6f77m");
  // generator-immutable: frozen-secret-8gkfgg4d6d
  CHECK(hashOf(secret("frozen-secret", R"("type": "Opaque", "data": {"K": "dg=="},
    "immutable": true)")) == "8gkfgg4d6d");
}

TEST_CASE("HTML characters, unicode, control characters and line separators") {
  // configMapGenerator literals "A=<b>x & y</b>" and 'Q=say "hi" \ back': html-685ff6dcgh
  std::string html =
      configMap("html", R"("data": {"A": "<b>x & y</b>", "Q": "say \"hi\" \\ back"})");
  CHECK(hashOf(html) == "685ff6dcgh");
  CHECK(inputOf(html) ==
        R"({"data":{"A":"\u003cb\u003ex \u0026 y\u003c/b\u003e","Q":"say \"hi\" \\ back"},)"
        R"("kind":"ConfigMap","name":""})");
  // Non-ASCII text is written as UTF-8, not escaped: uni-dmtg7bfmbf
  CHECK(hashOf(configMap("uni", R"("data": {"GREET": "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c",
    "EMOJI": "\ud83d\ude80", "ZZ": "tab\there"})")) == "dmtg7bfmbf");
  // Files with tab, CR and U+2028/U+2029: ctl-b7bkmm4f2b
  std::string ctl = configMap("ctl", R"("data": {"ctl.txt": "a\tb\r\nc\n",
    "sep.txt": "line\u2028sep\u2029end"})");
  CHECK(hashOf(ctl) == "b7bkmm4f2b");
  CHECK(inputOf(ctl).find(R"("line\u2028sep\u2029end")") != std::string::npos);
  // Secret literal "x=<&>": htmlsec-m95cc8cgh5
  CHECK(hashOf(secret("htmlsec", R"("type": "Opaque", "data": {"x": "PCY+"})")) == "m95cc8cgh5");
}

TEST_CASE("keys are sorted bytewise, uppercase and '_' before lowercase") {
  // literals b=2, a=1, B=3, _=4: multi-5f9m8b8h59
  std::string multi = configMap("multi", R"("data": {"b": "2", "a": "1", "B": "3", "_": "4"})");
  CHECK(hashOf(multi) == "5f9m8b8h59");
  CHECK(inputOf(multi) ==
        R"({"data":{"B":"3","_":"4","a":"1","b":"2"},"kind":"ConfigMap","name":""})");
}

TEST_CASE("missing and empty data, binaryData only, and a Secret type") {
  // configMapGenerator with no sources: no data field at all; empty-6ct58987ht
  const std::string empty =
      R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e"}})";
  CHECK(hashOf(empty) == "6ct58987ht");
  CHECK(inputOf(empty) == R"({"data":"","kind":"ConfigMap","name":""})");
  // secretGenerator with no sources writes "data: {}": emptysec-46f8b28mk5
  CHECK(hashOf(secret("emptysec", R"("type": "Opaque", "data": {})")) == "46f8b28mk5");
  // binary file only: binonly-8fc7fd2hg8; with a literal too: bin-hk79g45gmb
  CHECK(hashOf(configMap("binonly", R"("binaryData": {"bin.dat": "iVBORwD//g=="})")) ==
        "8fc7fd2hg8");
  CHECK(hashOf(configMap("bin", R"("binaryData": {"bin.dat": "iVBORwD//g=="},
    "data": {"k": "v"})")) == "hk79g45gmb");
  // type kubernetes.io/tls from literals: tls-4b255hm948
  CHECK(hashOf(secret("tls", R"("type": "kubernetes.io/tls",
    "data": {"tls.crt": "Q0VSVA==", "tls.key": "S0VZ"})")) == "4b255hm948");
  // A Secret without a type encodes "type":"" and so differs from Opaque.
  CHECK(inputOf(secret("s", R"("data": {}, "stringData": {"b": "x"})")) ==
        R"({"data":{},"kind":"Secret","name":"","stringData":{"b":"x"},"type":""})");
}

TEST_CASE("the suffix is the encoded SHA-256 of the hash input") {
  std::string obj = configMap("x", R"("data": {"K": "v"})");
  std::string hex = sha256Hex(inputOf(obj));
  std::string expected = hex.substr(0, 10);
  for (char& c : expected) {
    c = c == '0' ? 'g' : c == '1' ? 'h' : c == '3' ? 'k' : c == 'a' ? 'm' : c == 'e' ? 't' : c;
  }
  CHECK(hashOf(obj) == expected);
  CHECK(*encodeHashSuffix("0123456789abcdef") == "gh2k456789");
  CHECK(*encodeHashSuffix("aebfcd0e31") == "mtbfcdgtkh");
  CHECK(!encodeHashSuffix("abc"));
}

TEST_CASE("goJsonMarshal writes numbers, nesting and invalid UTF-8 as Go does") {
  CHECK(goJsonMarshal(parse(R"({"n": 8080, "f": 1.5, "z": null, "b": true, "l": [1, "<"]})")) ==
        R"({"b":true,"f":1.5,"l":[1,"\u003c"],"n":8080,"z":null})");
  CHECK(goJsonMarshal(parse("[1e21, 1e-7, 0.000001, 100.0, -0.5]")) ==
        "[1e+21,1e-7,0.000001,100,-0.5]");
  JsonValue bad;
  bad.SetString(
      rapidjson::StringRef("a\xff"
                           "b"));
  CHECK(goJsonMarshal(bad) ==
        "\"a\xef\xbf\xbd"
        "b\"");
  JsonValue ctrl;
  ctrl.SetString(rapidjson::StringRef("\x01\b\f\x7f"));
  CHECK(goJsonMarshal(ctrl) == "\"\\u0001\\b\\f\x7f\"");
}

TEST_CASE("other kinds and non-objects are refused") {
  JsonDocument dep = parse(R"({"kind": "Deployment", "metadata": {"name": "d"}})");
  auto h = generatorHash(dep);
  REQUIRE(!h);
  CHECK(h.error().code() == Code::kInvalidArgument);
  CHECK(h.error().message() == "generator hash: kind \"Deployment\" is not ConfigMap or Secret");
  JsonDocument arr = parse("[]");
  CHECK(!generatorHash(arr));
}

}  // namespace windlass::overlays
