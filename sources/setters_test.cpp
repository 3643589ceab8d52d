#include "sources/setters.h"

#include <doctest/doctest.h>

namespace windlass::sources {
namespace {

const std::map<std::string, SetterValues> kValues = {
    {"web", {"ghcr.io/acme/web", "1.4.2", ""}},
    {"api", {"ghcr.io/acme/api", "2.0.0", "sha256:" + std::string(64, 'a')}},
};

TEST_CASE("markers rewrite only their value; every other byte is kept") {
  std::string in =
      "# a comment: {\"$imagepolicy\": \"web\"} in prose is not a marker line value\n"
      "spec:\r\n"
      "  containers:\n"
      "  - name: web\n"
      "    image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"flux-system:web\"}\n"
      "    image: \"ghcr.io/acme/web:1.0.0\"   # {\"$imagepolicy\": \"web\"}\r\n"
      "images:\n"
      "- name: ghcr.io/acme/web\n"
      "  newTag: '1.0.0' # {\"$imagepolicy\": \"flux-system:web:tag\"}\n"
      "  newName: old/web # {\"$imagepolicy\": \"web:name\"}\n"
      "  digest: sha256:00 # {\"$imagepolicy\": \"api:digest\"}\n"
      "- ghcr.io/acme/api:1.0 # {\"$imagepolicy\": \"api\"}\n"
      "other: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"unknown\"}\n"
      "bad: x # {\"$imagepolicy\": 3}\n"
      "last: 1.0.0 # {\"$imagepolicy\": \"web:tag\"}";
  SetterResult r = applySetters(in, kValues);
  std::string want =
      "# a comment: {\"$imagepolicy\": \"web\"} in prose is not a marker line value\n"
      "spec:\r\n"
      "  containers:\n"
      "  - name: web\n"
      "    image: ghcr.io/acme/web:1.4.2 # {\"$imagepolicy\": \"flux-system:web\"}\n"
      "    image: \"ghcr.io/acme/web:1.4.2\"   # {\"$imagepolicy\": \"web\"}\r\n"
      "images:\n"
      "- name: ghcr.io/acme/web\n"
      "  newTag: '1.4.2' # {\"$imagepolicy\": \"flux-system:web:tag\"}\n"
      "  newName: ghcr.io/acme/web # {\"$imagepolicy\": \"web:name\"}\n"
      "  digest: sha256:" +
      std::string(64, 'a') +
      " # {\"$imagepolicy\": \"api:digest\"}\n"
      "- ghcr.io/acme/api@sha256:" +
      std::string(64, 'a') +
      " # {\"$imagepolicy\": \"api\"}\n"
      "other: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"unknown\"}\n"
      "bad: x # {\"$imagepolicy\": 3}\n"
      "last: 1.4.2 # {\"$imagepolicy\": \"web:tag\"}";
  CHECK(r.text == want);
  CHECK(r.changedLines == std::vector<int>{5, 6, 9, 10, 11, 12, 15});
  CHECK(r.holds.empty());
  // Applying again changes nothing.
  SetterResult again = applySetters(r.text, kValues);
  CHECK(again.text == r.text);
  CHECK(again.changedLines.empty());
}

TEST_CASE("a held marker is never rewritten and is reported with its reason") {
  std::string in =
      "image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"web\", \"$hold\": \"pinned during "
      "incident\"}\n"
      "tag: 1.0.0 # {\"$imagepolicy\": \"web:tag\"}\n";
  SetterResult r = applySetters(in, kValues);
  CHECK(r.text ==
        "image: ghcr.io/acme/web:1.0.0 # {\"$imagepolicy\": \"web\", \"$hold\": \"pinned during "
        "incident\"}\n"
        "tag: 1.4.2 # {\"$imagepolicy\": \"web:tag\"}\n");
  CHECK(r.changedLines == std::vector<int>{2});
  REQUIRE(r.holds.size() == 1);
  CHECK(r.holds[0].line == 1);
  CHECK(r.holds[0].policy == "web");
  CHECK(r.holds[0].reason == "pinned during incident");
}

TEST_CASE("a '#' inside a quoted value is not a comment; no digest leaves digest markers alone") {
  std::string in =
      "a: \"x # {\\\"$imagepolicy\\\": \\\"web\\\"}\"\n"
      "d: sha256:00 # {\"$imagepolicy\": \"web:digest\"}\n";
  SetterResult r = applySetters(in, kValues);
  CHECK(r.text == in);
  CHECK(r.changedLines.empty());
}

}  // namespace
}  // namespace windlass::sources
