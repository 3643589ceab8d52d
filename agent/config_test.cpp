#include "agent/config.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace windlass::agent {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

ConfigOptions offline() {
  ConfigOptions o;
  o.checkFiles = false;
  o.checkEnvironment = false;
  o.home = "/home/op";
  return o;
}

AgentConfig parseOk(const std::string& text, const ConfigOptions& options = offline()) {
  auto c = parseConfig(text, "windlass.yaml", options);
  REQUIRE_MESSAGE(c, c.error().message());
  return *c;
}

// The problems reported for `text`, one per line.
std::vector<std::string> problems(const std::string& text,
                                  const ConfigOptions& options = offline()) {
  auto c = parseConfig(text, "windlass.yaml", options);
  REQUIRE_MESSAGE(!c, "expected problems in:\n" << text);
  CHECK(c.error().code() == Code::kInvalidArgument);
  std::vector<std::string> lines;
  std::istringstream in(c.error().message());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A valid config with `envs` as its environments list.
std::string withEnvironments(const std::string& envs) {
  return "apiVersion: windlass.dev/v1alpha1\nkind: Agent\n"
         "repository: {url: 'https://git.example.com/platform/manifests.git'}\n"
         "environments:\n" +
         envs;
}

const char* kFull = R"(apiVersion: windlass.dev/v1alpha1
kind: Agent
repository:
  url: https://git.example.com/platform/manifests.git
  credentials:
    tokenFile: /etc/windlass/git-token
    caFile: /etc/windlass/ca.pem
  interval: 1m30s
cluster:
  kubeconfig: ~/.kube/config
  context: prod-eu
stateDir: /srv/windlass
environments:
- name: dev
  branch: main
  path: overlays/dev
  prune: true
  selfHeal: true
  images:
  - {policy: web, update: render}
  - {policy: worker, update: git}
- name: staging
  tag: v1.2.3
  path: overlays/staging
  namespace: shop-staging
  prune: false
  selfHeal: no
  interval: 5m
  maxPruneShare: 0.25
- name: prod
  commit: 0123456789abcdef0123456789abcdef01234567
  path: overlays/prod
  healthTimeout: 10m
  maxPruneShare: 1
  syncWindows:
  - {kind: deny, schedule: "0 22 * * 5", duration: 60h, timeZone: Europe/Berlin}
  - {kind: allow, schedule: "@daily", duration: 2h}
  images: [{policy: web}]
imagePolicies:
- name: web
  image: harbor.example.com/shop/web
  interval: 2m
  credentials: {usernameFile: /etc/windlass/reg-user, passwordFile: /etc/windlass/reg-pass}
  policy: {semver: {range: ">=1.0.0 <2.0.0"}}
  digest: true
- name: worker
  image: 127.0.0.1:5000/shop/worker
  insecure: true
  credentials: {dockerConfigFile: ~/.docker/config.json}
  policy: {numerical: {order: desc}}
  filterTags: {pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)$', extract: '$ts'}
)";

TEST_CASE("a full config is read field by field") {
  AgentConfig c = parseOk(kFull);
  CHECK(c.repositories[0].url == "https://git.example.com/platform/manifests.git");
  CHECK(c.repositories[0].scheme == UrlScheme::kHttps);
  CHECK(c.repositories[0].credentials.tokenFile == "/etc/windlass/git-token");
  CHECK(c.repositories[0].credentials.caFile == "/etc/windlass/ca.pem");
  CHECK(c.repositories[0].credentials.tokenEnv.empty());
  CHECK(c.repositories[0].interval == seconds(90));
  CHECK(c.cluster.kubeconfig == "/home/op/.kube/config");
  CHECK(c.cluster.context == "prod-eu");
  CHECK(!c.cluster.inCluster());
  CHECK(c.stateDir == "/srv/windlass");
  REQUIRE(c.environments.size() == 3);

  const Environment& dev = c.environments[0];
  CHECK(dev.name == "dev");
  CHECK(dev.revisionKind == RevisionKind::kBranch);
  CHECK(dev.revision == "main");
  CHECK(dev.path == "overlays/dev");
  CHECK(dev.targetNamespace.empty());
  CHECK(dev.prune);
  CHECK(dev.selfHeal);
  CHECK(dev.interval == seconds(90));  // inherited from the repository
  REQUIRE(dev.images.size() == 2);
  CHECK(dev.images[0] == EnvironmentImage{"web", ImageUpdateMode::kRender});
  CHECK(dev.images[1] == EnvironmentImage{"worker", ImageUpdateMode::kGit});

  const Environment& staging = c.environments[1];
  CHECK(staging.revisionKind == RevisionKind::kTag);
  CHECK(staging.revision == "v1.2.3");
  CHECK(staging.targetNamespace == "shop-staging");
  CHECK(!staging.prune);
  CHECK(!staging.selfHeal);  // YAML 1.1: no is false
  CHECK(staging.interval == minutes(5));
  CHECK(staging.maxPruneShare == 0.25);
  CHECK(staging.images.empty());

  const Environment& prod = c.environments[2];
  CHECK(prod.revisionKind == RevisionKind::kCommit);
  CHECK(prod.revision == "0123456789abcdef0123456789abcdef01234567");
  CHECK(prod.healthTimeout == minutes(10));
  CHECK(prod.maxPruneShare == 1.0);
  REQUIRE(prod.syncWindows.size() == 2);
  CHECK(prod.syncWindows[0].kind == SyncWindow::Kind::kDeny);
  CHECK(prod.syncWindows[0].schedule == "0 22 * * 5");
  CHECK(prod.syncWindows[0].cron.matches(0, 22, 3, 5, 5));
  CHECK(!prod.syncWindows[0].cron.matches(0, 22, 4, 5, 6));
  CHECK(prod.syncWindows[0].duration == hours(60));
  CHECK(prod.syncWindows[0].timeZone == "Europe/Berlin");
  CHECK(prod.syncWindows[1].kind == SyncWindow::Kind::kAllow);
  CHECK(prod.syncWindows[1].cron.matches(0, 0, 17, 8, 2));
  CHECK(!prod.syncWindows[1].cron.matches(1, 0, 17, 8, 2));
  CHECK(prod.syncWindows[1].timeZone == "UTC");

  CHECK(findEnvironment(c, "staging") == &c.environments[1]);
  CHECK(findEnvironment(c, "qa") == nullptr);
}

TEST_CASE("formatConfig prints what parseConfig reads back to the same value") {
  AgentConfig c = parseOk(kFull);
  std::string text = formatConfig(c);
  CAPTURE(text);
  AgentConfig again = parseOk(text);
  CHECK(again == c);
  CHECK(formatConfig(again) == text);
  // And the minimal config, whose defaults are all spelled out on the way.
  AgentConfig minimal = parseOk(withEnvironments("- name: dev\n"));
  CHECK(parseOk(formatConfig(minimal)) == minimal);
  CHECK(formatConfig(minimal).find("healthTimeout: 5m0s") != std::string::npos);
}

