#include "sources/git.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/cancel.h"
#include "sources/git_stream.h"

namespace windlass::sources {
namespace {

namespace fs = std::filesystem;

// Runs a shell command; fails the test when it exits non-zero. Returns its stdout
// without the trailing newline.
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

// A fresh folder holding a work repository "origin" with one commit on main:
//   README.md, base/a.yaml, base/kustomization.yaml, top.txt, and symlinks.
struct Fixture {
  fs::path dir;
  fs::path origin;

  Fixture() {
    ::setenv("GIT_AUTHOR_NAME", "Ada Author", 1);
    ::setenv("GIT_AUTHOR_EMAIL", "ada@example.com", 1);
    ::setenv("GIT_COMMITTER_NAME", "Cy Committer", 1);
    ::setenv("GIT_COMMITTER_EMAIL", "cy@example.com", 1);
    ::setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    ::setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
    std::string tmpl = (fs::temp_directory_path() / "windlass-git-test.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    origin = dir / "origin";
    sh("git init -q -b main " + origin.string());
    writeFile(origin / "README.md", "hello\n");
    writeFile(origin / "top.txt", "top\n");
    writeFile(origin / "base/a.yaml", "kind: ConfigMap\n");
    writeFile(origin / "base/kustomization.yaml", "resources: [a.yaml]\n");
    writeFile(origin / "base/nested/deep.txt", "deep\n");
    git("add -A");
    git("commit -q -m 'first commit' -m 'with a body'");
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  std::string git(const std::string& args) { return sh("git -C " + origin.string() + " " + args); }
  std::string mirrorDir() const { return (dir / "state" / "mirror.git").string(); }

  std::string commitFile(const std::string& path, const std::string& content,
                         const std::string& message) {
    writeFile(origin / path, content);
    git("add -A");
    git("commit -q -m '" + message + "'");
    return git("rev-parse HEAD");
  }
};

GitMirror openMirror(const Fixture& f, const std::string& url) {
  auto mirror = GitMirror::open(f.mirrorDir(), url, GitCredentials{});
  REQUIRE_MESSAGE(mirror.has_value(), mirror.error().message());
  return std::move(mirror).value();
}

TEST_CASE("fetch from a local path and resolve the branch to its commit") {
  Fixture f;
  GitMirror mirror = openMirror(f, f.origin.string());
  Status st = mirror.fetch({"main"});
  REQUIRE_MESSAGE(st.ok(), st.message());
  auto commit = mirror.resolve("main");
  REQUIRE_MESSAGE(commit.has_value(), commit.error().message());
  CHECK(commit->id == f.git("rev-parse main"));
  CHECK(commit->authorName == "Ada Author");
  CHECK(commit->authorEmail == "ada@example.com");
  CHECK(commit->committerName == "Cy Committer");
  CHECK(commit->committerEmail == "cy@example.com");
  CHECK(commit->message == "first commit\n\nwith a body\n");
  CHECK(commit->time == std::stoll(f.git("log -1 --format=%ct main")));
  CHECK(commit->signature.empty());
  // The mirror is bare: no work tree was written.
  CHECK(fs::exists(fs::path(f.mirrorDir()) / "HEAD"));
  CHECK_FALSE(fs::exists(fs::path(f.mirrorDir()) / "README.md"));
}

TEST_CASE("a second fetch is incremental and sees the new commit") {
  Fixture f;
  GitMirror mirror = openMirror(f, "file://" + f.origin.string());
  REQUIRE(mirror.fetch({}).ok());
  uint64_t firstObjects = mirror.lastFetchStats().receivedObjects;
  CHECK(firstObjects >= 7);  // commit, 3 trees, 4 blobs at least
  std::string first = f.git("rev-parse main");
  std::string second = f.commitFile("base/a.yaml", "kind: Secret\n", "second");
  REQUIRE(first != second);

  REQUIRE(mirror.fetch({}).ok());
  auto commit = mirror.resolve("main");
  REQUIRE(commit.has_value());
  CHECK(commit->id == second);
  // Only the new commit, its two changed trees and one blob travel.
  CHECK(mirror.lastFetchStats().receivedObjects < firstObjects);
  CHECK(mirror.lastFetchStats().receivedObjects > 0);
  CHECK(mirror.lastFetchStats().updatedRefs == 1);

  // Nothing new: nothing moves.
  REQUIRE(mirror.fetch({}).ok());
  CHECK(mirror.lastFetchStats().receivedObjects == 0);
  CHECK(mirror.lastFetchStats().updatedRefs == 0);

  // The mirror survives reopening.
  GitMirror reopened = openMirror(f, "file://" + f.origin.string());
  auto again = reopened.resolve("main");
  REQUIRE(again.has_value());
  CHECK(again->id == second);
}

TEST_CASE("resolve tags, short ids, full reference names; missing names are NotFound") {
  Fixture f;
  std::string first = f.git("rev-parse HEAD");
  f.git("tag v1.0.0");
  f.git("tag -a v1.1.0 -m 'annotated release'");
  f.git("checkout -q -b env/prod");
  std::string prod = f.commitFile("prod.txt", "prod\n", "prod change");
  GitMirror mirror = openMirror(f, f.origin.string());
  REQUIRE(mirror.fetch({}).ok());

  auto lightweight = mirror.resolve("v1.0.0");
  REQUIRE(lightweight.has_value());
  CHECK(lightweight->id == first);
  auto annotated = mirror.resolve("v1.1.0");  // peeled to the commit
  REQUIRE(annotated.has_value());
  CHECK(annotated->id == first);
  auto branch = mirror.resolve("env/prod");
  REQUIRE(branch.has_value());
  CHECK(branch->id == prod);
  auto fullRef = mirror.resolve("refs/heads/env/prod");
  REQUIRE(fullRef.has_value());
  CHECK(fullRef->id == prod);
  auto shortId = mirror.resolve(prod.substr(0, 7));
  REQUIRE(shortId.has_value());
  CHECK(shortId->id == prod);
  auto fullId = mirror.resolve(first);
  REQUIRE(fullId.has_value());
  CHECK(fullId->id == first);
  CHECK(fullId->message == "first commit\n\nwith a body\n");

  auto missing = mirror.resolve("nope");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code() == Code::kNotFound);
  CHECK(missing.error().message() ==
        "git " + f.origin.string() +
            ": revision \"nope\" not found (no branch, tag or commit by that name)");
  auto badId = mirror.resolve("0000000000000000000000000000000000000000");
  REQUIRE_FALSE(badId.has_value());
  CHECK(badId.error().code() == Code::kNotFound);
  auto malformed = mirror.resolve("a..b");
  REQUIRE_FALSE(malformed.has_value());
  CHECK(malformed.error().code() == Code::kNotFound);
  CHECK(mirror.resolve("").error().code() == Code::kInvalidArgument);
}

TEST_CASE("fetch({}) brings every tag; tags() lists them; deleted tags disappear") {
  Fixture f;
  GitMirror mirror = openMirror(f, f.origin.string());
  auto none = mirror.tags();
  REQUIRE_MESSAGE(none.has_value(), none.error().message());
  CHECK(none->empty());

  f.git("tag v1.0.0");
  f.git("tag -a v1.1.0 -m 'annotated release'");
  // A tag on a commit that no branch reaches: only a tags refspec brings it.
  f.git("checkout -q --detach");
  std::string loose = f.commitFile("hotfix.txt", "fix\n", "hotfix");
  f.git("tag -a v1.1.1 -m 'hotfix release'");
  f.git("tag not-a-version");
  f.git("checkout -q main");
  REQUIRE(f.git("branch --contains " + loose).empty());

  Status st = mirror.fetch({});
  REQUIRE_MESSAGE(st.ok(), st.message());
  auto tags = mirror.tags();
  REQUIRE_MESSAGE(tags.has_value(), tags.error().message());
  CHECK(*tags == std::vector<std::string>{"not-a-version", "v1.0.0", "v1.1.0", "v1.1.1"});
  auto hotfix = mirror.resolve("v1.1.1");
  REQUIRE_MESSAGE(hotfix.has_value(), hotfix.error().message());
  CHECK(hotfix->id == loose);

  f.git("tag -d v1.0.0");
  f.git("tag v2.0.0");
  st = mirror.fetch({});
  REQUIRE_MESSAGE(st.ok(), st.message());
  tags = mirror.tags();
  REQUIRE(tags.has_value());
  CHECK(*tags == std::vector<std::string>{"not-a-version", "v1.1.0", "v1.1.1", "v2.0.0"});
}

TEST_CASE("a branch that is not on the remote is NotFound after fetch") {
  Fixture f;
  GitMirror mirror = openMirror(f, f.origin.string());
  Status st = mirror.fetch({"env/missing"});
  REQUIRE_MESSAGE(st.ok(), st.message());
  auto commit = mirror.resolve("env/missing");
  REQUIRE_FALSE(commit.has_value());
  CHECK(commit.error().code() == Code::kNotFound);
  CHECK(commit.error().message().find("\"env/missing\" not found") != std::string::npos);
}

TEST_CASE("branches deleted on the remote disappear from the mirror") {
  Fixture f;
  f.git("branch feature");
  GitMirror mirror = openMirror(f, f.origin.string());
  REQUIRE(mirror.fetch({}).ok());
  REQUIRE(mirror.resolve("feature").has_value());
  f.git("branch -D feature");
  REQUIRE(mirror.fetch({}).ok());
  CHECK(mirror.resolve("feature").error().code() == Code::kNotFound);
  CHECK(mirror.resolve("main").has_value());
}

TEST_CASE("an unreachable or missing remote is an error naming the URL") {
  Fixture f;
  std::string url = (f.dir / "no-such-repo").string();
  GitMirror mirror = openMirror(f, url);
  Status st = mirror.fetch({"main"});
  REQUIRE_FALSE(st.ok());
  INFO(st.message());
  CHECK(st.code() == Code::kNotFound);
  CHECK(st.message().rfind("git fetch " + url + ": ", 0) == 0);

  auto refused = GitMirror::open((f.dir / "m2").string(), "https://user:s3cret@127.0.0.1:1/x.git",
                                 GitCredentials{});
  REQUIRE(refused.has_value());
  Status down = refused->fetch({"main"});
  REQUIRE_FALSE(down.ok());
  CHECK(down.code() == Code::kUnavailable);
  CHECK(down.message().rfind("git fetch https://user@127.0.0.1:1/x.git: ", 0) == 0);
  CHECK(down.message().find("s3cret") == std::string::npos);

  Status badSpec = mirror.fetch({"refs/heads/a b:refs/heads/x"});
  CHECK(badSpec.code() == Code::kInvalidArgument);
}

TEST_CASE("open refuses a folder that is not a bare repository") {
  Fixture f;
  fs::create_directories(f.dir / "junk");
  writeFile(f.dir / "junk" / "HEAD", "garbage");
  auto mirror = GitMirror::open((f.dir / "junk").string(), f.origin.string(), {});
  REQUIRE_FALSE(mirror.has_value());
  CHECK(mirror.error().code() == Code::kFailedPrecondition);
  CHECK(GitMirror::open(f.mirrorDir(), "", {}).error().code() == Code::kInvalidArgument);
}

TEST_CASE("the tree of a commit reads files and lists folders without a checkout") {
  Fixture f;
  std::string first = f.git("rev-parse HEAD");
  std::string second = f.commitFile("base/a.yaml", "kind: Secret\n", "second");
  GitMirror mirror = openMirror(f, f.origin.string());
  REQUIRE(mirror.fetch({}).ok());

  auto tree = mirror.tree(first);
  REQUIRE_MESSAGE(tree.has_value(), tree.error().message());
  const FileSource& src = **tree;
  CHECK(src.kind("") == FileKind::kDirectory);
  CHECK(src.kind("base") == FileKind::kDirectory);
  CHECK(src.kind("base/a.yaml") == FileKind::kFile);
  CHECK(src.kind("base/none.yaml") == FileKind::kMissing);
  CHECK(src.kind("README.md/x") == FileKind::kMissing);
  auto a = src.read("base/a.yaml", 1 << 20);
  REQUIRE(a.has_value());
  CHECK(*a == "kind: ConfigMap\n");  // the old commit's content
  auto deep = src.read("base/./nested/../nested/deep.txt", 1 << 20);
  REQUIRE(deep.has_value());
  CHECK(*deep == "deep\n");

  auto root = src.list("");
  REQUIRE(root.has_value());
  CHECK(*root == std::vector<std::string>{"README.md", "base", "top.txt"});
  auto base = src.list("base");
  REQUIRE(base.has_value());
  CHECK(*base == std::vector<std::string>{"a.yaml", "kustomization.yaml", "nested"});

  auto missing = src.read("base/none.yaml", 100);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code() == Code::kNotFound);
  CHECK(missing.error().message() == src.describe("base/none.yaml") + ": no such file or folder");
  CHECK(src.describe("base/a.yaml") ==
        f.origin.string() + "@" + first.substr(0, 12) + ":base/a.yaml");
  auto tooBig = src.read("base/a.yaml", 3);
  REQUIRE_FALSE(tooBig.has_value());
  CHECK(tooBig.error().code() == Code::kInvalidArgument);
  CHECK(src.read("base", 100).error().code() == Code::kInvalidArgument);
  CHECK(src.list("top.txt").error().code() == Code::kNotFound);
  CHECK(src.read("../outside", 100).error().code() == Code::kInvalidArgument);

