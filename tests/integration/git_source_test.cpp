// The Git source against the harness's real Git servers: HTTPS (lighttpd + git
// http-backend, basic auth with a token, test CA), SSH (sshd, pinned host keys) and
// git:// (git daemon).
//
// Needs the harness environment (tests/harness/up ENVFILE; source ENVFILE). A missing
// variable fails the test: integration tests never skip.
#include <doctest/doctest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "sources/git.h"

namespace windlass::sources {
namespace {

namespace fs = std::filesystem;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  REQUIRE_MESSAGE((v != nullptr && *v != '\0'),
                  std::string(name)
                      << " is not set: start the harness (tests/harness/up ENVFILE) and source "
                         "ENVFILE before running the integration suite");
  return v;
}

std::string sh(const std::string& cmd) {
  std::string out;
  FILE* pipe = ::popen(("set -e; " + cmd).c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int rc = ::pclose(pipe);
  INFO("command: " << cmd);
  REQUIRE(rc == 0);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void writeFile(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

// One bare repository NAME.git under WINDLASS_TEST_GIT_ROOT with a commit on main, a
// seed work tree to push new commits from, and a scratch folder for mirrors.
struct Served {
  std::string name;
  fs::path root;  // the bare repository
  fs::path tmp;
  fs::path seed;
  int mirrors = 0;

  Served() {
    root = env("WINDLASS_TEST_GIT_ROOT");  // first, so a missing harness leaves nothing behind
    ::setenv("GIT_AUTHOR_NAME", "Ada Author", 1);
    ::setenv("GIT_AUTHOR_EMAIL", "ada@example.com", 1);
    ::setenv("GIT_COMMITTER_NAME", "Ada Author", 1);
    ::setenv("GIT_COMMITTER_EMAIL", "ada@example.com", 1);
    ::setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    ::setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
    std::string tmpl = (fs::temp_directory_path() / "windlass-git-it.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    tmp = tmpl;
    name = "windlass-src-" + std::to_string(::getpid()) + "-" + tmp.filename().string().substr(16);
    root /= name + ".git";
    seed = tmp / "seed";
    sh("git init -q -b main " + seed.string());
    writeFile(seed / "overlays/dev/kustomization.yaml", "resources: [cm.yaml]\n");
    writeFile(seed / "overlays/dev/cm.yaml", "kind: ConfigMap\n");
    sh("git -C " + seed.string() + " add -A && git -C " + seed.string() +
       " commit -q -m 'initial manifests'");
    sh("git init -q --bare " + root.string());
    sh("git -C " + seed.string() + " push -q " + root.string() + " main");
  }
  ~Served() {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::remove_all(root, ec);
  }

  std::string head() { return sh("git -C " + root.string() + " rev-parse main"); }

  std::string pushCommit(const std::string& path, const std::string& content) {
    writeFile(seed / path, content);
    sh("git -C " + seed.string() + " add -A && git -C " + seed.string() + " commit -q -m 'change " +
       path + "' && git -C " + seed.string() + " push -q " + root.string() + " main");
    return head();
  }

  Result<GitMirror> mirror(const std::string& url, const GitCredentials& creds) {
    return GitMirror::open((tmp / ("mirror" + std::to_string(++mirrors) + ".git")).string(), url,
                           creds);
  }

  std::string httpsUrl() { return env("WINDLASS_TEST_GIT_HTTPS_URL") + "/" + name + ".git"; }
  std::string sshUrl() { return env("WINDLASS_TEST_GIT_SSH_URL") + "/" + name + ".git"; }
  std::string daemonUrl() { return env("WINDLASS_TEST_GIT_DAEMON_URL") + "/" + name + ".git"; }
};

GitCredentials httpsCredentials() {
  GitCredentials c;
  c.username = env("WINDLASS_TEST_GIT_USER");
  c.password = env("WINDLASS_TEST_GIT_TOKEN");
  c.caFile = env("WINDLASS_TEST_GIT_CA");
  return c;
}

GitCredentials sshCredentials() {
  GitCredentials c;
  c.sshKeyFile = env("WINDLASS_TEST_GIT_SSH_KEY");
  c.knownHostsFile = env("WINDLASS_TEST_GIT_KNOWN_HOSTS");
  return c;
}

// "127.0.0.1:PORT" of the SSH URL ssh://user@127.0.0.1:PORT/path.
std::string sshHostPort() {
  std::string url = env("WINDLASS_TEST_GIT_SSH_URL");
  size_t at = url.find('@');
  size_t slash = url.find('/', at);
  return url.substr(at + 1, slash - at - 1);
}

// Fetches main, checks it resolves to `want` and that the tree reads.
void fetchAndRead(GitMirror& mirror, const std::string& want) {
  Status st = mirror.fetch({"main"});
  REQUIRE_MESSAGE(st.ok(), st.message());
  auto commit = mirror.resolve("main");
  REQUIRE_MESSAGE(commit.has_value(), commit.error().message());
  CHECK(commit->id == want);
  CHECK(commit->authorEmail == "ada@example.com");
  auto tree = mirror.tree(commit->id);
  REQUIRE_MESSAGE(tree.has_value(), tree.error().message());
  auto content = (*tree)->read("overlays/dev/cm.yaml", 1 << 20);
  REQUIRE_MESSAGE(content.has_value(), content.error().message());
  CHECK(*content == "kind: ConfigMap\n");
  auto names = (*tree)->list("overlays/dev");
  REQUIRE(names.has_value());
  CHECK(*names == std::vector<std::string>{"cm.yaml", "kustomization.yaml"});
}

TEST_CASE("HTTPS with the right token fetches, incrementally") {
  Served repo;
  auto mirror = repo.mirror(repo.httpsUrl(), httpsCredentials());
  REQUIRE(mirror.has_value());
  fetchAndRead(*mirror, repo.head());
  std::string next = repo.pushCommit("overlays/dev/extra.yaml", "kind: Secret\n");
  REQUIRE(mirror->fetch({"main"}).ok());
  CHECK(mirror->resolve("main")->id == next);
  // Only what is new travels: the commit, the three trees on the path, the blob.
  CHECK(mirror->lastFetchStats().receivedObjects == 5);
}

TEST_CASE("HTTPS with a wrong token is Unauthenticated, and says so without secrets") {
  Served repo;
  GitCredentials creds = httpsCredentials();
  creds.password = "wrong-token-1234567890";
  auto mirror = repo.mirror(repo.httpsUrl(), creds);
  REQUIRE(mirror.has_value());
  Status st = mirror->fetch({"main"});
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == Code::kUnauthenticated);
  CHECK(st.message() == "git fetch " + repo.httpsUrl() +
                            ": authentication failed: the server rejected the password or token "
                            "of user \"" +
                            env("WINDLASS_TEST_GIT_USER") + "\"");
  CHECK(st.message().find("wrong-token") == std::string::npos);
  CHECK(st.message().find(env("WINDLASS_TEST_GIT_TOKEN")) == std::string::npos);

  GitCredentials none;
  none.caFile = env("WINDLASS_TEST_GIT_CA");
  auto anonymous = repo.mirror(repo.httpsUrl(), none);
  REQUIRE(anonymous.has_value());
  Status st2 = anonymous->fetch({"main"});
  CHECK(st2.code() == Code::kUnauthenticated);
  CHECK(st2.message().find("authentication required") != std::string::npos);
}

TEST_CASE("HTTPS without the test CA is refused; with insecureSkipTlsVerify it works") {
  Served repo;
  GitCredentials creds = httpsCredentials();
  creds.caFile.clear();
  auto mirror = repo.mirror(repo.httpsUrl(), creds);
  REQUIRE(mirror.has_value());
  Status st = mirror->fetch({"main"});
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == Code::kFailedPrecondition);
  CHECK(st.message() == "git fetch " + repo.httpsUrl() +
                            ": TLS certificate of 127.0.0.1 is not trusted by the system's CAs "
                            "(configure caFile)");

  creds.insecureSkipTlsVerify = true;
  auto insecure = repo.mirror(repo.httpsUrl(), creds);
  REQUIRE(insecure.has_value());
  fetchAndRead(*insecure, repo.head());
}

TEST_CASE("HTTPS token in the URL works and never shows in messages") {
  Served repo;
  std::string base = env("WINDLASS_TEST_GIT_HTTPS_URL");
  std::string url = "https://" + env("WINDLASS_TEST_GIT_USER") + ":" +
                    env("WINDLASS_TEST_GIT_TOKEN") + "@" + base.substr(8) + "/" + repo.name +
                    ".git";
  GitCredentials creds;
  creds.caFile = env("WINDLASS_TEST_GIT_CA");
  auto mirror = repo.mirror(url, creds);
  REQUIRE(mirror.has_value());
  CHECK(mirror->displayUrl().find(env("WINDLASS_TEST_GIT_TOKEN")) == std::string::npos);
  fetchAndRead(*mirror, repo.head());
  auto missing = mirror->resolve("env/prod");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message().find(env("WINDLASS_TEST_GIT_TOKEN")) == std::string::npos);
}

TEST_CASE("a repository that does not exist on the HTTPS server is NotFound") {
  Served repo;
  std::string url = env("WINDLASS_TEST_GIT_HTTPS_URL") + "/no-such-" + repo.name + ".git";
  auto mirror = repo.mirror(url, httpsCredentials());
  REQUIRE(mirror.has_value());
  Status st = mirror->fetch({"main"});
  REQUIRE_FALSE(st.ok());
  INFO(st.message());
  CHECK(st.code() == Code::kNotFound);
  CHECK(st.message().rfind("git fetch " + url + ": ", 0) == 0);
}

TEST_CASE("SSH with the key and the known host key fetches") {
  Served repo;
  auto mirror = repo.mirror(repo.sshUrl(), sshCredentials());
  REQUIRE(mirror.has_value());
  fetchAndRead(*mirror, repo.head());
  std::string next = repo.pushCommit("overlays/dev/cm.yaml", "kind: ConfigMap\n# v2\n");
  REQUIRE(mirror->fetch({"main"}).ok());
  CHECK(mirror->resolve("main")->id == next);
}

TEST_CASE("SSH to a host missing from known_hosts is refused") {
  Served repo;
  GitCredentials creds = sshCredentials();
  creds.knownHostsFile = (repo.tmp / "empty_known_hosts").string();
  writeFile(creds.knownHostsFile, "");
  auto mirror = repo.mirror(repo.sshUrl(), creds);
  REQUIRE(mirror.has_value());
  Status st = mirror->fetch({"main"});
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == Code::kFailedPrecondition);
  CHECK(st.message() == "git fetch " + repo.sshUrl() + ": ssh host key for " + sshHostPort() +
                            " is not in " + creds.knownHostsFile);
  CHECK(mirror->resolve("main").error().code() == Code::kNotFound);  // nothing was fetched

  creds.knownHostsFile.clear();
  auto unpinned = repo.mirror(repo.sshUrl(), creds);
  REQUIRE(unpinned.has_value());
  Status st2 = unpinned->fetch({"main"});
  CHECK(st2.code() == Code::kFailedPrecondition);
  CHECK(st2.message().find("no known_hosts file is configured") != std::string::npos);
}

TEST_CASE("SSH to a host whose key does not match known_hosts is refused") {
  Served repo;
  GitCredentials creds = sshCredentials();
  creds.knownHostsFile = env("WINDLASS_TEST_GIT_WRONG_KNOWN_HOSTS");
  auto mirror = repo.mirror(repo.sshUrl(), creds);
  REQUIRE(mirror.has_value());
  Status st = mirror->fetch({"main"});
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == Code::kFailedPrecondition);
  CHECK(st.message().rfind("git fetch " + repo.sshUrl() + ": ssh host key for " + sshHostPort() +
                               " does not match " + creds.knownHostsFile,
                           0) == 0);
}