TEST_CASE("remoteBases: allow-list of hosts, off by default") {
  AgentConfig c = parseOk(
      withEnvironments("- {name: dev, remoteBases: {allow: [github.com, git.example:8443]}}\n"
                       "- {name: prod}\n"));
  CHECK(c.environments[0].remoteBasesAllow ==
        std::vector<std::string>{"github.com", "git.example:8443"});
  CHECK(c.environments[1].remoteBasesAllow.empty());
  CHECK(parseOk(formatConfig(c)) == c);
  CHECK(problems(withEnvironments("- {name: dev, remoteBases: {allow: github.com}}\n")) ==
        std::vector<std::string>{
            "windlass.yaml: environments[0].remoteBases.allow: must be a list of hosts"});
  CHECK(problems(withEnvironments(
            "- {name: dev, remoteBases: {allow: [https://github.com/org, ''], hosts: []}}\n")) ==
        std::vector<std::string>{
            "windlass.yaml: environments[0].remoteBases: unknown field \"hosts\"",
            "windlass.yaml: environments[0].remoteBases.allow[0]: \"https://github.com/org\" is "
            "not a host name (or host:port)",
            "windlass.yaml: environments[0].remoteBases.allow[1]: must be a host name (or "
            "host:port)"});
}

TEST_CASE("promotion, follows and rollbackOnFailure") {
  AgentConfig c =
      parseOk(withEnvironments("- {name: staging, branch: env/staging}\n"
                               "- name: prod\n  branch: env/prod\n  rollbackOnFailure: true\n"
                               "  promotion: {from: staging, soak: 30m, auto: true}\n"
                               "- {name: dr, follows: prod, path: overlays/dr}\n"));
  const Environment& prod = c.environments[1];
  CHECK(prod.rollbackOnFailure);
  CHECK(prod.promotion.from == "staging");
  CHECK(prod.promotion.soak == minutes(30));
  CHECK(prod.promotion.automatic);
  const Environment& dr = c.environments[2];
  CHECK(dr.follows == "prod");
  CHECK(dr.revision == "env/prod");  // fetched: the followed environment's branch
  CHECK(dr.repository == prod.repository);
  CHECK(parseOk(formatConfig(c)) == c);

  CHECK(problems(withEnvironments("- {name: dr, follows: prod}\n")) ==
        std::vector<std::string>{
            "windlass.yaml: environments[0].follows: \"prod\" names no other environment"});
  CHECK(problems(withEnvironments("- {name: dr, follows: dr}\n")) ==
        std::vector<std::string>{
            "windlass.yaml: environments[0].follows: \"dr\" names no other environment"});
  CHECK(problems(withEnvironments("- {name: prod}\n- {name: dr, follows: prod, branch: x}\n")) ==
        std::vector<std::string>{"windlass.yaml: environments[1].follows: cannot be combined "
                                 "with branch, tag, commit or semver"});
  CHECK(problems(withEnvironments("- {name: prod}\n- {name: dr, follows: prod}\n"
                                  "- {name: dr2, follows: dr}\n")) ==
        std::vector<std::string>{"windlass.yaml: environments[2].follows: \"dr\" follows "
                                 "another environment itself (chains are not allowed)"});
  CHECK(problems(withEnvironments("- {name: prod, promotion: {from: nowhere}}\n")) ==
        std::vector<std::string>{
            "windlass.yaml: environments[0].promotion.from: \"nowhere\" names no other "
            "environment"});
  CHECK(problems(withEnvironments("- {name: prod, promotion: {soak: 1h, when: now}}\n")) ==
        std::vector<std::string>{"windlass.yaml: environments[0].promotion: unknown field \"when\"",
                                 "windlass.yaml: environments[0].promotion.from: is required"});
}

TEST_CASE("semver: the newest tag matching a range") {
  AgentConfig c =
      parseOk(withEnvironments("- {name: prod, semver: '>=1.0.0 <2.0.0 || ^3.1'}\n"
                               "- {name: dr, semver: 'v1.4.x'}\n"));
  REQUIRE(c.environments.size() == 2);
  CHECK(c.environments[0].revisionKind == RevisionKind::kSemver);
  CHECK(c.environments[0].revision == ">=1.0.0 <2.0.0 || ^3.1");
  CHECK(c.environments[1].revisionKind == RevisionKind::kSemver);
  CHECK(c.environments[1].revision == "v1.4.x");
  CHECK(std::string(revisionKindName(RevisionKind::kSemver)) == "semver");

  // formatConfig spells the range back as `semver:` and reads back to the same value.
  std::string text = formatConfig(c);
  CAPTURE(text);
  CHECK(text.find("semver: '>=1.0.0 <2.0.0 || ^3.1'") != std::string::npos);
  CHECK(parseOk(text) == c);

  using V = std::vector<std::string>;
  CHECK(
      problems(withEnvironments("- {name: a}\n- {name: b}\n- {name: c, semver: '>=1.a'}\n")) ==
      V{R"(windlass.yaml: environments[2].semver: invalid range ">=1.a": "1.a": minor: "a" is not a number or wildcard)"});
  CHECK(problems(withEnvironments("- {name: a, semver: ''}\n")) ==
        V{"windlass.yaml: environments[0].semver: must not be empty"});
  CHECK(
      problems(withEnvironments("- {name: a, semver: '1.0.0 | 2.0.0'}\n")) ==
      V{R"(windlass.yaml: environments[0].semver: invalid range "1.0.0 | 2.0.0": "|": major: "|" is not a number or wildcard)"});
  CHECK(problems(withEnvironments("- {name: a, tag: v1, semver: '*'}\n")) ==
        V{"windlass.yaml: environments[0]: exactly one of branch, tag, commit, semver may be set"});
}

TEST_CASE("defaults") {
  AgentConfig c = parseOk(withEnvironments("- name: dev\n"));
  CHECK(c.repositories[0].interval == minutes(1));
  CHECK(c.repositories[0].credentials == Credentials{});
  CHECK(c.cluster.inCluster());
  CHECK(c.cluster.context.empty());
  CHECK(c.stateDir == "/var/lib/windlass");
  REQUIRE(c.environments.size() == 1);
  const Environment& e = c.environments[0];
  CHECK(e.revisionKind == RevisionKind::kBranch);
  CHECK(e.revision == "main");
  CHECK(e.path == ".");
  CHECK(e.targetNamespace.empty());
  CHECK(e.prune);
  CHECK(e.selfHeal);
  CHECK(e.healthTimeout == minutes(5));
  CHECK(e.maxPruneShare == 0.5);
  CHECK(e.interval == minutes(1));
  CHECK(e.syncWindows.empty());
  CHECK(e.images.empty());
  CHECK(c.imagePolicies.empty());
  // Null is absent.
  AgentConfig nulls = parseOk(withEnvironments("- name: dev\n  prune: null\n  branch: ~\n"));
  CHECK(nulls.environments[0].prune);
  CHECK(nulls.environments[0].revision == "main");
}

