#include "reconcile/image_override.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace windlass::reconcile {
namespace {

std::vector<JsonValue> parse(JsonAllocator& a, const std::string& json) {
  JsonDocument d(&a);
  d.Parse(json.c_str());
  REQUIRE(!d.HasParseError());
  std::vector<JsonValue> out;
  for (auto& v : d.GetArray()) out.emplace_back(v, a);
  return out;
}

std::string dump(const JsonValue& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return b.GetString();
}

TEST_CASE("image repositories of references: tag and digest dropped, Docker Hub normalised") {
  CHECK(imageRepositoryOf("ghcr.io/a/web:1.0") == "ghcr.io/a/web");
  CHECK(imageRepositoryOf("ghcr.io/a/web@sha256:abc") == "ghcr.io/a/web");
  CHECK(imageRepositoryOf("ghcr.io/a/web:1.0@sha256:abc") == "ghcr.io/a/web");
  CHECK(imageRepositoryOf("127.0.0.1:5000/web") == "127.0.0.1:5000/web");
  CHECK(imageRepositoryOf("127.0.0.1:5000/web:2") == "127.0.0.1:5000/web");
  CHECK(imageRepositoryOf("nginx:1.27") == "registry-1.docker.io/library/nginx");
  CHECK(imageRepositoryOf("docker.io/library/nginx") == "registry-1.docker.io/library/nginx");
  CHECK(imageRepositoryOf("UPPER/case") == "");
}

TEST_CASE("overrides replace matching containers and init containers in any kind") {
  JsonAllocator a;
  auto objects = parse(a, R"([
    {"kind":"Deployment","spec":{"template":{"spec":{
      "initContainers":[{"name":"init","image":"ghcr.io/a/web:0.9"}],
      "containers":[{"name":"web","image":"ghcr.io/a/web:1.0"},
                    {"name":"side","image":"ghcr.io/a/webhook:1.0"},
                    {"name":"proxy","image":"nginx"}]}}}},
    {"kind":"CronJob","spec":{"jobTemplate":{"spec":{"template":{"spec":{
      "containers":[{"name":"job","image":"ghcr.io/a/web@sha256:00"}]}}}}}},
    {"kind":"ConfigMap","data":{"image":"ghcr.io/a/web:1.0"}}])");
  std::vector<ImageOverride> o = {
      {"ghcr.io/a/web", "ghcr.io/a/web:1.4.2"},
      {"registry-1.docker.io/library/nginx", "nginx:1.27.3"},
  };
  CHECK(applyImageOverrides(objects, o, a) == 4);
  CHECK(
      dump(objects[0]) ==
      R"({"kind":"Deployment","spec":{"template":{"spec":{"initContainers":[{"name":"init","image":"ghcr.io/a/web:1.4.2"}],"containers":[{"name":"web","image":"ghcr.io/a/web:1.4.2"},{"name":"side","image":"ghcr.io/a/webhook:1.0"},{"name":"proxy","image":"nginx:1.27.3"}]}}}})");
  CHECK(dump(objects[1]).find(R"("image":"ghcr.io/a/web:1.4.2")") != std::string::npos);
  CHECK(dump(objects[2]) == R"({"kind":"ConfigMap","data":{"image":"ghcr.io/a/web:1.0"}})");
  // Applying again changes nothing.
  CHECK(applyImageOverrides(objects, o, a) == 0);
  CHECK(applyImageOverrides(objects, {}, a) == 0);
}

}  // namespace
}  // namespace windlass::reconcile