  // Another commit, another tree; the first source stays valid after the mirror is gone.
  auto newer = mirror.tree(second);
  REQUIRE(newer.has_value());
  CHECK(*(*newer)->read("base/a.yaml", 100) == "kind: Secret\n");
  { GitMirror gone = std::move(mirror); }
  CHECK(*src.read("top.txt", 100) == "top\n");

  GitMirror reopened = openMirror(f, f.origin.string());
  auto bogus = reopened.tree("0123456789012345678901234567890123456789");
  REQUIRE_FALSE(bogus.has_value());
  CHECK(bogus.error().code() == Code::kNotFound);
  CHECK(reopened.tree("abc").error().code() == Code::kInvalidArgument);
}

TEST_CASE("symlinks resolve inside the tree; escaping ones are refused") {
  Fixture f;
  auto link = [&f](const std::string& target, const std::string& name) {
    fs::create_directories((f.origin / name).parent_path());
    fs::create_symlink(target, f.origin / name);
  };
  link("base/a.yaml", "to-file");
  link("base", "to-dir");
  link("../top.txt", "base/up");
  link("nested", "base/n");  // chained with to-dir below
  link("../../outside.txt", "base/escape");
  link("/etc/passwd", "absolute");
  link("loop-b", "loop-a");
  link("loop-a", "loop-b");
  link("to-dir/nested/../../base/escape", "indirect-escape");
  f.git("add -A");
  f.git("commit -q -m links");
  writeFile(f.dir / "outside.txt", "secret outside the tree\n");
  GitMirror mirror = openMirror(f, f.origin.string());
  REQUIRE(mirror.fetch({"main"}).ok());
  auto tree = mirror.tree(f.git("rev-parse HEAD"));
  REQUIRE(tree.has_value());
  const FileSource& src = **tree;

  CHECK(*src.read("to-file", 100) == "kind: ConfigMap\n");
  CHECK(src.kind("to-dir") == FileKind::kDirectory);
  CHECK(*src.read("to-dir/a.yaml", 100) == "kind: ConfigMap\n");
  CHECK(*src.read("base/up", 100) == "top\n");
  CHECK(*src.read("to-dir/n/deep.txt", 100) == "deep\n");
  auto listed = src.list("to-dir/n");
  REQUIRE(listed.has_value());
  CHECK(*listed == std::vector<std::string>{"deep.txt"});

  auto escape = src.read("base/escape", 100);
  REQUIRE_FALSE(escape.has_value());
  CHECK(escape.error().code() == Code::kInvalidArgument);
  CHECK(escape.error().message() == src.describe("base/escape") +
                                        ": symlink base/escape -> ../../outside.txt points "
                                        "outside the repository tree");
  CHECK(src.kind("base/escape") == FileKind::kMissing);
  CHECK(src.read("absolute", 100).error().code() == Code::kInvalidArgument);
  CHECK(src.kind("absolute") == FileKind::kMissing);
  CHECK(src.read("indirect-escape", 100).error().code() == Code::kInvalidArgument);
  auto loop = src.read("loop-a", 100);
  REQUIRE_FALSE(loop.has_value());
  CHECK(loop.error().message() == src.describe("loop-a") + ": too many levels of symlinks");
  // realPath: where a path leads with its links resolved (the renderer's load restrictor).
  CHECK(*src.realPath("to-file") == "base/a.yaml");
  CHECK(*src.realPath("to-dir/n/deep.txt") == "base/nested/deep.txt");
  CHECK(*src.realPath("base/up") == "top.txt");
  CHECK(*src.realPath("base") == "base");
  CHECK(*src.realPath("") == "");
  CHECK(src.realPath("base/escape").error().code() == Code::kInvalidArgument);
  CHECK(src.realPath("absolute").error().code() == Code::kInvalidArgument);
  CHECK(src.realPath("base/none").error().code() == Code::kNotFound);
  // Links are listed by name; what they point at is decided on access.
  auto root = src.list("");
  REQUIRE(root.has_value());
  CHECK(std::count(root->begin(), root->end(), "to-dir") == 1);
}

TEST_CASE("submodules read as missing and are not listed") {
  Fixture f;
  std::string head = f.git("rev-parse HEAD");
  f.git("update-index --add --cacheinfo 160000," + head + ",vendor/sub");
  f.git("commit -q -m 'add submodule'");
  GitMirror mirror = openMirror(f, f.origin.string());
  REQUIRE(mirror.fetch({"main"}).ok());
  auto tree = mirror.tree(f.git("rev-parse HEAD"));
  REQUIRE(tree.has_value());
  CHECK((*tree)->kind("vendor") == FileKind::kDirectory);
  CHECK((*tree)->kind("vendor/sub") == FileKind::kMissing);
  CHECK((*tree)->read("vendor/sub/x", 10).error().code() == Code::kNotFound);
  CHECK((*tree)->list("vendor")->empty());
}

TEST_CASE("commitAndPush writes one file on a branch and pushes it") {
  Fixture f;
  sh("git clone -q --bare " + f.origin.string() + " " + (f.dir / "bare.git").string());
  std::string bare = (f.dir / "bare.git").string();
  GitMirror mirror = openMirror(f, "file://" + bare);
  CommitRequest req;
  req.branch = "main";
  req.path = "apps/dev/images.yaml";
  req.content = "image: web:1.2.3\n";
  req.message = "Update web to 1.2.3";
  auto id = mirror.commitAndPush(req);
  REQUIRE_MESSAGE(id.has_value(), id.error().message());
  CHECK(sh("git -C " + bare + " rev-parse main") == *id);
  CHECK(sh("git -C " + bare + " show main:apps/dev/images.yaml") == "image: web:1.2.3");
  CHECK(sh("git -C " + bare + " show main:README.md") == "hello");
  CHECK(sh("git -C " + bare + " log -1 --format=%an/%s main") == "windlass/Update web to 1.2.3");
  auto resolved = mirror.resolve("main");
  REQUIRE(resolved.has_value());
  CHECK(resolved->id == *id);

  // Same content again: no new commit.
  auto same = mirror.commitAndPush(req);
  REQUIRE(same.has_value());
  CHECK(*same == *id);
  CHECK(sh("git -C " + bare + " rev-list --count main") == "2");

  req.branch = "no-such-branch";
  CHECK(mirror.commitAndPush(req).error().code() == Code::kNotFound);
  req.branch = "main";
  req.path = "../x";
  CHECK(mirror.commitAndPush(req).error().code() == Code::kInvalidArgument);
}

TEST_CASE(
    "promoteBranch fast-forwards, merges diverged branches, refuses conflicts, never forces") {
  Fixture f;
  std::string first = f.git("rev-parse HEAD");
  f.git("branch env/prod");
  std::string v2 = f.commitFile("top.txt", "v2\n", "v2");
  sh("git clone -q --bare " + f.origin.string() + " " + (f.dir / "bare.git").string());
  std::string bare = (f.dir / "bare.git").string();
  GitMirror mirror = openMirror(f, "file://" + bare);
  REQUIRE(mirror.fetch({}).ok());

  PromoteRequest req;
  req.branch = "env/prod";
  req.commit = v2;
  req.message = "Promote dev (v2) to prod";
  std::string noted;
  req.beforePush = [&](const std::string& commit) {
    // Noted before the push: the remote branch has not moved yet.
    CHECK(sh("git -C " + bare + " rev-parse env/prod") == first);
    noted = commit;
    return Status();
  };
  auto ff = mirror.promoteBranch(req);
  REQUIRE_MESSAGE(ff.has_value(), ff.error().message());
  CHECK(ff->fastForward);
  CHECK(ff->commit == v2);
  CHECK(noted == v2);
  CHECK(sh("git -C " + bare + " rev-parse env/prod") == v2);

  // Again: already there, nothing pushed.
  auto again = mirror.promoteBranch(req);
  REQUIRE(again.has_value());
  CHECK(again->unchanged);

  // prod gets a hotfix of its own, main moves on: a merge commit with both parents.
  sh("git -C " + bare + " branch -f hotfix env/prod");
  std::string work = (f.dir / "work").string();
  sh("git clone -q " + bare + " " + work + " && git -C " + work +
     " checkout -q env/prod && echo fix > " + work + "/fix.txt && git -C " + work +
     " add -A && git -C " + work + " commit -q -m hotfix && git -C " + work +
     " push -q origin env/prod");
  std::string hotfix = sh("git -C " + bare + " rev-parse env/prod");
  std::string v3 = f.commitFile("README.md", "v3\n", "v3");
  sh("git -C " + f.origin.string() + " push -q " + bare + " main");
  REQUIRE(mirror.fetch({}).ok());
  req.commit = v3;
  req.beforePush = nullptr;
  auto merged = mirror.promoteBranch(req);
  REQUIRE_MESSAGE(merged.has_value(), merged.error().message());
  CHECK_FALSE(merged->fastForward);
  CHECK_FALSE(merged->unchanged);
  CHECK(sh("git -C " + bare + " rev-parse env/prod") == merged->commit);
  CHECK(sh("git -C " + bare + " rev-parse env/prod^1") == hotfix);
  CHECK(sh("git -C " + bare + " rev-parse env/prod^2") == v3);
  CHECK(sh("git -C " + bare + " show env/prod:fix.txt") == "fix");
  CHECK(sh("git -C " + bare + " show env/prod:README.md") == "v3");
  CHECK(sh("git -C " + bare + " log -1 --format=%s env/prod") == "Promote dev (v2) to prod");
  auto waiting = mirror.countCommits(hotfix, merged->commit);
  REQUIRE(waiting.has_value());
  CHECK(*waiting == 2);  // v3 and the merge

  // A conflict: both sides change top.txt. Nothing is pushed.
  sh("git -C " + work + " pull -q --no-rebase origin env/prod && echo prod > " + work +
     "/top.txt && git -C " + work + " commit -qam prod-top && git -C " + work +
     " push -q origin env/prod");
  std::string before = sh("git -C " + bare + " rev-parse env/prod");
  std::string v4 = f.commitFile("top.txt", "v4\n", "v4");
  sh("git -C " + f.origin.string() + " push -q " + bare + " main");
  REQUIRE(mirror.fetch({}).ok());
  req.commit = v4;
  auto conflict = mirror.promoteBranch(req);
  REQUIRE_FALSE(conflict.has_value());
  CHECK(conflict.error().code() == Code::kFailedPrecondition);
  CHECK(conflict.error().message().find("conflict (merge them by hand): top.txt") !=
        std::string::npos);
  CHECK(sh("git -C " + bare + " rev-parse env/prod") == before);
}

TEST_CASE("commitAndPush writes several files in one commit, skipping unchanged ones") {
  Fixture f;
  sh("git clone -q --bare " + f.origin.string() + " " + (f.dir / "bare.git").string());
  std::string bare = (f.dir / "bare.git").string();
  GitMirror mirror = openMirror(f, "file://" + bare);
  CommitRequest req;
  req.branch = "main";
  req.moreFiles = {{"a/web.yaml", "image: web:2\n"}, {"README.md", "hello\n"}};
  req.message = "images";
  auto id = mirror.commitAndPush(req);
  REQUIRE_MESSAGE(id.has_value(), id.error().message());
  CHECK(sh("git -C " + bare + " show main:a/web.yaml") == "image: web:2");
  CHECK(sh("git -C " + bare + " diff --name-only main~1 main") == "a/web.yaml");
  CHECK(sh("git -C " + bare + " rev-list --count main") == "2");
  req.moreFiles.push_back({"../x", "y"});
  CHECK(mirror.commitAndPush(req).error().code() == Code::kInvalidArgument);
}

TEST_CASE("redactUrl drops only the password") {
  CHECK(redactUrl("https://user:tok@host:8443/a/b.git") == "https://user@host:8443/a/b.git");
  CHECK(redactUrl("https://host/a@b.git") == "https://host/a@b.git");
  CHECK(redactUrl("ssh://git@host/x.git") == "ssh://git@host/x.git");
  CHECK(redactUrl("git@host:x.git") == "git@host:x.git");
  CHECK(redactUrl("/srv/x.git") == "/srv/x.git");
}

std::string base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

TEST_CASE("known_hosts matching: plain, [host]:port, patterns, hashed, revoked") {
  std::string key = std::string("\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) + std::string(32, 'k');
  std::string other = std::string("\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) + std::string(32, 'o');
  std::string k64 = base64(key);
  std::string o64 = base64(other);

  std::string text = "# comment\n\n[127.0.0.1]:2222 ssh-ed25519 " + k64 + "\n";
  CHECK(matchKnownHost(text, "127.0.0.1", 2222, key) == HostKeyMatch::kOk);
  CHECK(matchKnownHost(text, "127.0.0.1", 2222, other) == HostKeyMatch::kMismatch);
  CHECK(matchKnownHost(text, "127.0.0.1", 22, key) == HostKeyMatch::kUnknown);
  CHECK(matchKnownHost(text, "127.0.0.2", 2222, key) == HostKeyMatch::kUnknown);
  CHECK(matchKnownHost("", "127.0.0.1", 2222, key) == HostKeyMatch::kUnknown);

  std::string patterns = "*.example.com,!bad.example.com ssh-ed25519 " + k64 + "\n";
  CHECK(matchKnownHost(patterns, "git.EXAMPLE.com", 22, key) == HostKeyMatch::kOk);
  CHECK(matchKnownHost(patterns, "bad.example.com", 22, key) == HostKeyMatch::kUnknown);

  // Hashed as `ssh-keygen -H` writes it: |1|base64(salt)|base64(HMAC-SHA1(salt, name)).
  std::string salt(20, 's');
  std::string name = "[git.example.com]:2222";
  unsigned char mac[20];
  unsigned int macLen = 0;
  HMAC(EVP_sha1(), salt.data(), 20, reinterpret_cast<const unsigned char*>(name.data()),
       name.size(), mac, &macLen);
  std::string hashed = "|1|" + base64(salt) + "|" +
                       base64(std::string(reinterpret_cast<char*>(mac), macLen)) + " ssh-ed25519 " +
                       k64 + "\n";
  CHECK(matchKnownHost(hashed, "git.example.com", 2222, key) == HostKeyMatch::kOk);
  CHECK(matchKnownHost(hashed, "git.example.com", 22, key) == HostKeyMatch::kUnknown);

  std::string revoked = "host ssh-ed25519 " + k64 + "\n@revoked host ssh-ed25519 " + k64 + "\n";
  CHECK(matchKnownHost(revoked, "host", 22, key) == HostKeyMatch::kMismatch);
  std::string twoKeys = "host ssh-ed25519 " + o64 + "\nhost ssh-ed25519 " + k64 + "\n";
  CHECK(matchKnownHost(twoKeys, "host", 22, key) == HostKeyMatch::kOk);
}

// ---------------------------------------------------------------------------------------
// Timeouts and cancellation

// A TCP server on 127.0.0.1 (port 0) that accepts every connection and never sends a
// byte. Connections stay open until it is destroyed.
class SilentServer {
 public:
  SilentServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener_, 16) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~SilentServer() {
    stop_ = true;
    thread_.join();
    for (int fd : accepted_) ::close(fd);
    ::close(listener_);
  }

  int port() const { return port_; }

  // Blocks until at least `n` connections were accepted.
  void waitForConnections(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return accepted_.size() >= n; });
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      accepted_.push_back(fd);
      cv_.notify_all();
    }
  }

  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> accepted_;
  std::thread thread_;
};