TEST_CASE("repository URLs") {
  struct Case {
    const char* url;
    UrlScheme scheme;
  };
  for (Case c :
       {Case{"https://git.example.com/a.git", UrlScheme::kHttps},
        Case{"http://127.0.0.1:8080/a.git", UrlScheme::kHttp},
        Case{"ssh://git@git.example.com:2222/org/a.git", UrlScheme::kSsh},
        Case{"git@github.com:org/a.git", UrlScheme::kSsh},
        Case{"git://git.example.com/a.git", UrlScheme::kGit},
        Case{"file:///srv/git/a.git", UrlScheme::kFile}, Case{"/srv/git/a.git", UrlScheme::kLocal},
        Case{"./repos/a:b", UrlScheme::kLocal}}) {
    CAPTURE(c.url);
    std::string text = "apiVersion: windlass.dev/v1alpha1\nkind: Agent\nrepository: {url: '" +
                       std::string(c.url) + "'}\nenvironments: [{name: dev}]\n";
    AgentConfig config = parseOk(text);
    CHECK(config.repositories[0].scheme == c.scheme);
    CHECK(config.repositories[0].url == c.url);
  }
}

TEST_CASE("every problem is reported, one line each, naming file, field and fault") {
  const char* text = R"(apiVersion: windlass.dev/v1
kind: Agent
extra: 1
repository:
  url: ftp://example.com/a.git
  interval: 1d
  credentials: {tokenFile: /t, tokenEnv: GIT_TOKEN, sshKeyFile: /k, colour: red}
cluster: {context: prod}
environments:
- name: dev
  branch: main
  tag: v1
- name: Prod
  path: /abs
  prune: maybe
  healthTimeout: 0s
  maxPruneShare: 1.5
- name: dev
  namespace: Shop_1
  commit: abc
  syncWindows:
  - {kind: sometimes, schedule: "0 25 * * 5", timeZone: "Europe/Ber lin"}
  - {kind: deny, schedule: "* * *", duration: 5}
  images: {web: latest}
  selfheal: true
)";
  std::vector<std::string> expected = {
      R"(windlass.yaml: unknown field "extra")",
      R"(windlass.yaml: apiVersion: "windlass.dev/v1" is not supported (expected windlass.dev/v1alpha1))",
      R"(windlass.yaml: repository.url: "ftp://example.com/a.git": unsupported scheme "ftp" (use https://, http://, ssh://, git://, file:// or a local path))",
      R"(windlass.yaml: repository.interval: invalid duration "1d": unknown unit "d" (use h, m, s, ms, us or ns))",
      R"(windlass.yaml: repository.credentials: unknown field "colour")",
      R"(windlass.yaml: repository.credentials: only one of tokenFile, tokenEnv may be set)",
      R"(windlass.yaml: repository.credentials: sshKeyFile needs knownHostsFile (host keys are always verified))",
      R"(windlass.yaml: repository.credentials: only one of a token (tokenFile, tokenEnv), a username and password, or an SSH key (sshKeyFile) may be set)",
      R"(windlass.yaml: cluster.context: needs cluster.kubeconfig (the in-cluster service account has no contexts))",
      R"(windlass.yaml: environments[0]: exactly one of branch, tag, commit, semver may be set)",
      R"(windlass.yaml: environments[1].name: "Prod" is not a valid name (lowercase letters, digits and '-'))",
      R"(windlass.yaml: environments[1].path: "/abs" must be relative to the repository root)",
      R"(windlass.yaml: environments[1].prune: must be true or false, not a string)",
      R"(windlass.yaml: environments[1].healthTimeout: "0s" must be positive)",
      R"(windlass.yaml: environments[1].maxPruneShare: 1.5 is out of range (a share between 0 and 1, e.g. 0.5))",
      R"(windlass.yaml: environments[2]: unknown field "selfheal")",
      R"(windlass.yaml: environments[2].commit: "abc" is not a full commit id (40 or 64 lowercase hex digits))",
      R"(windlass.yaml: environments[2].namespace: "Shop_1" is not a valid namespace (lowercase letters, digits and '-', starting and ending with a letter or digit))",
      R"(windlass.yaml: environments[2].syncWindows[0].kind: "sometimes" must be allow or deny)",
      R"(windlass.yaml: environments[2].syncWindows[0].schedule: invalid schedule "0 25 * * 5": hour: 25 is out of range 0-23)",
      R"(windlass.yaml: environments[2].syncWindows[0].duration: is required)",
      R"(windlass.yaml: environments[2].syncWindows[0].timeZone: "Europe/Ber lin" is not a valid time zone name)",
      R"(windlass.yaml: environments[2].syncWindows[1].schedule: invalid schedule "* * *": expected 5 fields (minute hour day-of-month month day-of-week), found 3)",
      R"(windlass.yaml: environments[2].syncWindows[1].duration: must be a duration such as 30s, 5m or 1h30m, not a number)",
      R"(windlass.yaml: environments[2].images: must be a list, not a map)",
      R"(windlass.yaml: environments[2].name: "dev" is already used by environments[0])",
  };
  std::vector<std::string> got = problems(text);
  CHECK(got.size() == expected.size());
  for (size_t i = 0; i < std::max(got.size(), expected.size()); ++i) {
    CAPTURE(i);
    CHECK((i < got.size() ? got[i] : "<missing>") ==
          (i < expected.size() ? expected[i] : "<extra>"));
  }
}

TEST_CASE("problems of the document as a whole") {
  using V = std::vector<std::string>;
  CHECK(problems("") ==
        V{"windlass.yaml: is empty (expected apiVersion: windlass.dev/v1alpha1, kind: Agent)"});
  CHECK(problems("- a\n") == V{"windlass.yaml: must be a map with apiVersion, kind, repository and "
                               "environments, not a list"});
  CHECK(problems("kind: Agent\n---\nkind: Agent\n") ==
        V{"windlass.yaml: holds 2 YAML documents; expected one"});
  CHECK(problems("kind: Agnet\n") ==
        V{"windlass.yaml: apiVersion: is required",
          R"(windlass.yaml: kind: "Agnet" is not supported (expected Agent))",
          "windlass.yaml: repository: is required", "windlass.yaml: environments: is required"});
  CHECK(problems("apiVersion: windlass.dev/v1alpha1\nkind: Agent\nrepository: {}\n"
                 "environments: []\nstateDir: 7\n") ==
        V{"windlass.yaml: repository.url: is required",
          "windlass.yaml: stateDir: must be a string, not a number",
          "windlass.yaml: environments: at least one environment is required"});
  CHECK(problems("apiVersion: windlass.dev/v1alpha1\nkind: Agent\nrepository: x\n"
                 "environments: {dev: {}}\ncluster: [a]\n") ==
        V{"windlass.yaml: repository: must be a map, not a string",
          "windlass.yaml: cluster: must be a map, not a list",
          "windlass.yaml: environments: must be a list, not a map"});
  // YAML syntax errors come from the YAML edge with their position.
  auto bad = parseConfig("kind: [Agent\n", "windlass.yaml", offline());
  REQUIRE(!bad);
  CHECK(bad.error().message().starts_with("windlass.yaml:2:"));
}

