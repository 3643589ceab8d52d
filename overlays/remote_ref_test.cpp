#include "overlays/remote_ref.h"

#include <doctest/doctest.h>

namespace windlass::overlays {
namespace {

RemoteRef parse(std::string_view entry) {
  auto r = parseRemoteRef(entry);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return *r;
}

TEST_CASE("https with // and ref") {
  RemoteRef r = parse("https://github.com/org/repo//deploy/base?ref=v1.2.3");
  CHECK(r.kind == RemoteRef::Kind::kGit);
  CHECK(r.url == "https://github.com/org/repo");
  CHECK(r.host == "github.com");
  CHECK(r.hostPort == "github.com");
  CHECK(r.path == "deploy/base");
  CHECK(r.ref == "v1.2.3");
  CHECK(r.timeoutSeconds == 27);
  CHECK(r.submodules);
}

TEST_CASE("https with .git, a port and a path after it") {
  RemoteRef r = parse("https://127.0.0.1:8443/git/app.git//overlays/x?ref=main");
  CHECK(r.url == "https://127.0.0.1:8443/git/app.git");
  CHECK(r.host == "127.0.0.1");
  CHECK(r.hostPort == "127.0.0.1:8443");
  CHECK(r.path == "overlays/x");
  CHECK(r.ref == "main");
  RemoteRef n = parse("https://Example.COM/org/repo.git/deploy?version=abc123");
  CHECK(n.url == "https://Example.COM/org/repo.git");
  CHECK(n.host == "example.com");
  CHECK(n.path == "deploy");
  CHECK(n.ref == "abc123");
}

TEST_CASE("scp-like git@host:org/repo") {
  RemoteRef r = parse("git@github.com:org/repo//deploy?ref=v2");
  CHECK(r.url == "git@github.com:org/repo");
  CHECK(r.host == "github.com");
  CHECK(r.path == "deploy");
  CHECK(r.ref == "v2");
  RemoteRef g = parse("git@gitlab.com:group/repo.git/sub/dir");
  CHECK(g.url == "git@gitlab.com:group/repo.git");
  CHECK(g.path == "sub/dir");
  CHECK(g.ref.empty());
}

TEST_CASE("ssh:// with user and port") {
  RemoteRef r = parse("ssh://git@host.example:2222/srv/git/app.git//base?ref=v1&timeout=90s");
  CHECK(r.url == "ssh://git@host.example:2222/srv/git/app.git");
  CHECK(r.host == "host.example");
  CHECK(r.hostPort == "host.example:2222");
  CHECK(r.path == "base");
  CHECK(r.timeoutSeconds == 90);
}

TEST_CASE("github.com/org/repo/path without scheme, git:: and gh: prefixes") {
  RemoteRef r = parse("github.com/kubernetes-sigs/kustomize/examples/multibases?ref=v1.0.6");
  CHECK(r.url == "https://github.com/kubernetes-sigs/kustomize");
  CHECK(r.path == "examples/multibases");
  CHECK(r.ref == "v1.0.6");
  RemoteRef root = parse("github.com/org/repo");
  CHECK(root.url == "https://github.com/org/repo");
  CHECK(root.path.empty());
  RemoteRef g = parse("git::https://gitlab.com/org/repo//p?ref=x");
  CHECK(g.url == "https://gitlab.com/org/repo");
  CHECK(g.path == "p");
  RemoteRef gh = parse("gh:org/repo/deploy");
  CHECK(gh.url == "https://github.com/org/repo");
  CHECK(gh.path == "deploy");
}

TEST_CASE("Azure DevOps _git") {
  RemoteRef r = parse("https://dev.azure.com/org/project/_git/repo/deploy?ref=main");
  CHECK(r.url == "https://dev.azure.com/org/project/_git/repo");
  CHECK(r.path == "deploy");
}

TEST_CASE("query keys: ref wins over version, timeout, submodules") {
  RemoteRef r = parse("https://h.io/o/r//p?version=v1&ref=v2&submodules=false&timeout=2m");
  CHECK(r.ref == "v2");
  CHECK(!r.submodules);
  CHECK(r.timeoutSeconds == 120);
  CHECK(parse("https://h.io/o/r//p?timeout=5").timeoutSeconds == 5);
  CHECK(parse("https://h.io/o/r//p?submodules=1").submodules);
  auto badTimeout = parseRemoteRef("https://h.io/o/r//p?timeout=soon");
  REQUIRE(!badTimeout);
  CHECK(badTimeout.error().code() == Code::kInvalidArgument);
  CHECK(badTimeout.error().message() ==
        "remote reference 'https://h.io/o/r//p?timeout=soon': timeout 'soon': expected whole "
        "seconds or a duration such as 90s or 2m");
  for (const char* bad : {".s", "1.2.3s", "0", "-5", "5x", "99999999999", "1h1", "s"}) {
    CHECK_MESSAGE(!parseRemoteRef("https://h.io/o/r//p?timeout=" + std::string(bad)), bad);
  }
  CHECK(parse("https://h.io/o/r//p?timeout=1m30s").timeoutSeconds == 90);
  CHECK(parse("https://h.io/o/r//p?timeout=1.5s").timeoutSeconds == 2);
  auto badBool = parseRemoteRef("https://h.io/o/r//p?submodules=maybe");
  REQUIRE(!badBool);
  CHECK(badBool.error().message() ==
        "remote reference 'https://h.io/o/r//p?submodules=maybe': submodules 'maybe': expected "
        "true or false");
}

TEST_CASE("plain https files") {
  RemoteRef f = parse("https://raw.example.com/org/repo/v1/deploy.yaml");
  CHECK(f.kind == RemoteRef::Kind::kFile);
  CHECK(f.url == "https://raw.example.com/org/repo/v1/deploy.yaml");
  CHECK(f.host == "raw.example.com");
  // With a ref or a // it is a Git base.
  CHECK(parse("https://h.io/o/r/deploy.yaml?ref=v1").kind == RemoteRef::Kind::kGit);
  CHECK(parse("https://h.io/o/r//deploy.d").kind == RemoteRef::Kind::kGit);
}

TEST_CASE("malformed references are refused with the reference named") {
  auto climb = parseRemoteRef("https://h.io/o/r//../../etc?ref=v1");
  REQUIRE(!climb);
  CHECK(climb.error().message().find("remote reference 'https://h.io/o/r//../../etc?ref=v1': "
                                     "path '../../etc' inside the repository") == 0);
  auto scheme = parseRemoteRef("ftp://h.io/o/r");
  REQUIRE(!scheme);
  CHECK(scheme.error().message() == "remote reference 'ftp://h.io/o/r': unsupported scheme 'ftp'");
  auto noRepo = parseRemoteRef("github.com/org");
  REQUIRE(!noRepo);
  CHECK(noRepo.error().message() ==
        "remote reference 'github.com/org': expected org/repo after the host (or '//' after the "
        "repository)");
}

TEST_CASE("looksRemote") {
  CHECK(looksRemote("https://x/y"));
  CHECK(looksRemote("git@github.com:o/r"));
  CHECK(looksRemote("github.com/o/r"));
  CHECK(looksRemote("gh:o/r"));
  CHECK(!looksRemote("../base"));
  CHECK(!looksRemote("deploy.yaml"));
  CHECK(!looksRemote("dir/user@x:y"));
}

}  // namespace
}  // namespace windlass::overlays