GitTimeouts quickTimeouts() {
  GitTimeouts t;
  t.connect = std::chrono::seconds(5);
  t.idle = std::chrono::milliseconds(300);
  t.total = std::chrono::seconds(30);
  return t;
}

TEST_CASE("formatDuration spells a timeout the short way") {
  CHECK(formatDuration(std::chrono::milliseconds(300)) == "300ms");
  CHECK(formatDuration(std::chrono::milliseconds(1500)) == "1500ms");
  CHECK(formatDuration(std::chrono::seconds(30)) == "30s");
  CHECK(formatDuration(std::chrono::seconds(60)) == "60s");
  CHECK(formatDuration(std::chrono::minutes(5)) == "5m");
}

TEST_CASE(
    "a server that never answers: fetch stops at the idle timeout, the mirror keeps its refs") {
  Fixture f;
  {  // the mirror has main from a first, good fetch
    GitMirror good = openMirror(f, f.origin.string());
    REQUIRE(good.fetch({"main"}).ok());
  }
  std::string mainId = f.git("rev-parse main");
  SilentServer server;
  // ssh: libssh2 reads the socket itself; the scope's watchdog stops it.
  for (std::string scheme : {"http", "git", "ssh"}) {
    CAPTURE(scheme);
    std::string user = scheme == "ssh" ? "git@" : "";
    std::string url =
        scheme + "://" + user + "127.0.0.1:" + std::to_string(server.port()) + "/x.git";
    auto mirror = GitMirror::open(f.mirrorDir(), url, GitCredentials{}, quickTimeouts());
    REQUIRE(mirror.has_value());
    auto start = std::chrono::steady_clock::now();
    Status st = mirror->fetch({"main"});
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(st.code() == Code::kDeadlineExceeded);
    CHECK(st.message() ==
          "git fetch " + url + ": timed out: no data from the server for 300ms (idle timeout)");
    CHECK(took < std::chrono::seconds(5));
    auto commit = mirror->resolve("main");
    REQUIRE(commit.has_value());
    CHECK(commit->id == mainId);
  }
}