TEST_CASE("environment fields, one problem at a time") {
  using V = std::vector<std::string>;
  auto one = [](const std::string& env) { return problems(withEnvironments(env)); };
  CHECK(
      one("- {name: -dev}\n") ==
      V{R"(windlass.yaml: environments[0].name: "-dev" must start and end with a lowercase letter or digit)"});
  CHECK(one("- name: " + std::string(64, 'a') + "\n") ==
        V{"windlass.yaml: environments[0].name: \"" + std::string(64, 'a') +
          "\" is too long (at most 63 characters)"});
  CHECK(one("- {path: x}\n") == V{"windlass.yaml: environments[0].name: is required"});
  CHECK(one("- {name: dev, name2: x}\n") ==
        V{R"(windlass.yaml: environments[0]: unknown field "name2")"});
  CHECK(one("- {name: dev, branch: 'feature..x'}\n") ==
        V{R"(windlass.yaml: environments[0].branch: "feature..x" is not a valid branch name)"});
  CHECK(one("- {name: dev, tag: 'v1 '}\n") ==
        V{R"(windlass.yaml: environments[0].tag: "v1 " is not a valid tag name)"});
  CHECK(one("- {name: dev, branch: ''}\n") ==
        V{"windlass.yaml: environments[0].branch: must not be empty"});
  CHECK(
      one("- {name: dev, path: a/../../b}\n") ==
      V{R"(windlass.yaml: environments[0].path: "a/../../b" must stay inside the repository (no ".."))"});
  CHECK(one("- {name: dev, maxPruneShare: half}\n") ==
        V{"windlass.yaml: environments[0].maxPruneShare: must be a number between 0 and 1, not a "
          "string"});
  CHECK(one("- {name: dev, interval: -1m}\n") ==
        V{R"(windlass.yaml: environments[0].interval: "-1m" must be positive)"});
  CHECK(one("- {name: dev, syncWindows: {kind: deny}}\n") ==
        V{"windlass.yaml: environments[0].syncWindows: must be a list, not a map"});
  CHECK(
      one("- {name: dev, syncWindows: [{kind: deny, schedule: '@often', duration: 1h, zone: "
          "x}]}\n") ==
      V{R"(windlass.yaml: environments[0].syncWindows[0]: unknown field "zone")",
        R"(windlass.yaml: environments[0].syncWindows[0].schedule: invalid schedule "@often": unknown descriptor (use @yearly, @monthly, @weekly, @daily or @hourly))"});
  CHECK(one("- name: dev\n- 7\n") ==
        V{"windlass.yaml: environments[1]: must be a map, not a number"});
  // Valid edge cases.
  AgentConfig ok =
      parseOk(withEnvironments("- {name: a, branch: env/prod, maxPruneShare: 0, path: './x/y'}\n"
                               "- {name: " +
                               std::string(63, 'b') + ", commit: " + std::string(64, 'f') + "}\n"));
  CHECK(ok.environments[0].maxPruneShare == 0);
  CHECK(ok.environments[0].revision == "env/prod");
  CHECK(ok.environments[1].revisionKind == RevisionKind::kCommit);
}

