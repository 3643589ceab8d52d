// The remote-base fetcher over real local Git repositories (file://): the
// allow-list, one fetch per repository and ref, no fetch for a commit already in
// the mirror, the default branch, unknown refs, and a full render through it.
#include "reconcile/remote_bases.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace windlass::reconcile {
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

// A repository with base/ (a ConfigMap at level v1, tagged v1, then v2 on main).
struct Repo {
  fs::path dir;
  std::string v1, v2;

  Repo() {
    ::setenv("GIT_AUTHOR_NAME", "Ada Author", 1);
    ::setenv("GIT_AUTHOR_EMAIL", "ada@example.com", 1);
    ::setenv("GIT_COMMITTER_NAME", "Cy Committer", 1);
    ::setenv("GIT_COMMITTER_EMAIL", "cy@example.com", 1);
    ::setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    ::setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
    std::string tmpl = (fs::temp_directory_path() / "windlass-remote.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    std::string w = (dir / "repo").string();
    sh("git init -q -b main " + w + " && mkdir " + w + "/base");
    write("base/kustomization.yaml", "resources: [cm.yaml]\n");
    write("base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {l: v1}\n");
    sh("cd " + w + " && git add -A && git commit -qm v1 && git tag v1");
    v1 = sh("git -C " + w + " rev-parse HEAD");
    write("base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {l: v2}\n");
    sh("cd " + w + " && git commit -qam v2");
    v2 = sh("git -C " + w + " rev-parse HEAD");
  }
  ~Repo() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void write(const std::string& rel, const std::string& text) const {
    std::ofstream(dir / "repo" / rel) << text;
  }
  std::string url() const { return "file://" + (dir / "repo").string(); }
  RemoteBaseOptions options() const {
    RemoteBaseOptions o;
    o.cacheDir = (dir / "cache").string();
    o.allowAll = true;
    return o;
  }
};

overlays::RemoteRef remoteRef(const std::string& entry) {
  auto r = overlays::parseRemoteRef(entry);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return *r;
}

TEST_CASE("one fetch per repository and ref; a known commit needs none") {
  Repo repo;
  RemoteFetcher f(repo.options());
  auto t1 = f.fetch(remoteRef(repo.url() + "//base?ref=v1"));
  REQUIRE_MESSAGE(t1, (t1 ? "" : t1.error().message()));
  CHECK(t1->resolved == repo.v1);
  CHECK(t1->path == "base");
  CHECK(*t1->fs->read("base/cm.yaml", 1 << 20) ==
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {l: v1}\n");
  CHECK(f.fetch(remoteRef(repo.url() + "//base?ref=v1")));
  CHECK(f.gitFetches() == 1);
  auto head = f.fetch(remoteRef(repo.url() + "//base"));  // the default branch
  REQUIRE(head);
  CHECK(head->resolved == repo.v2);
  CHECK(f.gitFetches() == 2);

  // A new fetcher (a later sync) over the same cache: a commit id already in the
  // mirror is read without a fetch.
  RemoteFetcher later(repo.options());
  auto pinned = later.fetch(remoteRef(repo.url() + "//base?ref=" + repo.v1));
  REQUIRE(pinned);
  CHECK(pinned->resolved == repo.v1);
  CHECK(later.gitFetches() == 0);

  auto unknown = later.fetch(remoteRef(repo.url() + "//base?ref=v9"));
  REQUIRE(!unknown);
  CHECK(unknown.error().code() == Code::kNotFound);
}

TEST_CASE("hosts not allowed are refused before any fetch") {
  Repo repo;
  RemoteBaseOptions o = repo.options();
  o.allowAll = false;
  o.allowHosts = {"GitHub.com", "git.example:8443"};
  RemoteFetcher f(o);
  auto denied = f.fetch(remoteRef("https://git.example/org/repo//base?ref=v1"));
  REQUIRE(!denied);
  CHECK(denied.error().code() == Code::kFailedPrecondition);
  CHECK(denied.error().message() ==
        "host 'git.example' is not allowed for remote bases (remoteBases.allow)");
  RemoteBaseOptions closed = repo.options();
  closed.allowAll = false;
  auto off = RemoteFetcher(closed).fetch(remoteRef("github.com/org/repo"));
  REQUIRE(!off);
  CHECK(off.error().message() ==
        "host 'github.com' is not allowed for remote bases (remoteBases.allow is empty)");
  CHECK(f.gitFetches() == 0);
}

TEST_CASE("a render through the fetcher lists the remote and its commit") {
  Repo repo;
  RemoteFetcher f(repo.options());
  overlays::RenderOptions options;
  options.remote = f.resolver();
  std::string entry = repo.url() + "//base?ref=v1";
  auto local = makeMemorySource({{"kustomization.yaml", "resources:\n- " + entry + "\n"}});
  JsonAllocator alloc;
  auto set = overlays::render(*local, "", alloc, options);
  REQUIRE_MESSAGE(set, (set ? "" : set.error().message()));
  CHECK(overlays::toYaml(*set) ==
        "apiVersion: v1\ndata:\n  l: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n");
  REQUIRE(set->remotes.size() == 1);
  CHECK(set->remotes[0].reference == entry);
  CHECK(set->remotes[0].resolved == repo.v1);
}

}  // namespace
}  // namespace windlass::reconcile
