#include "agent/promote.h"

#include <doctest/doctest.h>

#include <string>

#include "core/json.h"

namespace windlass::agent {
namespace {

// The images list of a source kustomization, as JSON.
JsonDocument images(const char* json) {
  JsonDocument d;
  d.Parse(json);
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

std::string copy(const char* source, const std::string& target) {
  JsonDocument src = images(source);
  auto out = copyImages(src, target, "overlays/prod/kustomization.yaml");
  REQUIRE_MESSAGE(out.has_value(), out.error().message());
  return *out;
}

}  // namespace

TEST_CASE("copyImages changes only the values, keeping comments, quotes and order") {
  const std::string target =
      "# prod\n"
      "resources: [../../base]\n"
      "images:\n"
      "- name: example.com/web   # the web image\n"
      "  newTag: \"1.0\"  # {\"$imagepolicy\": \"web:tag\"}\n"
      "- name: example.com/worker\n"
      "  newName: registry.local/worker\n"
      "  digest: sha256:aaaa\n"
      "namePrefix: prod-\n";
  std::string out = copy(
      R"([{"name":"example.com/web","newTag":"2.0"},
          {"name":"example.com/worker","newName":"registry.local/worker","digest":"sha256:bbbb"}])",
      target);
  CHECK(out ==
        "# prod\n"
        "resources: [../../base]\n"
        "images:\n"
        "- name: example.com/web   # the web image\n"
        "  newTag: \"2.0\"  # {\"$imagepolicy\": \"web:tag\"}\n"
        "- name: example.com/worker\n"
        "  newName: registry.local/worker\n"
        "  digest: sha256:bbbb\n"
        "namePrefix: prod-\n");
  // The same images again: byte for byte the same.
  CHECK(copy(R"([{"name":"example.com/web","newTag":"2.0"}])", out).find("newTag: \"2.0\"") !=
        std::string::npos);
}

TEST_CASE("copyImages adds missing fields and entries, and an images block when there is none") {
  std::string out = copy(R"([{"name":"web","newTag":"1.4.2"},{"name":"api","digest":"sha256:cc"}])",
                         "images:\n  - name: web\n    newName: r/web\nnamePrefix: x-\n");
  CHECK(out ==
        "images:\n"
        "  - name: web\n"
        "    newName: r/web\n"
        "    newTag: \"1.4.2\"\n"  // quoted: digits and dots could read as a number
        "  - name: api\n"
        "    digest: sha256:cc\n"
        "namePrefix: x-\n");
  CHECK(copy(R"([{"name":"web","newTag":"true"}])", "resources: [a.yaml]\n") ==
        "resources: [a.yaml]\nimages:\n- name: web\n  newTag: \"true\"\n");
}

TEST_CASE("copyImages refuses an images list it cannot edit line by line") {
  JsonDocument src = images(R"([{"name":"web","newTag":"2"}])");
  auto out = copyImages(src, "images: [{name: web, newTag: '1'}]\n", "k.yaml");
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().message() ==
        "k.yaml: images: not a block list (write one entry per line so that promotion can edit "
        "it)");
}

}  // namespace windlass::agent