TEST_CASE("credentials must fit together and fit the URL") {
  using V = std::vector<std::string>;
  auto with = [](const std::string& url, const std::string& creds) {
    return "apiVersion: windlass.dev/v1alpha1\nkind: Agent\nrepository:\n  url: '" + url +
           "'\n  credentials: " + creds + "\nenvironments: [{name: dev}]\n";
  };
  CHECK(problems(with("https://h/r.git", "{usernameFile: /u}")) ==
        V{"windlass.yaml: repository.credentials: a username (usernameFile or usernameEnv) needs "
          "a password (passwordFile or passwordEnv)"});
  CHECK(problems(with("https://h/r.git", "{passwordEnv: PW, passwordFile: /p}")) ==
        V{"windlass.yaml: repository.credentials: only one of passwordFile, passwordEnv may be set",
          "windlass.yaml: repository.credentials: a password (passwordFile or passwordEnv) needs a "
          "username (usernameFile or usernameEnv)"});
  CHECK(problems(with("https://h/r.git", "{knownHostsFile: /kh}")) ==
        V{"windlass.yaml: repository.credentials: knownHostsFile needs sshKeyFile",
          "windlass.yaml: repository.credentials.knownHostsFile: needs an ssh:// or "
          "user@host:path URL, not https"});
  CHECK(problems(with("http://h/r.git", "{tokenEnv: GIT_TOKEN}")) ==
        V{"windlass.yaml: repository.credentials.tokenEnv: would be sent in clear text over "
          "http://; use an https:// URL"});
  CHECK(problems(with("git@h:r.git", "{tokenFile: /t, caFile: /ca}")) ==
        V{"windlass.yaml: repository.credentials.tokenFile: needs an https:// URL, not ssh",
          "windlass.yaml: repository.credentials.caFile: needs an https:// URL, not ssh"});
  CHECK(
      problems(with("https://h/r.git", "{tokenEnv: GIT-TOKEN}")) ==
      V{R"(windlass.yaml: repository.credentials.tokenEnv: "GIT-TOKEN" is not a valid environment variable name (letters, digits and '_', not starting with a digit))"});
  CHECK(problems(with("https:///r.git", "{}")) ==
        V{R"(windlass.yaml: repository.url: "https:///r.git": no host)"});
  CHECK(problems(with("https://h", "{}")) ==
        V{R"(windlass.yaml: repository.url: "https://h": no repository path after the host)"});
  CHECK(
      problems(with("file://srv/r.git", "{}")) ==
      V{R"(windlass.yaml: repository.url: "file://srv/r.git": a file:// URL needs an absolute path (file:///path))"});
  CHECK(problems(with("ssh://h/r.git", "[a]")) ==
        V{"windlass.yaml: repository.credentials: must be a map, not a list"});
  // Valid combinations.
  AgentConfig basic =
      parseOk(with("https://h/r.git", "{usernameEnv: GIT_USER, passwordFile: /p, caFile: /ca}"));
  CHECK(basic.repositories[0].credentials.usernameEnv == "GIT_USER");
  CHECK(basic.repositories[0].credentials.passwordFile == "/p");
  AgentConfig ssh = parseOk(with("ssh://git@h:22/r.git", "{sshKeyFile: /k, knownHostsFile: /kh}"));
  CHECK(ssh.repositories[0].credentials.sshKeyFile == "/k");
  CHECK(ssh.repositories[0].credentials.knownHostsFile == "/kh");
}

// A fresh folder under /tmp, removed at the end of the test.
struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/windlass-config-test-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
  }
  std::string path;
};

TEST_CASE("files, environment variables and time zones are checked when asked") {
  TempDir dir;
  dir.write("token", "secret\n");
  std::filesystem::create_directory(dir.path + "/kube");
  ConfigOptions options;
  options.home = dir.path;
  options.zoneinfoDir = dir.path + "/zoneinfo";
  std::filesystem::create_directories(options.zoneinfoDir + "/Europe");
  std::ofstream(options.zoneinfoDir + "/Europe/Berlin") << "TZif";
  ::unsetenv("WINDLASS_CONFIG_TEST_UNSET");
  ::setenv("WINDLASS_CONFIG_TEST_USER", "bot", 1);

  std::string text =
      "apiVersion: windlass.dev/v1alpha1\nkind: Agent\n"
      "repository:\n  url: https://h/r.git\n"
      "  credentials: {tokenFile: " +
      dir.path +
      "/token, caFile: /etc/x}\n"
      "cluster: {kubeconfig: ~/kube}\n"
      "environments:\n"
      "- name: dev\n"
      "  syncWindows:\n"
      "  - {kind: deny, schedule: '* * * * *', duration: 1h, timeZone: Europe/Berlin}\n"
      "  - {kind: deny, schedule: '* * * * *', duration: 1h, timeZone: Mars/Olympus}\n";
  std::vector<std::string> expected = {
      "windlass.yaml: repository.credentials.caFile: /etc/x: no such file",
      "windlass.yaml: cluster.kubeconfig: " + dir.path + "/kube: is a directory, not a file",
      R"(windlass.yaml: environments[0].syncWindows[1].timeZone: "Mars/Olympus" is not a known time zone)",
  };
  CHECK(problems(text, options) == expected);

  std::string envText =
      "apiVersion: windlass.dev/v1alpha1\nkind: Agent\n"
      "repository:\n  url: https://h/r.git\n"
      "  credentials: {usernameEnv: WINDLASS_CONFIG_TEST_USER, "
      "passwordEnv: WINDLASS_CONFIG_TEST_UNSET}\n"
      "environments: [{name: dev}]\n";
  CHECK(problems(envText, options) ==
        std::vector<std::string>{"windlass.yaml: repository.credentials.passwordEnv: "
                                 "WINDLASS_CONFIG_TEST_UNSET is not set"});
  ::setenv("WINDLASS_CONFIG_TEST_UNSET", "pw", 1);
  CHECK(parseOk(envText, options).repositories[0].credentials.passwordEnv ==
        "WINDLASS_CONFIG_TEST_UNSET");
  ::unsetenv("WINDLASS_CONFIG_TEST_UNSET");
  // Turned off, nothing on the host is looked at.
  ConfigOptions off = options;
  off.checkFiles = false;
  off.checkEnvironment = false;
  CHECK(parseOk(text, off).cluster.kubeconfig == dir.path + "/kube");
  CHECK(parseOk(envText, off).repositories[0].credentials.passwordEnv ==
        "WINDLASS_CONFIG_TEST_UNSET");
}

TEST_CASE("loadConfig resolves relative paths against the file's folder") {
  TempDir dir;
  dir.write("token", "t");
  std::filesystem::create_directory(dir.path + "/repo");
  dir.write("windlass.yaml",
            "apiVersion: windlass.dev/v1alpha1\nkind: Agent\n"
            "repository: {url: ./repo, credentials: {tokenFile: token}}\n"
            "stateDir: state\nenvironments: [{name: dev}]\n");
  // A token over a local path is not allowed; check the message names the file as given.
  auto bad = loadConfig(dir.path + "/windlass.yaml");
  REQUIRE(!bad);
  CHECK(bad.error().message() == dir.path +
                                     "/windlass.yaml: repository.credentials.tokenFile: needs an "
                                     "https:// URL, not local");
  dir.write("windlass.yaml",
            "apiVersion: windlass.dev/v1alpha1\nkind: Agent\n"
            "repository: {url: ./repo}\nstateDir: state\nenvironments: [{name: dev}]\n");
  auto good = loadConfig(dir.path + "/windlass.yaml");
  REQUIRE_MESSAGE(good, good.error().message());
  CHECK(good->repositories[0].url == dir.path + "/./repo");
  CHECK(good->repositories[0].scheme == UrlScheme::kLocal);
  CHECK(good->stateDir == dir.path + "/state");
  auto missing = loadConfig(dir.path + "/nope.yaml");
  REQUIRE(!missing);
  CHECK(missing.error().code() == Code::kNotFound);
  CHECK(missing.error().message() ==
        dir.path + "/nope.yaml: cannot read the config: No such file or directory");
}

TEST_CASE("Go durations") {
  struct Case {
    const char* text;
    int64_t ns;
  };
  for (Case c :
       {Case{"0", 0}, Case{"30s", 30000000000}, Case{"1m", 60000000000},
        Case{"1h30m", 5400000000000}, Case{"60h", 216000000000000}, Case{"1.5h", 5400000000000},
        Case{".5s", 500000000}, Case{"1.s", 1000000000}, Case{"-2m", -120000000000},
        Case{"+5s", 5000000000}, Case{"300ms", 300000000}, Case{"1us", 1000},
        Case{"1\xC2\xB5s", 1000}, Case{"7ns", 7}, Case{"1h1m1s1ms1us1ns", 3661001001001},
        Case{"0.000000001s", 1}, Case{"2562047h47m16.854775807s", INT64_MAX},
        Case{"-2562047h47m16.854775808s", INT64_MIN}}) {
    CAPTURE(c.text);
    auto d = parseDuration(c.text);
    REQUIRE_MESSAGE(d, d.error().message());
    CHECK(d->count() == c.ns);
  }
  struct Bad {
    const char* text;
    const char* message;
  };
  for (Bad b :
       {Bad{"", R"(invalid duration "": empty)"}, Bad{"-", R"(invalid duration "-": empty)"},
        Bad{"1", R"(invalid duration "1": missing unit (use h, m, s, ms, us or ns))"},
        Bad{"1d", R"(invalid duration "1d": unknown unit "d" (use h, m, s, ms, us or ns))"},
        Bad{"1 m", R"(invalid duration "1 m": unknown unit " m" (use h, m, s, ms, us or ns))"},
        Bad{".s", R"(invalid duration ".s": expected a number)"},
        Bad{"h", R"(invalid duration "h": expected a number)"},
        Bad{"1m30", R"(invalid duration "1m30": missing unit (use h, m, s, ms, us or ns))"},
        Bad{"2562048h", R"(invalid duration "2562048h": too large)"},
        Bad{"2562047h47m16.854775808s",
            R"(invalid duration "2562047h47m16.854775808s": too large)"},
        Bad{"99999999999999999999s", R"(invalid duration "99999999999999999999s": too large)"}}) {
    CAPTURE(b.text);
    auto d = parseDuration(b.text);
    REQUIRE(!d);
    CHECK(d.error().code() == Code::kInvalidArgument);
    CHECK(d.error().message() == b.message);
  }
}

TEST_CASE("formatDuration prints as Go does and reads back") {
  struct Case {
    int64_t ns;
    const char* text;
  };
  for (Case c :
       {Case{0, "0s"}, Case{30000000000, "30s"}, Case{60000000000, "1m0s"},
        Case{5400000000000, "1h30m0s"}, Case{216000000000000, "60h0m0s"}, Case{1500000000, "1.5s"},
        Case{500000000, "500ms"}, Case{1500000, "1.5ms"}, Case{1000, "1us"}, Case{7, "7ns"},
        Case{-90000000000, "-1m30s"}, Case{3601000000001, "1h0m1.000000001s"}}) {
    CAPTURE(c.text);
    CHECK(formatDuration(Duration(c.ns)) == c.text);
    auto back = parseDuration(c.text);
    REQUIRE(back);
    CHECK(back->count() == c.ns);
  }
}

TEST_CASE("cron schedules") {
  auto cron = [](const char* text) {
    auto c = parseCron(text);
    REQUIRE_MESSAGE(c, c.error().message());
    return *c;
  };
  // Friday 22:00.
  CronSchedule friday = cron("0 22 * * 5");
  CHECK(friday.matches(0, 22, 15, 3, 5));
  CHECK(!friday.matches(1, 22, 15, 3, 5));
  CHECK(!friday.matches(0, 21, 15, 3, 5));
  CHECK(!friday.matches(0, 22, 15, 3, 4));
  CHECK(friday.minutes.count() == 1);
  CHECK(!friday.daysOfMonthRestricted);
  CHECK(friday.daysOfWeekRestricted);

  // Lists, ranges, steps and names.
  CronSchedule busy = cron("*/15 9-17/4 * jan,JUL-aug mon-fri");
  CHECK(busy.minutes.count() == 4);
  CHECK(busy.minutes.test(45));
  CHECK(busy.hours.test(9));
  CHECK(busy.hours.test(13));
  CHECK(busy.hours.test(17));
  CHECK(busy.hours.count() == 3);
  CHECK(busy.months.test(1));
  CHECK(busy.months.test(7));
  CHECK(busy.months.test(8));
  CHECK(busy.months.count() == 3);
  CHECK(busy.daysOfWeek.count() == 5);
  CHECK(!busy.daysOfWeek.test(0));

  // 7 is Sunday; a/n runs to the end of the range.
  CronSchedule sunday = cron("0 0 * * 7");
  CHECK(sunday.daysOfWeek.test(0));
  CHECK(sunday.daysOfWeek.count() == 1);
  CHECK(cron("10/20 * * * *").minutes.count() == 3);  // 10, 30, 50

  // Both day fields restricted: either matches. One restricted: it alone decides.
  CronSchedule either = cron("0 0 1 * 1");
  CHECK(either.matches(0, 0, 1, 6, 3));  // the 1st, a Wednesday
  CHECK(either.matches(0, 0, 9, 6, 1));  // a Monday, the 9th
  CHECK(!either.matches(0, 0, 9, 6, 3));
  CronSchedule first = cron("0 0 1 * ?");
  CHECK(first.matches(0, 0, 1, 6, 3));
  CHECK(!first.matches(0, 0, 2, 6, 1));
  CHECK(!first.matches(60, 0, 1, 6, 3));  // out of range never matches

  CHECK(cron("@hourly") == cron("0 * * * *"));
  CHECK(cron("@weekly") == cron("0 0 * * sun"));
  CHECK(cron("@yearly") == cron("0 0 1 jan *"));

  struct Bad {
    const char* text;
    const char* message;
  };
  for (
      Bad b : {
          Bad{"0 24 * * *", R"(invalid schedule "0 24 * * *": hour: 24 is out of range 0-23)"},
          Bad{"60 * * * *", R"(invalid schedule "60 * * * *": minute: 60 is out of range 0-59)"},
          Bad{"* * 0 * *", R"(invalid schedule "* * 0 * *": day-of-month: 0 is out of range 1-31)"},
          Bad{"* * * 13 *", R"(invalid schedule "* * * 13 *": month: 13 is out of range 1-12)"},
          Bad{"* * * * 8", R"(invalid schedule "* * * * 8": day-of-week: 8 is out of range 0-7)"},
          Bad{"* * * foo *",
              R"(invalid schedule "* * * foo *": month: "foo" is not a number or a name)"},
          Bad{"x * * * *", R"(invalid schedule "x * * * *": minute: "x" is not a number)"},
          Bad{"*/0 * * * *",
              R"(invalid schedule "*/0 * * * *": minute: step must be positive in "*/0")"},
          Bad{"*/x * * * *", R"(invalid schedule "*/x * * * *": minute: step "x" is not a number)"},
          Bad{"5-2 * * * *", R"(invalid schedule "5-2 * * * *": minute: range "5-2" is backwards)"},
          Bad{"1,,2 * * * *", R"(invalid schedule "1,,2 * * * *": minute: empty value)"},
          Bad{"? * * * *",
              R"(invalid schedule "? * * * *": minute: "?" is only allowed in the day fields)"},
          Bad{"* * * * * *",
              R"(invalid schedule "* * * * * *": expected 5 fields (minute hour day-of-month month day-of-week), found 6)"},
          Bad{"",
              R"(invalid schedule "": expected 5 fields (minute hour day-of-month month day-of-week), found 0)"},
      }) {
    CAPTURE(b.text);
    auto c = parseCron(b.text);
    REQUIRE(!c);
    CHECK(c.error().code() == Code::kInvalidArgument);
    CHECK(c.error().message() == b.message);
  }
}

TEST_CASE("names") {
  CHECK(std::string(schemeName(UrlScheme::kSsh)) == "ssh");
  CHECK(std::string(schemeName(UrlScheme::kLocal)) == "local");
  CHECK(std::string(revisionKindName(RevisionKind::kTag)) == "tag");
  CHECK(std::string(windowKindName(SyncWindow::Kind::kDeny)) == "deny");
}

}  // namespace
}  // namespace windlass::agent

namespace windlass::agent {

TEST_CASE("several repositories: each named, each environment names one") {
  ConfigOptions o;
  o.checkFiles = false;
  const char* text = R"(apiVersion: windlass.dev/v1alpha1
kind: Agent
repositories:
- {name: platform, url: 'https://git.example.com/platform.git', interval: 30s}
- {name: apps, url: 'https://git.example.com/apps.git'}
environments:
- {name: dev, repository: apps, branch: main}
- {name: infra, repository: platform, branch: main}
)";
  auto c = parseConfig(text, "windlass.yaml", o);
  REQUIRE(c);
  REQUIRE(c->repositories.size() == 2);
  CHECK(c->environments[0].repository == "apps");
  CHECK(c->environments[1].repository == "platform");
  CHECK(c->environments[1].interval == std::chrono::seconds(30));  // its repository's
  auto again = parseConfig(formatConfig(*c), "windlass.yaml", o);
  REQUIRE(again);
  CHECK(*again == *c);

  auto bad = parseConfig(R"(apiVersion: windlass.dev/v1alpha1
kind: Agent
repositories:
- {name: apps, url: 'https://git.example.com/apps.git'}
- {name: apps, url: 'https://git.example.com/other.git'}
environments:
- {name: dev, branch: main}
- {name: qa, repository: nowhere, branch: main}
)",
                         "windlass.yaml", o);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message() ==
        "windlass.yaml: repositories[1].name: \"apps\" is already used by repositories[0]\n"
        "windlass.yaml: environments[0].repository: is required when there are several "
        "repositories\n"
        "windlass.yaml: environments[1].repository: \"nowhere\" names no repository");
}

}  // namespace windlass::agent

