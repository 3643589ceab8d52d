#include "overlays/json_patch.h"

#include <doctest/doctest.h>

#include <string>

namespace windlass::overlays {
namespace {

JsonDocument parse(const std::string& json) {
  JsonDocument d;
  d.Parse(json.c_str());
  REQUIRE_MESSAGE(!d.HasParseError(), "bad test JSON: " << json);
  return d;
}

std::string toJson(const JsonValue& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

// Applies `opsJson` to `doc`. The ops document is destroyed before this
// returns, so anything the patch borrowed from it instead of copying would dangle.
Status apply(JsonDocument& doc, const std::string& opsJson) {
  JsonDocument ops = parse(opsJson);
  return applyJsonPatch(doc, ops, doc.GetAllocator());
}

// Checks that `doc` equals `expectedJson` (object member order ignored).
void checkDoc(const JsonDocument& doc, const std::string& expectedJson) {
  JsonDocument expected = parse(expectedJson);
  CHECK_MESSAGE(doc == expected, "got " << toJson(doc) << "\nwant " << toJson(expected));
}

const char* const kIngress = R"({
  "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
  "metadata": {"name": "portal", "annotations": {
    "cert-manager.io/cluster-issuer": "letsencrypt", "example.com/path~with~tilde": "yes"}},
  "spec": {"ingressClassName": "nginx", "rules": [{"host": "portal.example.com", "http": {"paths": [
    {"path": "/", "backend": {"service": {"name": "portal", "port": {"number": 80}}}},
    {"path": "/api", "backend": {"service": {"name": "portal-api", "port": {"number": 8080}}}}
  ]}}]}
})";

}  // namespace

TEST_CASE("add: new key, insert at index, append with -, existing key replaced") {
  JsonDocument doc = parse(R"({"m": {"a": 1}, "l": ["x", "y"]})");
  Status st = apply(doc, R"([
    {"op": "add", "path": "/m/b", "value": {"deep": [1, 2]}},
    {"op": "add", "path": "/m/a", "value": "replaced"},
    {"op": "add", "path": "/l/1", "value": "ins"},
    {"op": "add", "path": "/l/-", "value": "end"},
    {"op": "add", "path": "/l/4", "value": "at-len"},
    {"op": "add", "path": "/l/0", "value": "first"}
  ])");
  REQUIRE_MESSAGE(st.ok(), st.message());
  checkDoc(doc, R"({"m": {"a": "replaced", "b": {"deep": [1, 2]}},
                    "l": ["first", "x", "ins", "y", "end", "at-len"]})");
}

TEST_CASE("add: negative indices count from the end, as json-patch v4 allows") {
  JsonDocument doc = parse(R"({"l": ["a", "b", "c"]})");
  REQUIRE(apply(doc, R"([{"op": "add", "path": "/l/-1", "value": "end"}])").ok());
  checkDoc(doc, R"({"l": ["a", "b", "c", "end"]})");
  REQUIRE(apply(doc, R"([{"op": "add", "path": "/l/-5", "value": "start"}])").ok());
  checkDoc(doc, R"({"l": ["start", "a", "b", "c", "end"]})");
  Status st = apply(doc, R"([{"op": "add", "path": "/l/-7", "value": "x"}])");
  CHECK(st.message() ==
        "json patch op 0 (add /l/-7): error in add for path: '/l/-7': "
        "Unable to access invalid index: -7: invalid index referenced");
}

TEST_CASE("add: array indices parse like Go's strconv.Atoi") {
  JsonDocument doc = parse(R"({"l": ["a", "b"]})");
  REQUIRE(apply(doc, R"([{"op": "add", "path": "/l/+1", "value": "p"},
                         {"op": "add", "path": "/l/01", "value": "z"}])")
              .ok());
  checkDoc(doc, R"({"l": ["a", "z", "p", "b"]})");
  Status bad = apply(doc, R"([{"op": "add", "path": "/l/x", "value": 1}])");
  CHECK(bad.code() == Code::kInvalidArgument);
  CHECK(bad.message() ==
        "json patch op 0 (add /l/x): error in add for path: '/l/x': value was not a proper array "
        "index: 'x': strconv.Atoi: parsing \"x\": invalid syntax");
  Status big = apply(doc, R"([{"op": "add", "path": "/l/99999999999999999999", "value": 1}])");
  CHECK(big.message().find("strconv.Atoi: parsing \"99999999999999999999\": value out of range") !=
        std::string::npos);
  Status past = apply(doc, R"([{"op": "add", "path": "/l/5", "value": 1}])");
  CHECK(past.message() ==
        "json patch op 0 (add /l/5): error in add for path: '/l/5': "
        "Unable to access invalid index: 5: invalid index referenced");
}