TEST_CASE("a server that never answers: the total timeout bounds fetch and commitAndPush") {
  Fixture f;
  SilentServer server;
  std::string url = "http://user:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/x.git";
  std::string shown = "http://user@127.0.0.1:" + std::to_string(server.port()) + "/x.git";
  GitTimeouts t = quickTimeouts();
  t.idle = std::chrono::seconds(20);
  t.total = std::chrono::milliseconds(400);
  auto mirror = GitMirror::open(f.mirrorDir(), url, GitCredentials{}, t);
  REQUIRE(mirror.has_value());
  Status st = mirror->fetch({});
  CHECK(st.code() == Code::kDeadlineExceeded);
  CHECK(st.message() ==
        "git fetch " + shown + ": timed out: not done within 400ms (total timeout)");

  CommitRequest req;
  req.branch = "main";
  req.path = "a.txt";
  req.content = "a\n";
  auto pushed = mirror->commitAndPush(req);
  REQUIRE_FALSE(pushed.has_value());
  CHECK(pushed.error().code() == Code::kDeadlineExceeded);
  CHECK(pushed.error().message() ==
        "git fetch " + shown + ": timed out: not done within 400ms (total timeout)");
}

TEST_CASE("a fetch waiting on a silent server stops when its token is cancelled") {
  Fixture f;
  SilentServer server;
  GitTimeouts t = quickTimeouts();
  t.idle = std::chrono::seconds(60);
  t.total = std::chrono::seconds(120);
  size_t connections = 0;
  for (std::string url : {"git://127.0.0.1:" + std::to_string(server.port()) + "/x.git",
                          "ssh://git@127.0.0.1:" + std::to_string(server.port()) + "/x.git"}) {
    CAPTURE(url);
    auto mirror = GitMirror::open(f.mirrorDir(), url, GitCredentials{}, t);
    REQUIRE(mirror.has_value());
    CancelToken cancel;
    std::thread canceller([&] {
      server.waitForConnections(++connections);  // the fetch is now waiting for the server
      cancel.cancel();
    });
    auto start = std::chrono::steady_clock::now();
    Status st = mirror->fetch({"main"}, &cancel);
    auto took = std::chrono::steady_clock::now() - start;
    canceller.join();
    CHECK(st.code() == Code::kAborted);
    CHECK(st.message() == "git fetch " + url + ": cancelled");
    CHECK(took < std::chrono::seconds(5));

    // A token cancelled before the call stops it at once.
    Status again = mirror->fetch({"main"}, &cancel);
    CHECK(again.code() == Code::kAborted);
    CHECK(again.message() == "git fetch " + url + ": cancelled");
  }
}