namespace windlass::agent {
namespace {

const char* kServed = R"(apiVersion: windlass.dev/v1alpha1
kind: Agent
repository: {url: 'https://git.example.com/platform/manifests.git'}
environments: [{name: prod}]
server:
  address: 0.0.0.0:8080
  tokenFile: /etc/windlass/api-token
  webhooks: {secretFile: hook-secret}
leaderElection: {namespace: windlass-system, name: windlass-leader}
notifications:
- url: https://hooks.slack.com/services/T0/B0/x
  events: [sync-failed, health-degraded, fight]
  format: slack
- url: http://127.0.0.1:9000/events
  events: [sync-succeeded, drift, prune-refused]
  secretFile: /etc/windlass/notify-key
)";

TEST_CASE("server, leader election and notifications") {
  ConfigOptions o = offline();
  o.baseDir = "/etc/windlass";
  AgentConfig c = parseOk(kServed, o);
  CHECK(c.server.address == "0.0.0.0:8080");
  CHECK(c.server.tokenFile == "/etc/windlass/api-token");
  CHECK(c.server.webhooks.secretFile == "/etc/windlass/hook-secret");
  REQUIRE(c.leaderElection);
  CHECK(c.leaderElection->leaseNamespace == "windlass-system");
  CHECK(c.leaderElection->name == "windlass-leader");
  REQUIRE(c.notifications.size() == 2);
  CHECK(c.notifications[0].format == NotificationFormat::kSlack);
  CHECK(c.notifications[0].events ==
        std::vector<NotificationEvent>{NotificationEvent::kSyncFailed,
                                       NotificationEvent::kHealthDegraded,
                                       NotificationEvent::kFight});
  CHECK(c.notifications[1].format == NotificationFormat::kJson);
  CHECK(c.notifications[1].secretFile == "/etc/windlass/notify-key");
  CHECK(c.notifications[1].events.size() == 3);

  std::string text = formatConfig(c);
  CAPTURE(text);
  CHECK(parseOk(text, o) == c);

  // Defaults: loopback on 9797, no election, no notifications; and those round-trip too.
  AgentConfig d = parseOk(withEnvironments("- name: dev\n"));
  CHECK(d.server.address == "127.0.0.1:9797");
  CHECK(d.server.tokenFile.empty());
  CHECK(!d.leaderElection);
  CHECK(d.notifications.empty());
  CHECK(formatConfig(d).find("server:\n  address: 127.0.0.1:9797") != std::string::npos);
  CHECK(parseOk(formatConfig(d)) == d);
}

TEST_CASE("server, leader election and notification problems") {
  std::string text = withEnvironments("- name: dev\n") + R"(server:
  address: localhost
  port: 80
  webhooks: {secret: x}
leaderElection: {namespace: Kube_System}
notifications:
- url: http://hooks.example.com/x
  events: [sync-failed, sync-failed, deployed, 3]
  format: xml
- events: []
- url: ftp://x
  events: drift
- 7
)";
  std::vector<std::string> expected = {
      R"(windlass.yaml: server: unknown field "port")",
      R"(windlass.yaml: server.address: "localhost" is not host:port (missing ":port"))",
      R"(windlass.yaml: server.webhooks: unknown field "secret")",
      R"(windlass.yaml: leaderElection.namespace: "Kube_System" is not a valid DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit))",
      R"(windlass.yaml: leaderElection.name: is required)",
      R"(windlass.yaml: notifications[0].url: "http://hooks.example.com/x" must use https:// (http:// is allowed only to 127.0.0.1 or localhost))",
      R"(windlass.yaml: notifications[0].events[1]: "sync-failed" is listed twice)",
      R"(windlass.yaml: notifications[0].events[2]: "deployed" is not an event (sync-failed, sync-succeeded, health-degraded, drift, fight, prune-refused))",
      R"(windlass.yaml: notifications[0].events[3]: must be a string, not a number)",
      R"(windlass.yaml: notifications[0].format: "xml" must be json or slack)",
      R"(windlass.yaml: notifications[1].url: is required)",
      R"(windlass.yaml: notifications[1].events: must be a list of at least one event (sync-failed, sync-succeeded, health-degraded, drift, fight, prune-refused))",
      R"(windlass.yaml: notifications[2].url: "ftp://x" is not an https:// URL)",
      R"(windlass.yaml: notifications[2].events: must be a list of at least one event (sync-failed, sync-succeeded, health-degraded, drift, fight, prune-refused))",
      R"(windlass.yaml: notifications[3]: must be a map, not a number)",
  };
  std::vector<std::string> got = problems(text);
  CHECK(got.size() == expected.size());
  for (size_t i = 0; i < std::max(got.size(), expected.size()); ++i) {
    CAPTURE(i);
    CHECK((i < got.size() ? got[i] : "<missing>") ==
          (i < expected.size() ? expected[i] : "<extra>"));
  }
  CHECK(problems(withEnvironments("- name: dev\n") + "notifications: {}\n") ==
        std::vector<std::string>{"windlass.yaml: notifications: must be a list, not a map"});
  CHECK(problems(withEnvironments("- name: dev\n") +
                 "leaderElection: {name: " + std::string(64, 'a') + ", namespace: ns}\n") ==
        std::vector<std::string>{"windlass.yaml: leaderElection.name: \"" + std::string(64, 'a') +
                                 "\" is too long (at most 63 characters)"});
}