TEST_CASE("add does not create missing intermediate objects (Kustomize agrees)") {
  JsonDocument doc = parse(kIngress);
  Status st = apply(doc, R"([{"op": "add", "path": "/spec/defaultBackend/service/name",
                              "value": "fallback"}])");
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message() ==
        "json patch op 0 (add /spec/defaultBackend/service/name): add operation does not apply: "
        "doc is missing path: \"/spec/defaultBackend/service/name\": missing value");
  // Walking through a scalar or a null is also a missing path.
  JsonDocument d2 = parse(R"({"s": "str", "n": null})");
  CHECK(apply(d2, R"([{"op": "add", "path": "/s/x", "value": 1}])")
            .message()
            .find("doc is missing path") != std::string::npos);
  CHECK(apply(d2, R"([{"op": "add", "path": "/n/x", "value": 1}])")
            .message()
            .find("doc is missing path") != std::string::npos);
  CHECK(apply(d2, R"([{"op": "add", "path": "", "value": 1}])").message() ==
        "json patch op 0 (add ): add operation does not apply: doc is missing path: \"\": "
        "missing value");
}

TEST_CASE("add without a value adds null; ops without a path fail like Kustomize") {
  JsonDocument doc = parse(R"({"m": {}})");
  REQUIRE(apply(doc, R"([{"op": "add", "path": "/m/z"}])").ok());
  checkDoc(doc, R"({"m": {"z": null}})");
  CHECK(apply(doc, R"([{"op": "add", "value": 1}])").message() ==
        "json patch op 0 (add): add operation failed to decode path: missing value");
  CHECK(apply(doc, R"([{"op": "replace", "path": 5, "value": 1}])").message() ==
        "json patch op 0 (replace): replace operation failed to decode path: json: cannot "
        "unmarshal number into Go value of type string");
}

TEST_CASE("the test op: equal values pass, others fail with Kustomize's text") {
  JsonDocument doc = parse(kIngress);
  Status ok = apply(doc, R"([
    {"op": "test", "path": "/spec/rules/0/host", "value": "portal.example.com"},
    {"op": "test", "path": "/spec/rules/0/http/paths/1/backend/service/port",
     "value": {"number": 8080}},
    {"op": "test", "path": "/metadata/annotations/missing", "value": null}
  ])");
  CHECK_MESSAGE(ok.ok(), ok.message());
  Status st = apply(doc, R"([
    {"op": "test", "path": "/spec/rules/0/host", "value": "somewhere-else.example.com"},
    {"op": "replace", "path": "/spec/rules/0/host", "value": "never.example.com"}
  ])");
  CHECK(st.message() ==
        "json patch op 0 (test /spec/rules/0/host): testing value /spec/rules/0/host failed: "
        "test failed");
  CHECK(std::string(doc["spec"]["rules"][0]["host"].GetString()) == "portal.example.com");
}

