// The renderer over a Git tree (the agent's FileSource): the load restrictor
// refuses files outside the kustomization folder through a symlink or ../, and a
// symlink never leads out of the repository, whatever the restrictor says.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "overlays/render.h"
#include "sources/git.h"

namespace windlass {
namespace {

namespace fs = std::filesystem;

std::string sh(const std::string& cmd) {
  std::string out;
  FILE* pipe = ::popen(("set -e; " + cmd).c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  INFO("command: " << cmd);
  REQUIRE(::pclose(pipe) == 0);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// A repository whose app/ reads private/secret.txt in the ways a test chooses.
struct Repo {
  fs::path dir;
  fs::path work;

  Repo() {
    ::setenv("GIT_AUTHOR_NAME", "Ada Author", 1);
    ::setenv("GIT_AUTHOR_EMAIL", "ada@example.com", 1);
    ::setenv("GIT_COMMITTER_NAME", "Cy Committer", 1);
    ::setenv("GIT_COMMITTER_EMAIL", "cy@example.com", 1);
    ::setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    ::setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
    std::string tmpl = (fs::temp_directory_path() / "windlass-git-render.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    work = dir / "work";
    sh("git init -q -b main " + work.string());
    write("private/secret.txt", "s3cret\n");
    fs::create_directories(work / "app");
    fs::create_symlink("../private", work / "app/link");
    fs::create_symlink("/etc", work / "app/etc");
  }
  ~Repo() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories((work / rel).parent_path());
    std::ofstream(work / rel) << text;
  }

  // Commits the work tree and renders app/ from the commit's tree.
  Result<std::string> render(const std::string& kustomization, bool none = false) {
    write("app/kustomization.yaml", kustomization);
    sh("git -C " + work.string() + " add -A && git -C " + work.string() +
       " commit -q --allow-empty -m c");
    auto mirror = sources::GitMirror::open((dir / "mirror.git").string(), work.string(), {});
    REQUIRE_MESSAGE(mirror, mirror.error().message());
    REQUIRE(mirror->fetch({"main"}).ok());
    auto commit = mirror->resolve("main");
    REQUIRE(commit);
    auto tree = mirror->tree(commit->id);
    REQUIRE(tree);
    overlays::RenderOptions options;
    options.loadRestrictionsNone = none;
    JsonAllocator alloc;
    auto set = overlays::render(**tree, "app", alloc, options);
    if (!set) return set.error();
    return overlays::toYaml(*set);
  }
};

}  // namespace

TEST_CASE("git tree: a symlink out of the kustomization folder is refused, unless lifted") {
  Repo r;
  auto out = r.render("configMapGenerator:\n- name: x\n  files: [link/secret.txt]\n");
  REQUIRE(!out);
  CHECK(out.error().message().find("configMapGenerator \"x\": files: security; file '") !=
        std::string::npos);
  CHECK(out.error().message().find(":app/link/secret.txt' is not in or below '") !=
        std::string::npos);
  auto none = r.render("configMapGenerator:\n- name: x\n  files: [link/secret.txt]\n", true);
  REQUIRE_MESSAGE(none, none.error().message());
  CHECK(none->find("secret.txt: |\n    s3cret\n") != std::string::npos);
}

TEST_CASE("git tree: ../ out of the kustomization folder is refused") {
  Repo r;
  auto out = r.render("configMapGenerator:\n- name: x\n  envs: [../private/secret.txt]\n");
  REQUIRE(!out);
  CHECK(out.error().message().find("envs: security; file '") != std::string::npos);
  CHECK(out.error().message().find(":private/secret.txt' is not in or below '") !=
        std::string::npos);
}

TEST_CASE("git tree: a symlink to /etc never leaves the repository") {
  Repo r;
  for (bool none : {false, true}) {
    CAPTURE(none);
    auto out = r.render("configMapGenerator:\n- name: x\n  files: [etc/passwd]\n", none);
    REQUIRE(!out);
    CHECK(out.error().message().find("points outside the repository tree") != std::string::npos);
    CHECK(out.error().message().find("root:") == std::string::npos);
  }
}

}  // namespace windlass
