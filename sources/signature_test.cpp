#include "sources/signature.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeFile(const fs::path& p, const std::string& content) {
  std::ofstream(p, std::ios::binary) << content;
}

// Keys made at test time, a work repository with signed and unsigned commits, and a
// mirror of it. HOME and TMPDIR point into the fixture, so a test can see that nothing
// is written to ~/.gnupg and that every temporary GNUPGHOME is removed.
struct Fixture {
  fs::path dir;
  std::string oldHome, oldTmp;
  std::string gnupg;  // the signers' GNUPGHOME (never the one the verifier uses)
  std::string bobFpr, eveFpr;
  std::string ed25519, rsa, ecdsa, unknownSsh, pgp, unknownPgp, unsignedCommit;
  std::string tamperedSsh, tamperedPgp;
  VerifyConfig config;
  std::unique_ptr<GitMirror> mirror;

  Fixture() {
    char tmpl[] = "/tmp/windlass-sig-test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    const char* home = std::getenv("HOME");
    const char* tmp = std::getenv("TMPDIR");
    oldHome = home != nullptr ? home : "";
    oldTmp = tmp != nullptr ? tmp : "";
    fs::create_directories(dir / "home");
    fs::create_directories(dir / "tmp");
    ::setenv("HOME", (dir / "home").c_str(), 1);
    ::setenv("TMPDIR", (dir / "tmp").c_str(), 1);

    std::string d = dir.string();
    for (auto [name, type] : {std::pair{"alice", "ed25519"}, std::pair{"carol", "rsa -b 2048"},
                              std::pair{"erin", "ecdsa"}, std::pair{"mallory", "ed25519"}}) {
      sh("ssh-keygen -q -t " + std::string(type) + " -N '' -C " + name + " -f " + d + "/" + name);
    }
    writeFile(dir / "allowed_signers",
              "# who may sign\n\nalice@example.com " + readFile(dir / "alice.pub") +
                  "carol@example.com namespaces=\"git,file\" " + readFile(dir / "carol.pub") +
                  "erin@example.com,erin@corp.example " + readFile(dir / "erin.pub"));

    gnupg = d + "/gnupg";
    fs::create_directories(gnupg);
    fs::permissions(gnupg, fs::perms::owner_all);
    std::string gpg = "GNUPGHOME=" + gnupg + " gpg --batch --quiet --passphrase '' ";
    sh(gpg + "--quick-gen-key 'Bob <bob@example.com>' ed25519 sign never 2>/dev/null");
    sh(gpg + "--quick-gen-key 'Eve <eve@example.com>' ed25519 sign never 2>/dev/null");
    auto fpr = [&](const std::string& who) {
      return sh("GNUPGHOME=" + gnupg + " gpg --batch --with-colons --list-keys " + who +
                " 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}'");
    };
    bobFpr = fpr("bob@example.com");
    eveFpr = fpr("eve@example.com");
    sh(gpg + "--armor --export bob@example.com > " + d + "/keyring.asc");

    std::string git = "git -C " + d + "/repo -c user.name=Ada -c user.email=ada@example.com ";
    sh("git init -q -b main " + d + "/repo");
    auto commit = [&](const std::string& branch, const std::string& flags) {
      if (branch != "main") sh(git + "checkout -q -B " + branch + " main");
      writeFile(dir / "repo" / "file.txt", branch + "\n");
      sh(git + "add file.txt");
      sh("GNUPGHOME=" + gnupg + " " + git + flags + " commit -q -m 'change " + branch + "'");
      return sh(git + "rev-parse HEAD");
    };
    unsignedCommit = commit("main", "");
    auto ssh = [&](const std::string& key) {
      return "-c gpg.format=ssh -c user.signingkey=" + d + "/" + key + " -c commit.gpgsign=true";
    };
    ed25519 = commit("ed25519", ssh("alice"));
    rsa = commit("rsa", ssh("carol"));
    ecdsa = commit("ecdsa", ssh("erin"));
    unknownSsh = commit("unknown-ssh", ssh("mallory"));
    auto openpgp = [&](const std::string& key) {
      return "-c gpg.format=openpgp -c user.signingkey=" + key + " -c commit.gpgsign=true";
    };
    pgp = commit("pgp", openpgp(bobFpr));
    unknownPgp = commit("unknown-pgp", openpgp(eveFpr));
    // The same signed objects with their message changed after signing.
    auto tamper = [&](const std::string& id, const std::string& branch) {
      std::string forged = sh("git -C " + d + "/repo cat-file commit " + id +
                              " | sed 's/^change /changed /' | git -C " + d +
                              "/repo hash-object -t commit -w --stdin");
      sh(git + "branch " + branch + " " + forged);
      return forged;
    };
    tamperedSsh = tamper(ed25519, "tampered-ssh");
    tamperedPgp = tamper(pgp, "tampered-pgp");
    sh("GNUPGHOME=" + gnupg + " gpgconf --kill all");

    auto opened = GitMirror::open(d + "/mirror", d + "/repo", {});
    REQUIRE(opened);
    mirror = std::make_unique<GitMirror>(std::move(*opened));
    REQUIRE(mirror->fetch({}).ok());
    config.allowedSignersFile = d + "/allowed_signers";
    config.keyringFile = d + "/keyring.asc";
  }