TEST_CASE("server and notification files are checked when asked, like credentials") {
  ConfigOptions o = offline();
  o.checkFiles = true;
  std::string text = withEnvironments("- name: dev\n") +
                     "server: {tokenFile: /nonexistent/token, webhooks: {secretFile: /}}\n"
                     "notifications: [{url: 'https://x.example/h', events: [drift], "
                     "secretFile: /nonexistent/key}]\n";
  CHECK(problems(text, o) ==
        std::vector<std::string>{
            "windlass.yaml: server.tokenFile: /nonexistent/token: no such file",
            "windlass.yaml: server.webhooks.secretFile: /: is a directory, not a file",
            "windlass.yaml: notifications[0].secretFile: /nonexistent/key: no such file"});
}

TEST_CASE("verify: signed commits per repository or environment") {
  AgentConfig c = parseOk(
      "apiVersion: windlass.dev/v1alpha1\nkind: Agent\n"
      "repository:\n  url: https://h/r.git\n"
      "  verify: {ssh: {allowedSignersFile: ~/allowed_signers}}\n"
      "environments:\n- name: dev\n"
      "- name: prod\n  verify: {openpgp: {keyringFile: /etc/windlass/keys.asc}, "
      "ssh: {allowedSignersFile: /etc/windlass/prod_signers}}\n");
  CHECK(c.repositories[0].verify == sources::VerifyConfig{"/home/op/allowed_signers", ""});
  // The repository's check, unless the environment has its own.
  CHECK(c.environments[0].verify == sources::VerifyConfig{"/home/op/allowed_signers", ""});
  CHECK(c.environments[1].verify ==
        sources::VerifyConfig{"/etc/windlass/prod_signers", "/etc/windlass/keys.asc"});
  CHECK(parseOk(formatConfig(c)) == c);
  CHECK(formatConfig(c).find("keyringFile: /etc/windlass/keys.asc") != std::string::npos);
  AgentConfig off = parseOk(withEnvironments("- name: dev\n"));
  CHECK_FALSE(off.environments[0].verify.enabled());

  CHECK(problems(withEnvironments("- {name: dev, verify: {}}\n- {name: qa, verify: on}\n"
                                  "- {name: st, verify: {ssh: {}, openpgp: {keyring: /k}}}\n"
                                  "- {name: pr, verify: {gpg: {keyringFile: /k}}}\n")) ==
        std::vector<std::string>{
            "windlass.yaml: environments[0].verify: needs ssh: {allowedSignersFile: ...} or "
            "openpgp: {keyringFile: ...}",
            "windlass.yaml: environments[1].verify: must be a map, not a boolean",
            "windlass.yaml: environments[2].verify.ssh.allowedSignersFile: is required",
            "windlass.yaml: environments[2].verify.openpgp: unknown field \"keyring\"",
            "windlass.yaml: environments[2].verify.openpgp.keyringFile: is required",
            "windlass.yaml: environments[3].verify: unknown field \"gpg\"",
            "windlass.yaml: environments[3].verify: needs ssh: {allowedSignersFile: ...} or "
            "openpgp: {keyringFile: ...}",
        });
  ConfigOptions o = offline();
  o.checkFiles = true;
  CHECK(problems("apiVersion: windlass.dev/v1alpha1\nkind: Agent\n"
                 "repository: {url: 'https://h/r.git', verify: {ssh: {allowedSignersFile: "
                 "/nonexistent/signers}}}\nenvironments: [{name: dev}]\n",
                 o) == std::vector<std::string>{"windlass.yaml: repository.verify.ssh."
                                                "allowedSignersFile: /nonexistent/signers: no "
                                                "such file"});
}