TEST_CASE("the test op compares types strictly and handles null and the whole document") {
  JsonDocument doc = parse(R"({"n": 1, "s": "1", "z": null, "l": [1, "a"]})");
  CHECK(!apply(doc, R"([{"op": "test", "path": "/n", "value": 1.0}])").ok());
  CHECK(!apply(doc, R"([{"op": "test", "path": "/n", "value": "1"}])").ok());
  CHECK(!apply(doc, R"([{"op": "test", "path": "/s", "value": 1}])").ok());
  CHECK(!apply(doc, R"([{"op": "test", "path": "/s"}])").ok());
  CHECK(!apply(doc, R"([{"op": "test", "path": "/missing", "value": 0}])").ok());
  CHECK(apply(doc, R"([{"op": "test", "path": "/z", "value": null}])").ok());
  CHECK(apply(doc, R"([{"op": "test", "path": "/l", "value": [1, "a"]}])").ok());
  CHECK(!apply(doc, R"([{"op": "test", "path": "/l", "value": ["a", 1]}])").ok());
  CHECK(apply(doc, R"([{"op": "test", "path": "",
                        "value": {"l": [1, "a"], "z": null, "s": "1", "n": 1}}])")
            .ok());
  CHECK(apply(doc, R"([{"op": "test", "path": "", "value": {}}])").message() ==
        "json patch op 0 (test ): testing value  failed: test failed");
  CHECK(apply(doc, R"([{"op": "test", "path": "/l/5", "value": 1}])").message() ==
        "json patch op 0 (test /l/5): error in test for path: '/l/5': "
        "Unable to access invalid index: 5: invalid index referenced");
  CHECK(apply(doc, R"([{"op": "test", "path": "/x/y", "value": 1}])").message() ==
        "json patch op 0 (test /x/y): test operation does not apply: is missing path: /x/y: "
        "missing value");
}

TEST_CASE("remove: keys, indices, negative indices; missing targets fail") {
  JsonDocument doc = parse(R"({"m": {"a": 1, "b": 2, "c": 3}, "l": [0, 1, 2, 3]})");
  REQUIRE(apply(doc, R"([{"op": "remove", "path": "/m/b"},
                         {"op": "remove", "path": "/l/1"},
                         {"op": "remove", "path": "/l/-1"}])")
              .ok());
  CHECK(toJson(doc) == R"({"m":{"a":1,"c":3},"l":[0,2]})");  // order kept
  CHECK(apply(doc, R"([{"op": "remove", "path": "/m/missing"}])").message() ==
        "json patch op 0 (remove /m/missing): error in remove for path: '/m/missing': "
        "Unable to remove nonexistent key: missing: missing value");
  CHECK(apply(doc, R"([{"op": "remove", "path": "/l/-"}])").message() ==
        "json patch op 0 (remove /l/-): error in remove for path: '/l/-': "
        "strconv.Atoi: parsing \"-\": invalid syntax");
  CHECK(apply(doc, R"([{"op": "remove", "path": "/l/2"}])")
            .message()
            .find("Unable to access invalid index: 2") != std::string::npos);
  CHECK(apply(doc, R"([{"op": "remove", "path": "/m/a/x"}])").message() ==
        "json patch op 0 (remove /m/a/x): remove operation does not apply: doc is missing "
        "path: \"/m/a/x\": missing value");
}

TEST_CASE("replace: values of any type; a missing key of an existing object is added") {
  JsonDocument doc = parse(kIngress);
  Status st = apply(doc, R"([
    {"op": "replace", "path": "/spec/rules/0/host", "value": "portal.example.org"},
    {"op": "replace", "path": "/spec/rules/0/http/paths/1/backend/service/port",
     "value": {"name": "grpc"}},
    {"op": "replace", "path": "/spec/rules/0/http/paths/0/backend/service/port/number",
     "value": 8081},
    {"op": "replace", "path": "/spec/rules/-1/http/paths/0/path", "value": "/root"},
    {"op": "replace", "path": "/metadata/annotations/new", "value": "added"}
  ])");
  REQUIRE_MESSAGE(st.ok(), st.message());
  const JsonValue& rule = doc["spec"]["rules"][0];
  CHECK(std::string(rule["host"].GetString()) == "portal.example.org");
  CHECK(rule["http"]["paths"][0]["backend"]["service"]["port"]["number"].GetInt() == 8081);
  CHECK(rule["http"]["paths"][0]["path"] == "/root");
  CHECK(toJson(rule["http"]["paths"][1]["backend"]["service"]["port"]) == R"({"name":"grpc"})");
  CHECK(doc["metadata"]["annotations"]["new"] == "added");
}