  ~Fixture() {
    mirror.reset();
    ::setenv("HOME", oldHome.c_str(), 1);
    if (oldTmp.empty()) {
      ::unsetenv("TMPDIR");
    } else {
      ::setenv("TMPDIR", oldTmp.c_str(), 1);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  SignatureCheck check(const std::string& commit, const VerifyConfig& c) {
    auto result = verifyCommit(*mirror, commit, c);
    INFO((result ? "" : result.error().message()));
    REQUIRE(result);
    return *result;
  }
  SignatureCheck check(const std::string& commit) { return check(commit, config); }

  std::string sshFingerprint(const std::string& key) {
    return sh("ssh-keygen -l -E sha256 -f " + (dir / (key + ".pub")).string() +
              " | awk '{print $2}'");
  }
};

// One fixture for every test case: key generation takes a while.
Fixture& fixture() {
  static Fixture f;
  return f;
}

TEST_CASE("SSH signatures of commits: ed25519, rsa and ecdsa keys in allowed_signers are valid") {
  Fixture& f = fixture();
  SignatureCheck ed = f.check(f.ed25519);
  CHECK(ed.verdict == SignatureVerdict::kValid);
  CHECK(ed.format == "ssh");
  CHECK(ed.signer == "alice@example.com");
  CHECK(ed.key == f.sshFingerprint("alice"));
  CHECK(ed.reason == "");

  SignatureCheck rsa = f.check(f.rsa);
  CHECK(rsa.verdict == SignatureVerdict::kValid);
  CHECK(rsa.signer == "carol@example.com");
  CHECK(rsa.key == f.sshFingerprint("carol"));

  SignatureCheck ec = f.check(f.ecdsa);
  CHECK(ec.verdict == SignatureVerdict::kValid);
  CHECK(ec.signer == "erin@example.com,erin@corp.example");
}

TEST_CASE("an OpenPGP signature by a key of the keyring is valid") {
  Fixture& f = fixture();
  SignatureCheck c = f.check(f.pgp);
  CHECK(c.verdict == SignatureVerdict::kValid);
  CHECK(c.format == "openpgp");
  CHECK(c.signer == "Bob <bob@example.com>");
  CHECK(c.key == f.bobFpr);
  // The check used a private GNUPGHOME under TMPDIR, removed afterwards, and never ~/.gnupg.
  CHECK(fs::is_empty(f.dir / "tmp"));
  CHECK_FALSE(fs::exists(f.dir / "home" / ".gnupg"));
  // ... and started no gpg-agent (it would outlive its folder).
  CHECK(sh("ps -eo stat,args | grep -v '^Z' | grep -c '[g]pg-agent --homedir " +
           (f.dir / "tmp").string() + "' || true") == "0");
}

TEST_CASE("an unsigned commit is refused") {
  Fixture& f = fixture();
  SignatureCheck c = f.check(f.unsignedCommit);
  CHECK(c.verdict == SignatureVerdict::kUnsigned);
  CHECK(c.reason == "not signed");
  CHECK(c.signer == "");
}

TEST_CASE("a commit signed by an unknown key is refused, naming the key") {
  Fixture& f = fixture();
  SignatureCheck ssh = f.check(f.unknownSsh);
  CHECK(ssh.verdict == SignatureVerdict::kInvalid);
  CHECK(ssh.signer == "");
  CHECK(ssh.key == f.sshFingerprint("mallory"));
  CHECK(ssh.reason == "signed by an unknown key " + f.sshFingerprint("mallory") +
                          " (ssh-ed25519, not in " + f.config.allowedSignersFile + ")");

  SignatureCheck pgp = f.check(f.unknownPgp);
  CHECK(pgp.verdict == SignatureVerdict::kInvalid);
  CHECK(pgp.signer == "");
  CHECK(f.eveFpr.ends_with(pgp.key));
  CHECK(pgp.reason ==
        "signed by an unknown key " + pgp.key + " (not in " + f.config.keyringFile + ")");
}

TEST_CASE("a commit changed after it was signed is refused") {
  Fixture& f = fixture();
  SignatureCheck ssh = f.check(f.tamperedSsh);
  CHECK(ssh.verdict == SignatureVerdict::kInvalid);
  CHECK(ssh.signer == "");
  CHECK(ssh.reason == "bad signature by " + f.sshFingerprint("alice") +
                          ": the signature does not match (the commit changed after signing, "
                          "or the signature is forged)");

  SignatureCheck pgp = f.check(f.tamperedPgp);
  CHECK(pgp.verdict == SignatureVerdict::kInvalid);
  CHECK(pgp.signer == "");
  CHECK(pgp.reason.starts_with("bad signature by "));
}

TEST_CASE("a format without its trust file is refused; a config that enables nothing is an error") {
  Fixture& f = fixture();
  VerifyConfig sshOnly{f.config.allowedSignersFile, ""};
  SignatureCheck c = f.check(f.pgp, sshOnly);
  CHECK(c.verdict == SignatureVerdict::kInvalid);
  CHECK(c.reason == "signed with OpenPGP, but no openpgp.keyringFile is configured");
  VerifyConfig pgpOnly{"", f.config.keyringFile};
  c = f.check(f.ed25519, pgpOnly);
  CHECK(c.verdict == SignatureVerdict::kInvalid);
  CHECK(c.reason == "signed with SSH, but no ssh.allowedSignersFile is configured");
  auto none = verifyCommit(*f.mirror, f.ed25519, {});
  REQUIRE_FALSE(none);
  CHECK(none.error().code() == Code::kInvalidArgument);
}

TEST_CASE("missing trust files and commits are errors naming them") {
  Fixture& f = fixture();
  VerifyConfig missing{(f.dir / "nope").string(), (f.dir / "nope.asc").string()};
  auto ssh = verifyCommit(*f.mirror, f.ed25519, missing);
  REQUIRE_FALSE(ssh);
  CHECK(ssh.error().code() == Code::kNotFound);
  CHECK(ssh.error().message() == "commit " + f.ed25519 + ": " + missing.allowedSignersFile +
                                     ": cannot read: No such file or directory");
  auto pgp = verifyCommit(*f.mirror, f.pgp, missing);
  REQUIRE_FALSE(pgp);
  CHECK(pgp.error().code() == Code::kNotFound);
  writeFile(f.dir / "empty.asc", "not a key\n");
  auto empty = verifyCommit(*f.mirror, f.pgp, {"", (f.dir / "empty.asc").string()});
  REQUIRE_FALSE(empty);
  CHECK(empty.error().message() == "commit " + f.pgp + ": " + (f.dir / "empty.asc").string() +
                                       ": holds no OpenPGP public key");
  auto absent = verifyCommit(*f.mirror, std::string(40, 'a'), f.config);
  REQUIRE_FALSE(absent);
  CHECK(absent.error().code() == Code::kNotFound);
}

TEST_CASE("namespace, options and validity times of allowed_signers are obeyed") {
  Fixture& f = fixture();
  std::string d = f.dir.string();
  // A signature made for files, not for Git.
  writeFile(f.dir / "data", "hello\n");
  sh("ssh-keygen -q -Y sign -n file -f " + d + "/alice " + d + "/data 2>/dev/null");
  auto signers = parseAllowedSigners(readFile(f.dir / "allowed_signers"), "allowed_signers");
  REQUIRE(signers);
  SignatureCheck c = verifySsh(readFile(f.dir / "data.sig"), "hello\n", 0, *signers, "x");
  CHECK(c.verdict == SignatureVerdict::kInvalid);
  CHECK(c.reason == "signed for namespace \"file\", not \"git\"");

  std::string alice = readFile(f.dir / "alice.pub");
  auto check = [&](const std::string& line) {
    writeFile(f.dir / "signers2", line);
    return f.check(f.ed25519, {(f.dir / "signers2").string(), ""});
  };
  std::string where = d + "/signers2:1";
  std::string key = f.sshFingerprint("alice");
  c = check("alice@example.com namespaces=\"file\" " + alice);
  CHECK(c.verdict == SignatureVerdict::kInvalid);
  CHECK(c.reason ==
        "key " + key + " is not allowed to sign Git commits (namespaces= at " + where + ")");
  c = check("alice@example.com namespaces=\"g*,!gi?\" " + alice);
  CHECK(c.verdict == SignatureVerdict::kInvalid);
  c = check("alice@example.com namespaces=\"g*\" " + alice);
  CHECK(c.verdict == SignatureVerdict::kValid);
  c = check("alice@example.com valid-before=\"20000101\" " + alice);
  CHECK(c.verdict == SignatureVerdict::kInvalid);
  CHECK(c.reason.starts_with("key " + key + " expired at 2000-01-01T00:00:00Z (valid-before at " +
                             where + "); the commit is from 20"));
  c = check("alice@example.com valid-after=\"29990101\" " + alice);
  CHECK(c.verdict == SignatureVerdict::kInvalid);
  CHECK(c.reason.starts_with("key " + key + " is not valid before 2999-01-01T00:00:00Z"));
  c = check("alice@example.com valid-after=\"20000101\",valid-before=\"29991231235959Z\" " + alice);
  CHECK(c.verdict == SignatureVerdict::kValid);
  // A certificate authority line trusts certificates, not the key itself.
  c = check("alice@example.com cert-authority " + alice);
  CHECK(c.verdict == SignatureVerdict::kInvalid);
  CHECK(c.reason.starts_with("signed by an unknown key"));
}

TEST_CASE("allowed_signers errors name the file and line") {
  std::string key = "AAAAC3NzaC1lZDI1NTE5AAAAIGSlKwJ6TsJn0mR7yJFWnbAwGodXv0tJxJmJvZC3cNMg";
  auto err = [](const std::string& text) {
    auto r = parseAllowedSigners(text, "signers");
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Code::kInvalidArgument);
    return r.error().message();
  };
  auto ok = parseAllowedSigners("a@b ssh-ed25519 " + key + " comment here\n", "signers");
  REQUIRE(ok);
  REQUIRE(ok->size() == 1);
  CHECK((*ok)[0].principals == "a@b");
  CHECK((*ok)[0].keyType == "ssh-ed25519");
  CHECK((*ok)[0].line == 1);
  CHECK(err("\n# c\na@b\n") == "signers:3: no key after the principals");
  CHECK(err("a@b foo=1 ssh-ed25519 " + key) == "signers:1: unknown option \"foo=1\"");
  CHECK(err("a@b namespaces=\"git ssh-ed25519 " + key) ==
        "signers:1: unterminated quote in the options");
  CHECK(err("a@b valid-after=\"2020\" ssh-ed25519 " + key) ==
        "signers:1: bad time \"2020\" in valid-after= (YYYYMMDD[HHMM[SS]][Z])");
  CHECK(err("a@b cert-authority") == "signers:1: no key after the options");
  CHECK(err("a@b cert-authority rsa " + key) == "signers:1: unknown key type \"rsa\"");
  CHECK(err("a@b ssh-ed25519") == "signers:1: no key after \"ssh-ed25519\"");
  CHECK(err("a@b ssh-ed25519 not-base64!") == "signers:1: the key is not valid base64");
  CHECK(err("a@b ssh-rsa " + key) ==
        "signers:1: the key is a \"ssh-ed25519\" key, not \"ssh-rsa\"");
}

TEST_CASE("malformed SSH signatures are refused with a reason, never trusted") {
  Fixture& f = fixture();
  auto signers = parseAllowedSigners(readFile(f.dir / "allowed_signers"), "s");
  REQUIRE(signers);
  auto reason = [&](const std::string& armored) {
    SignatureCheck c = verifySsh(armored, "data", 0, *signers, "s");
    CHECK(c.verdict == SignatureVerdict::kInvalid);
    return c.reason;
  };
  CHECK(reason("") ==
        "malformed signature: SSH signature: no \"-----END SSH SIGNATURE-----\" line");
  CHECK(reason("junk") ==
        "malformed signature: SSH signature: no \"-----BEGIN SSH SIGNATURE-----\" line");
  CHECK(reason("-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----\n") ==
        "malformed signature: SSH signature: bad base64");
  CHECK(reason("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n") ==
        "malformed signature: SSH signature: truncated");
  CHECK(reason("-----BEGIN SSH SIGNATURE-----\nWFhYWFhY\n-----END SSH SIGNATURE-----\n") ==
        "malformed signature: SSH signature: no SSHSIG preamble");
  // A real signature with one byte of the signature itself flipped.
  std::string d = f.dir.string();
  writeFile(f.dir / "msg", "data");
  sh("ssh-keygen -q -Y sign -n git -f " + d + "/erin " + d + "/msg 2>/dev/null");
  std::string armored = readFile(f.dir / "msg.sig");
  CHECK(verifySsh(armored, "data", 0, *signers, "s").valid());
  auto parsed = parseSshSignature(armored);
  REQUIRE(parsed);
  CHECK(parsed->keyType == "ecdsa-sha2-nistp256");
  CHECK(parsed->nameSpace == "git");
  CHECK(
      verifySsh(armored, "datA", 0, *signers, "s").reason.starts_with("bad signature by SHA256:"));
  CHECK(reason(armored + "trailing\n") ==
        "malformed signature: SSH signature: text after the end line");
}

TEST_CASE("verdict names") {
  CHECK(std::string(verdictName(SignatureVerdict::kUnsigned)) == "unsigned");
  CHECK(std::string(verdictName(SignatureVerdict::kValid)) == "valid");
  CHECK(std::string(verdictName(SignatureVerdict::kInvalid)) == "invalid");
}

}  // namespace
}  // namespace windlass::sources
