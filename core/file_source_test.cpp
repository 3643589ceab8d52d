#include "core/file_source.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

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

namespace windlass {

TEST_CASE("isInOrBelow compares whole components") {
  CHECK(isInOrBelow("a/b", "a"));
  CHECK(isInOrBelow("a", "a"));
  CHECK(isInOrBelow("a/b", ""));
  CHECK(isInOrBelow("", ""));
  CHECK(!isInOrBelow("ab/c", "a"));
  CHECK(!isInOrBelow("a", "a/b"));
  CHECK(!isInOrBelow("", "a"));
}

TEST_CASE("memory source implies folders from paths") {
  auto fs = makeMemorySource({{"base/kustomization.yaml", "a"}, {"base/x/y.yaml", "b"}});
  CHECK(fs->kind("base") == FileKind::kDirectory);
  CHECK(fs->kind("base/x") == FileKind::kDirectory);
  CHECK(fs->kind("base/kustomization.yaml") == FileKind::kFile);
  CHECK(fs->kind("bas") == FileKind::kMissing);
  CHECK(*fs->read("base/x/y.yaml", 10) == "b");
  CHECK(fs->read("base/x/y.yaml", 0).error().code() == Code::kInvalidArgument);
  auto names = fs->list("base");
  REQUIRE(names);
  CHECK(*names == std::vector<std::string>{"kustomization.yaml", "x"});
}

TEST_CASE("disk source refuses a symlink that leaves the root") {
  char tmpl[] = "/tmp/windlass-fs-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::string root = tmpl;
  REQUIRE(::mkdir((root + "/repo").c_str(), 0755) == 0);
  REQUIRE(::symlink("/etc/passwd", (root + "/repo/leak.yaml").c_str()) == 0);
  auto fs = openDiskSource(root + "/repo");
  REQUIRE(fs);
  auto r = (*fs)->read("leak.yaml", 1 << 20);
  REQUIRE(!r);
  CHECK(r.error().message().find("resolves outside the root") != std::string::npos);
  CHECK((*fs)->kind("leak.yaml") == FileKind::kMissing);
  auto real = (*fs)->realPath("leak.yaml");
  REQUIRE(!real);
  CHECK(real.error().code() == Code::kInvalidArgument);
  CHECK(real.error().message() ==
        root + "/repo/leak.yaml: resolves to /etc/passwd, outside the root " + root + "/repo");
  ::unlink((root + "/repo/leak.yaml").c_str());
  ::rmdir((root + "/repo").c_str());
  ::rmdir(root.c_str());
}

TEST_CASE("realPath resolves symlinks inside the root") {
  char tmpl[] = "/tmp/windlass-fs-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::string root = tmpl;
  REQUIRE(::mkdir((root + "/a").c_str(), 0755) == 0);
  REQUIRE(::mkdir((root + "/b").c_str(), 0755) == 0);
  { std::ofstream(root + "/b/f") << "x"; }
  REQUIRE(::symlink("../b", (root + "/a/link").c_str()) == 0);
  REQUIRE(::symlink("nowhere", (root + "/a/dangling").c_str()) == 0);
  auto fs = openDiskSource(root);
  REQUIRE(fs);
  CHECK(*(*fs)->realPath("a/link/f") == "b/f");
  CHECK(*(*fs)->realPath("a/link") == "b");
  CHECK(*(*fs)->realPath("a") == "a");
  CHECK(*(*fs)->realPath("") == "");
  CHECK((*fs)->realPath("a/dangling").error().code() == Code::kNotFound);
  CHECK((*fs)->realPath("a/none").error().code() == Code::kNotFound);
  auto whole = openDiskSource("/");
  REQUIRE(whole);
  CHECK(*(*whole)->realPath(root.substr(1) + "/a/link/f") == root.substr(1) + "/b/f");
  auto mem = makeMemorySource({{"x/y", "1"}});
  CHECK(*mem->realPath("x/y") == "x/y");
  CHECK(*mem->realPath("x") == "x");
  CHECK(mem->realPath("z").error().code() == Code::kNotFound);
  ::unlink((root + "/a/link").c_str());
  ::unlink((root + "/a/dangling").c_str());
  ::unlink((root + "/b/f").c_str());
  ::rmdir((root + "/a").c_str());
  ::rmdir((root + "/b").c_str());
  ::rmdir(root.c_str());
}

}  // namespace windlass