// ---------------------------------------------------------------------------------------
// One mirror folder shared by several processes

TEST_CASE("first syncs of several processes on one new mirror all succeed") {
  Fixture f;
  std::string bare = (f.dir / "bare.git").string();
  sh("git clone -q --bare " + f.origin.string() + " " + bare);
  std::string mainId = f.git("rev-parse main");
  constexpr int kRounds = 10, kChildren = 4;
  int failures = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::string dir = (f.dir / ("state" + std::to_string(round)) / "mirror.git").string();
    int gate[2];
    REQUIRE(::pipe(gate) == 0);
    std::vector<pid_t> children;
    for (int i = 0; i < kChildren; ++i) {
      pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        ::close(gate[1]);
        char c;
        (void)::read(gate[0], &c, 1);  // all start together when the parent closes it
        auto mirror = GitMirror::open(dir, "file://" + bare, GitCredentials{});
        Status st = mirror ? mirror->fetch({}) : mirror.error();
        if (st.ok() && mirror->resolve("main").has_value()) ::_exit(0);
        std::fprintf(stderr, "child %d: %s\n", i, st.ok() ? "main missing" : st.message().c_str());
        ::_exit(1);
      }
      children.push_back(pid);
    }
    ::close(gate[0]);
    ::close(gate[1]);
    for (pid_t pid : children) {
      int status = 0;
      REQUIRE(::waitpid(pid, &status, 0) == pid);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
    }
  }
  CHECK(failures == 0);
  MESSAGE(failures << " of " << kRounds * kChildren << " children failed");
}

TEST_CASE("stale libgit2 lock files left by a killed process do not break the next fetch") {
  Fixture f;
  {
    GitMirror mirror = openMirror(f, f.origin.string());
    REQUIRE(mirror.fetch({}).ok());
  }
  fs::path dir = f.mirrorDir();
  writeFile(dir / "config.lock", "[core]\n");
  writeFile(dir / "packed-refs.lock", "");
  writeFile(dir / "refs" / "heads" / "main.lock", "0000000000000000000000000000000000000000\n");
  writeFile(dir / "FETCH_HEAD.lock", "");
  std::string second = f.commitFile("top.txt", "top 2\n", "second");

  GitMirror mirror = openMirror(f, f.origin.string());
  Status st = mirror.fetch({});
  REQUIRE_MESSAGE(st.ok(), st.message());
  auto commit = mirror.resolve("main");
  REQUIRE(commit.has_value());
  CHECK(commit->id == second);
  CHECK_FALSE(fs::exists(dir / "config.lock"));
  CHECK_FALSE(fs::exists(dir / "refs" / "heads" / "main.lock"));
  CHECK(fs::exists(fs::path(f.mirrorDir() + ".lock")));  // our own flock file, beside it
}

}  // namespace
}  // namespace windlass::sources