TEST_CASE("listen addresses") {
  CHECK(*parseListenAddress("127.0.0.1:9797") == ListenAddress{"127.0.0.1", 9797});
  CHECK(*parseListenAddress("[::1]:0") == ListenAddress{"::1", 0});
  CHECK(*parseListenAddress("localhost:65535") == ListenAddress{"localhost", 65535});
  CHECK(parseListenAddress(":80").error().message() ==
        R"(":80" is not host:port (missing host; use 0.0.0.0 for every interface))");
  CHECK(parseListenAddress("a:65536").error().message() ==
        R"("a:65536" is not host:port (port must be a number 0-65535))");
  CHECK(parseListenAddress("[::1:80").error().message() ==
        R"("[::1:80" is not host:port (unclosed "["))");
  CHECK(parseListenAddress("a b:80").error().message() ==
        R"("a b:80" is not host:port (bad host name))");
}

}  // namespace
}  // namespace windlass::agent

namespace windlass::agent {
namespace {

TEST_CASE("image policies are read field by field, with their defaults") {
  AgentConfig c = parseOk(kFull);
  REQUIRE(c.imagePolicies.size() == 2);
  const ImagePolicyConfig& web = c.imagePolicies[0];
  CHECK(web.name == "web");
  CHECK(web.image == "harbor.example.com/shop/web");
  CHECK(web.interval == minutes(2));
  CHECK(web.credentials.usernameFile == "/etc/windlass/reg-user");
  CHECK(web.credentials.passwordFile == "/etc/windlass/reg-pass");
  CHECK(web.policy.kind == sources::TagPolicySpec::Kind::kSemver);
  CHECK(web.policy.range == ">=1.0.0 <2.0.0");
  CHECK(web.digest);
  CHECK_FALSE(web.insecure);
  const ImagePolicyConfig& worker = c.imagePolicies[1];
  CHECK(worker.interval == minutes(1));
  CHECK(worker.insecure);
  CHECK(worker.credentials.dockerConfigFile == "/home/op/.docker/config.json");
  CHECK(worker.policy.kind == sources::TagPolicySpec::Kind::kNumerical);
  CHECK(worker.policy.order == sources::TagPolicySpec::Order::kDesc);
  CHECK(worker.policy.pattern == "^main-[a-f0-9]+-(?P<ts>[0-9]+)$");
  CHECK(worker.policy.extract == "$ts");
  CHECK_FALSE(worker.digest);
  CHECK(findImagePolicy(c, "worker") == &worker);
  CHECK(findImagePolicy(c, "nope") == nullptr);
  CHECK(c.environments[2].images[0].update == ImageUpdateMode::kRender);  // the default
  CHECK(c.imageCommit == ImageCommit{});
  // formatConfig prints them so that they read back the same.
  CHECK(parseOk(formatConfig(c)) == c);
}

TEST_CASE("bad image policies: one message per problem, with the field path") {
  std::string text = withEnvironments(R"(- name: dev
  images: [{policy: web, update: push}, {policy: gone}, {policy: web}, {name: x}]
imagePolicies:
- name: web
  image: ghcr.io/acme/web:1.0
  policy: {semver: {range: ">=1.a"}}
- name: web
  image: ghcr.io/acme/web
  policy: {alphabetical: {order: up}, numerical: {}}
- name: api
  image: ghcr.io/acme/api
- name: job
  image: ghcr.io/acme/job
  interval: 0s
  credentials: {usernameFile: /u}
  policy: {numerical: {}}
  filterTags: {pattern: 'main-(', extract: '$ts'}
- name: cron
  image: ghcr.io/acme/cron
  policy: {alphabetical: {}}
  filterTags: {pattern: 'main-(?P<ts>[0-9]+)', extract: '$nope'}
)");
  std::vector<std::string> want = {
      R"(windlass.yaml: imagePolicies[0].image: image "ghcr.io/acme/web:1.0": a tag is not allowed here)",
      R"(windlass.yaml: imagePolicies[0].policy.semver.range: invalid range ">=1.a": "1.a": minor: "a" is not a number or wildcard)",
      R"(windlass.yaml: imagePolicies[1].policy: must have exactly one of semver, alphabetical, numerical)",
      R"(windlass.yaml: imagePolicies[1].name: "web" is already used by imagePolicies[0])",
      R"(windlass.yaml: imagePolicies[2].policy: is required (one of semver, alphabetical, numerical))",
      R"(windlass.yaml: imagePolicies[3].interval: "0s" must be positive)",
      R"(windlass.yaml: imagePolicies[3].credentials: usernameFile and passwordFile go together)",
      R"(windlass.yaml: imagePolicies[3].filterTags.pattern: invalid regular expression "main-(": error parsing regexp: missing closing ): `main-(`)",
      R"(windlass.yaml: imagePolicies[4].filterTags.extract: "$nope" names no group of the pattern)",
      R"(windlass.yaml: environments[0].images[0].update: "push": want render or git)",
      R"(windlass.yaml: environments[0].images[2].policy: "web" is already listed at environments[0].images[0])",
      R"(windlass.yaml: environments[0].images[3]: unknown field "name")",
      R"(windlass.yaml: environments[0].images[3].policy: is required)",
      R"(windlass.yaml: environments[0].images[1].policy: "gone" names no entry of imagePolicies)",
  };
  CHECK(problems(text) == want);
  text = withEnvironments(R"(- name: dev
  tag: v1.0.0
  images: [{policy: web, update: git}]
imagePolicies: [{name: web, image: ghcr.io/acme/web, policy: {semver: {range: "*"}}}]
imageCommit: {authorName: "", messageTemplate: 3, sign: true}
)");
  want = {
      R"(windlass.yaml: imageCommit: unknown field "sign")",
      R"(windlass.yaml: imageCommit.authorName: must not be empty)",
      R"(windlass.yaml: imageCommit.messageTemplate: must be a string, not a number)",
      R"(windlass.yaml: environments[0].images[0].update: git needs the environment to track a branch)",
  };
  CHECK(problems(text) == want);
}

}  // namespace
}  // namespace windlass::agent