TEST_CASE("replace: missing paths and indices fail with Kustomize's text") {
  JsonDocument doc = parse(kIngress);
  CHECK(apply(doc, R"([{"op": "replace", "path": "/spec/defaultBackend/service/name",
                        "value": "fallback"}])")
            .message() ==
        "json patch op 0 (replace /spec/defaultBackend/service/name): replace operation does not "
        "apply: doc is missing path: /spec/defaultBackend/service/name: missing value");
  CHECK(apply(doc, R"([{"op": "replace", "path": "/spec/rules/1", "value": {}}])").message() ==
        "json patch op 0 (replace /spec/rules/1): replace operation does not apply: doc is "
        "missing key: /spec/rules/1: missing value");
}

TEST_CASE("replace of the whole document takes an object and ignores a scalar") {
  JsonDocument doc = parse(R"({"a": 1})");
  REQUIRE(apply(doc, R"([{"op": "replace", "path": "", "value": "scalar"}])").ok());
  checkDoc(doc, R"({"a": 1})");
  REQUIRE(apply(doc, R"([{"op": "replace", "path": "", "value": {"b": [2]}}])").ok());
  checkDoc(doc, R"({"b": [2]})");
}

TEST_CASE("move and copy, as in the Kustomize move-copy case") {
  JsonDocument doc = parse(kIngress);
  Status st = apply(doc, R"([
    {"op": "copy", "from": "/metadata/name", "path": "/metadata/annotations/copied-name"},
    {"op": "copy", "from": "/spec/rules/0", "path": "/spec/rules/1"},
    {"op": "move", "from": "/spec/rules/0/http/paths/1", "path": "/spec/rules/1/http/paths/0"},
    {"op": "move", "from": "/metadata/annotations/cert-manager.io~1cluster-issuer",
     "path": "/metadata/annotations/cert-manager.io~1issuer"}
  ])");
  REQUIRE_MESSAGE(st.ok(), st.message());
  const JsonValue& annotations = doc["metadata"]["annotations"];
  CHECK(annotations["copied-name"] == "portal");
  CHECK(annotations["cert-manager.io/issuer"] == "letsencrypt");
  CHECK(!annotations.HasMember("cert-manager.io/cluster-issuer"));
  const JsonValue& rules = doc["spec"]["rules"];
  REQUIRE(rules.Size() == 2);
  REQUIRE(rules[0]["http"]["paths"].Size() == 1);
  REQUIRE(rules[1]["http"]["paths"].Size() == 3);
  CHECK(rules[1]["http"]["paths"][0]["path"] == "/api");
  CHECK(rules[1]["http"]["paths"][1]["path"] == "/");
  CHECK(rules[1]["http"]["paths"][2]["path"] == "/api");
}

TEST_CASE("copy is deep and may insert before its own source") {
  JsonDocument doc = parse(R"({"l": [{"k": "v"}, "b"]})");
  REQUIRE(apply(doc, R"([{"op": "copy", "from": "/l/0", "path": "/l/0"},
                         {"op": "replace", "path": "/l/0/k", "value": "changed"}])")
              .ok());
  checkDoc(doc, R"({"l": [{"k": "changed"}, {"k": "v"}, "b"]})");
}

TEST_CASE("copy from a missing key adds null; move from it fails") {
  JsonDocument doc = parse(R"({"m": {"a": 1}})");
  REQUIRE(apply(doc, R"([{"op": "copy", "from": "/m/missing", "path": "/m/c"}])").ok());
  checkDoc(doc, R"({"m": {"a": 1, "c": null}})");
  CHECK(apply(doc, R"([{"op": "move", "from": "/m/missing", "path": "/m/d"}])").message() ==
        "json patch op 0 (move /m/d): error in move for path: 'missing': Unable to remove "
        "nonexistent key: missing: missing value");
  CHECK(apply(doc, R"([{"op": "move", "from": "/x/y", "path": "/m/d"}])").message() ==
        "json patch op 0 (move /m/d): move operation does not apply: doc is missing from path: "
        "/x/y: missing value");
  CHECK(apply(doc, R"([{"op": "move", "from": "/m", "path": "/m/inner"}])").message() ==
        "json patch op 0 (move /m/inner): move operation does not apply: doc is missing "
        "destination path: /m/inner: missing value");
  // The failed move above already removed /m (json-patch removes before it adds).
  CHECK(!doc.HasMember("m"));
  JsonDocument fresh = parse(R"({"m": {"a": 1}})");
  CHECK(apply(fresh, R"([{"op": "copy", "from": "/m/a", "path": "/x/y"}])").message() ==
        "json patch op 0 (copy /x/y): copy operation does not apply: doc is missing destination "
        "path: /x/y: missing value");
}

