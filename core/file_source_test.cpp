#include "core/file_source.h"

#include <doctest/doctest.h>

namespace windlass {

TEST_CASE("normalisePath resolves dots and refuses to climb above the root") {
  CHECK(*normalisePath("a/./b//c/") == "a/b/c");
  CHECK(*normalisePath("a/b/../c") == "a/c");
  CHECK(*normalisePath(".") == "");
  auto up = normalisePath("a/../../etc/passwd");
  REQUIRE(!up);
  CHECK(up.error().message() == "path \"a/../../etc/passwd\" escapes the root");
  CHECK(!normalisePath("/etc/passwd"));
}

TEST_CASE("joinPath and parentPath") {
  CHECK(*joinPath("overlays/prod", "../../base") == "base");
  CHECK(*joinPath("", "x.yaml") == "x.yaml");
  CHECK(parentPath("a/b/c.yaml") == "a/b");
  CHECK(parentPath("c.yaml") == "");
  CHECK(baseName("a/b/c.yaml") == "c.yaml");
}

}  // namespace windlass