TEST_CASE("SSH with a key the server does not know is Unauthenticated") {
  Served repo;
  GitCredentials creds = sshCredentials();
  creds.sshKeyFile = (repo.tmp / "stranger").string();
  sh("ssh-keygen -q -t ed25519 -N '' -f " + creds.sshKeyFile);
  auto mirror = repo.mirror(repo.sshUrl(), creds);
  REQUIRE(mirror.has_value());
  Status st = mirror->fetch({"main"});
  REQUIRE_FALSE(st.ok());
  INFO(st.message());
  CHECK(st.code() == Code::kUnauthenticated);
  CHECK(st.message().rfind("git fetch " + repo.sshUrl() + ": ", 0) == 0);
}

TEST_CASE("git:// fetches anonymously") {
  Served repo;
  auto mirror = repo.mirror(repo.daemonUrl(), GitCredentials{});
  REQUIRE(mirror.has_value());
  fetchAndRead(*mirror, repo.head());
  auto missing = repo.mirror(env("WINDLASS_TEST_GIT_DAEMON_URL") + "/absent-" + repo.name + ".git",
                             GitCredentials{});
  REQUIRE(missing.has_value());
  Status st = missing->fetch({"main"});
  REQUIRE_FALSE(st.ok());
  INFO(st.message());
  CHECK(st.code() == Code::kNotFound);
}