TEST_CASE("move within one array uses the index after removal") {
  JsonDocument doc = parse(R"({"l": ["a", "b", "c"]})");
  REQUIRE(apply(doc, R"([{"op": "move", "from": "/l/0", "path": "/l/-"}])").ok());
  checkDoc(doc, R"({"l": ["b", "c", "a"]})");
}

TEST_CASE("JSON pointer escaping: ~1 is /, ~0 is ~, decoded in one pass") {
  JsonDocument doc = parse(kIngress);
  Status st = apply(doc, R"([
    {"op": "replace", "path": "/metadata/annotations/cert-manager.io~1cluster-issuer",
     "value": "internal-ca"},
    {"op": "remove", "path": "/metadata/annotations/example.com~1path~0with~0tilde"},
    {"op": "add", "path": "/metadata/annotations/example.com~1a~0b~1c", "value": "~/"},
    {"op": "add", "path": "/metadata/annotations/x~01", "value": "tilde-one"},
    {"op": "add", "path": "/metadata/annotations/odd~2", "value": "kept"}
  ])");
  REQUIRE_MESSAGE(st.ok(), st.message());
  checkDoc(doc, std::string(R"({
    "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
    "metadata": {"name": "portal", "annotations": {
      "cert-manager.io/cluster-issuer": "internal-ca", "example.com/a~b/c": "~/",
      "x~1": "tilde-one", "odd~2": "kept"}},
    "spec": )") + toJson(parse(kIngress)["spec"]) +
                    "}");
}

TEST_CASE("a path without a leading slash loses its first segment, as in json-patch v4") {
  JsonDocument doc = parse(R"({"spec": {}})");
  REQUIRE(apply(doc, R"([{"op": "add", "path": "spec/zz", "value": "r"}])").ok());
  checkDoc(doc, R"({"spec": {}, "zz": "r"})");
}

TEST_CASE("unknown ops and malformed patches") {
  JsonDocument doc = parse(R"({"data": {"k": "v"}})");
  CHECK(apply(doc, R"([{"op": "frobnicate", "path": "/data/k", "value": "x"}])").message() ==
        "json patch op 0 (frobnicate /data/k): Unexpected kind: frobnicate");
  CHECK(apply(doc, R"([{"path": "/a"}])").message() ==
        "json patch op 0 (unknown /a): Unexpected kind: unknown");
  CHECK(apply(doc, R"({"op": "add"})").message() ==
        "json patch: json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  CHECK(apply(doc, R"([{"op": "add", "path": "/a", "value": 1}, "add"])").message() ==
        "json patch op 1: json: cannot unmarshal string into Go value of type "
        "jsonpatch.Operation");
  checkDoc(doc, R"({"data": {"k": "v"}})");  // nothing applied when the patch is malformed
  JsonDocument scalar = parse("5");
  CHECK(apply(scalar, "[]").code() == Code::kInvalidArgument);
}

TEST_CASE("ops apply in order and stop at the first failure") {
  JsonDocument doc = parse(R"({"a": 1})");
  Status st = apply(doc, R"([{"op": "add", "path": "/b", "value": 2},
                            {"op": "remove", "path": "/nope"},
                            {"op": "add", "path": "/c", "value": 3}])");
  CHECK(st.message().rfind("json patch op 1 (remove /nope): ", 0) == 0);
  CHECK(doc.HasMember("b"));
  CHECK(!doc.HasMember("c"));
}

TEST_CASE("a root array can be patched") {
  JsonDocument doc = parse(R"([1, 2])");
  REQUIRE(apply(doc, R"([{"op": "add", "path": "/0", "value": 0},
                         {"op": "remove", "path": "/-1"}])")
              .ok());
  CHECK(toJson(doc) == "[0,1]");
}

}  // namespace windlass::overlays