TEST_CASE("write-back: commitAndPush over HTTPS and over SSH") {
  Served repo;
  auto https = repo.mirror(repo.httpsUrl(), httpsCredentials());
  REQUIRE(https.has_value());
  CommitRequest req;
  req.branch = "main";
  req.path = "overlays/dev/images.yaml";
  req.content = "images: [{name: web, newTag: 1.2.3}]\n";
  req.message = "windlass: web 1.2.3";
  auto id = https->commitAndPush(req);
  REQUIRE_MESSAGE(id.has_value(), id.error().message());
  CHECK(repo.head() == *id);
  CHECK(sh("git -C " + repo.root.string() + " show main:overlays/dev/images.yaml") ==
        "images: [{name: web, newTag: 1.2.3}]");

  auto ssh = repo.mirror(repo.sshUrl(), sshCredentials());
  REQUIRE(ssh.has_value());
  req.content = "images: [{name: web, newTag: 1.2.4}]\n";
  auto id2 = ssh->commitAndPush(req);
  REQUIRE_MESSAGE(id2.has_value(), id2.error().message());
  CHECK(repo.head() == *id2);
  CHECK(sh("git -C " + repo.root.string() + " rev-parse main~1") == *id);

  GitCredentials wrong = httpsCredentials();
  wrong.password = "nope-nope";
  auto denied = repo.mirror(repo.httpsUrl(), wrong);
  REQUIRE(denied.has_value());
  CHECK(denied->commitAndPush(req).error().code() == Code::kUnauthenticated);
}

}  // namespace
}  // namespace windlass::sources
