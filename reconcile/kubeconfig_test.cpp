#include "reconcile/kubeconfig.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace windlass::reconcile {
namespace {

namespace fs = std::filesystem;

// A fresh temporary folder, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "windlass-kubeconfig.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& content) {
    fs::path p = path / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
};

std::string encode64(const std::string& in) {
  static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string enc;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<uint8_t>(in[i + 2]);
    enc += kB64[(n >> 18) & 63];
    enc += kB64[(n >> 12) & 63];
    enc += i + 1 < in.size() ? kB64[(n >> 6) & 63] : '=';
    enc += i + 2 < in.size() ? kB64[n & 63] : '=';
  }
  return enc;
}

const char* kCa = "-----BEGIN CERTIFICATE-----\nCA-BYTES\n-----END CERTIFICATE-----\n";
const char* kCert = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
const char* kKey = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";

TEST_CASE("decodeBase64 round-trips and rejects garbage") {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "hello, world\n\x01\xff"}) {
    auto d = decodeBase64(encode64(s));
    REQUIRE(d.has_value());
    CHECK(*d == s);
  }
  CHECK(decodeBase64("aGVsbG8").value() == "hello");  // padding optional
  CHECK(decodeBase64("aGVs\nbG8=").value() == "hello");
  CHECK_FALSE(decodeBase64("aGVsbG8*").has_value());
  CHECK_FALSE(decodeBase64("aG=Vs").has_value());
}

TEST_CASE("inline certificates, token and the current context") {
  std::string text = std::string(R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: prod-cluster
  cluster: {server: "https://prod.example:6443"}
- name: dev-cluster
  cluster:
    server: https://dev.example:6443/
    certificate-authority-data: )") +
                     encode64(kCa) + R"(
users:
- name: dev-user
  user:
    token: 12345
    client-certificate-data: )" +
                     encode64(kCert) + R"(
    client-key-data: )" +
                     encode64(kKey) + R"(
contexts:
- name: prod
  context: {cluster: prod-cluster, user: dev-user, namespace: prod-ns}
- name: dev
  context: {cluster: dev-cluster, user: dev-user}
)";
  auto cfg = parseKubeconfig(text, "/nowhere/config");
  REQUIRE_MESSAGE(cfg.has_value(), cfg.error().message());
  CHECK(cfg->server == "https://dev.example:6443");
  CHECK(cfg->caPem == kCa);
  CHECK(cfg->clientCertPem == kCert);
  CHECK(cfg->clientKeyPem == kKey);
  CHECK(cfg->token == "12345");  // YAML typed it as a number; it is still the token
  CHECK(cfg->namespaceName == "default");
  CHECK(cfg->contextName == "dev");
  CHECK_FALSE(cfg->insecureSkipTlsVerify);

  auto prod = parseKubeconfig(text, "/nowhere/config", "prod");
  REQUIRE(prod.has_value());
  CHECK(prod->server == "https://prod.example:6443");
  CHECK(prod->caPem.empty());
  CHECK(prod->namespaceName == "prod-ns");

  auto missing = parseKubeconfig(text, "/nowhere/config", "staging");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code() == Code::kInvalidArgument);
  CHECK(missing.error().message() ==
        "/nowhere/config: context \"staging\" not found (known: prod, dev)");
}

TEST_CASE("certificate and key files relative to the kubeconfig, tokenFile, insecure") {
  TempDir dir;
  dir.write("pki/ca.crt", kCa);
  dir.write("pki/client.crt", kCert);
  dir.write("pki/client.key", kKey);
  dir.write("token", "file-token\n");
  std::string path = dir.write("kube/config", R"(
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: ../pki/ca.crt
    insecure-skip-tls-verify: true
users:
- name: u
  user:
    client-certificate: ../pki/client.crt
    client-key: )" + (dir.path / "pki/client.key").string() +
                                                  R"(
    tokenFile: ../token
contexts:
- name: ctx
  context: {cluster: c, user: u, namespace: team-a}
current-context: ctx
)");
  auto cfg = loadKubeconfig(path);
  REQUIRE_MESSAGE(cfg.has_value(), cfg.error().message());
  CHECK(cfg->caPem == kCa);
  CHECK(cfg->clientCertPem == kCert);
  CHECK(cfg->clientKeyPem == kKey);
  CHECK(cfg->insecureSkipTlsVerify);
  CHECK(cfg->namespaceName == "team-a");
  CHECK(cfg->tokenFile == (dir.path / "token").lexically_normal().string());
  CHECK(cfg->origin == path);

  // The token file is read when credentials are asked for, and re-read after the reload period.
  Credentials::Options opts;
  opts.tokenFileReload = std::chrono::seconds(0);
  Credentials creds(*cfg, opts);
  auto a = creds.current();
  REQUIRE(a.has_value());
  CHECK(a->bearerToken == "file-token");
  CHECK(a->clientCertPem == kCert);
  dir.write("token", "rotated-token\n");
  auto b = creds.current();
  REQUIRE(b.has_value());
  CHECK(b->bearerToken == "rotated-token");

  Credentials cached(*cfg);  // the default period: the rotated file is not read again at once
  REQUIRE(cached.current().has_value());
  dir.write("token", "third-token\n");
  CHECK(cached.current()->bearerToken == "rotated-token");
  cached.invalidate();
  CHECK(cached.current()->bearerToken == "third-token");
}

TEST_CASE("errors name the file and the field") {
  TempDir dir;
  std::string base = R"(
current-context: ctx
contexts:
- name: ctx
  context: {cluster: c, user: u}
)";
  struct Case {
    std::string body;
    std::string message;
  };
  std::string file = (dir.path / "config").string();
  Case cases[] = {
      {"clusters:\n- name: c\n  cluster: {server: https://x}\nusers:\n- name: u\n  user: "
       "{client-key-data: '!!notbase64'}\n",
       file + ": user \"u\": client-key-data: not valid base64"},
      {"clusters:\n- name: c\n  cluster: {server: https://x, certificate-authority: ca.pem}\n"
       "users:\n- name: u\n  user: {}\n",
       file + ": cluster \"c\": certificate-authority: cannot read \"" +
           (dir.path / "ca.pem").string() + "\": No such file or directory"},
      {"clusters:\n- name: c\n  cluster: {server: x.example}\nusers:\n- name: u\n  user: {}\n",
       file + ": cluster \"c\": server: \"x.example\" is not an http(s) URL"},
      {"clusters:\n- name: other\n  cluster: {server: https://x}\n",
       file + ": context \"ctx\": cluster \"c\" not found (known: other)"},
      {"clusters:\n- name: c\n  cluster: {server: https://x}\nusers:\n- name: u\n  user: "
       "{client-certificate-data: " +
           encode64(kCert) + "}\n",
       file + ": user \"u\": client-certificate is set without client-key"},
      {"clusters:\n- name: c\n  cluster: {server: https://x}\nusers:\n- name: u\n  user:\n"
       "    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}\n",
       file + ": user \"u\": exec.apiVersion: \"client.authentication.k8s.io/v1alpha1\" is not "
              "supported (use client.authentication.k8s.io/v1)"},
  };
  for (const Case& c : cases) {
    std::string path = dir.write("config", base + c.body);
    auto cfg = loadKubeconfig(path);
    REQUIRE_FALSE(cfg.has_value());
    CHECK(cfg.error().message() == c.message);
  }
  auto none = parseKubeconfig("clusters: []\n", "/k/config");
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().message() ==
        "/k/config: current-context is not set and no context was chosen");
  auto gone = loadKubeconfig((dir.path / "absent").string());
  REQUIRE_FALSE(gone.has_value());
  CHECK(gone.error().code() == Code::kNotFound);
}

// Writes an executable shell script.
std::string script(TempDir& dir, const std::string& name, const std::string& body) {
  std::string p = dir.write(name, "#!/bin/sh\n" + body);
  REQUIRE(::chmod(p.c_str(), 0755) == 0);
  return p;
}

TEST_CASE("exec credential plugin: args, env, KUBERNETES_EXEC_INFO, caching, expiry") {
  TempDir dir;
  // The plugin records each run and echoes what it was given into the token.
  script(dir, "bin/get-token", R"(echo run >> "$(dirname "$0")/runs"
case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) ;; *) echo "no exec info" >&2; exit 3;; esac
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"tok-%s-%s","expirationTimestamp":"%s"}}' "$1" "$PLUGIN_REGION" "$EXPIRY"
)");
  auto kubeconfig = [&](const std::string& expiry) {
    return dir.write("config", R"(
current-context: ctx
contexts: [{name: ctx, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/get-token
      args: [eu]
      env: [{name: PLUGIN_REGION, value: west}, {name: EXPIRY, value: ")" +
                                   expiry + R"("}]
      interactiveMode: Never
)");
  };
  auto runs = [&] {
    std::ifstream in(dir.path / "bin/runs");
    int n = 0;
    std::string line;
    while (std::getline(in, line)) ++n;
    return n;
  };

  SUBCASE("a far expiry is cached; invalidate() runs the plugin again") {
    auto cfg = loadKubeconfig(kubeconfig("2999-01-01T00:00:00Z"));
    REQUIRE_MESSAGE(cfg.has_value(), cfg.error().message());
    REQUIRE(cfg->exec.has_value());
    CHECK(cfg->exec->command == (dir.path / "bin/get-token").lexically_normal().string());
    Credentials creds(*cfg);
    auto a = creds.current();
    REQUIRE_MESSAGE(a.has_value(), a.error().message());
    CHECK(a->bearerToken == "tok-eu-west");
    REQUIRE(creds.current().has_value());
    CHECK(runs() == 1);
    creds.invalidate();
    REQUIRE(creds.current().has_value());
    CHECK(runs() == 2);
  }
  SUBCASE("an expired credential runs the plugin on every use") {
    auto cfg = loadKubeconfig(kubeconfig("2000-01-01T00:00:00+02:00"));
    REQUIRE(cfg.has_value());
    Credentials creds(*cfg);
    REQUIRE(creds.current().has_value());
    REQUIRE(creds.current().has_value());
    CHECK(runs() == 2);
  }
  SUBCASE("a failing plugin: exit status and stderr, never the token") {
    script(dir, "bin/get-token", "echo 'login required: run az login' >&2\nexit 7\n");
    auto cfg = loadKubeconfig(kubeconfig(""));
    REQUIRE(cfg.has_value());
    Credentials creds(*cfg);
    auto a = creds.current();
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().code() == Code::kUnauthenticated);
    CHECK(a.error().message() == (dir.path / "config").string() + ": exec plugin \"" +
                                     cfg->exec->command +
                                     "\": exit status 7: login required: run az login");
  }
  SUBCASE("output that is not an ExecCredential") {
    script(dir, "bin/get-token", "echo '{\"kind\":\"Other\"}'\n");
    auto cfg = loadKubeconfig(kubeconfig(""));
    REQUIRE(cfg.has_value());
    auto a = Credentials(*cfg).current();
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().message().ends_with(": output has kind other than ExecCredential"));
  }
  SUBCASE("client certificate from the plugin") {
    script(dir, "bin/get-token",
           "printf '{\"kind\":\"ExecCredential\",\"status\":{\"clientCertificateData\":\"C\","
           "\"clientKeyData\":\"K\"}}'\n");
    auto cfg = loadKubeconfig(kubeconfig(""));
    REQUIRE(cfg.has_value());
    auto a = Credentials(*cfg).current();
    REQUIRE_MESSAGE(a.has_value(), a.error().message());
    CHECK(a->bearerToken.empty());
    CHECK(a->clientCertPem == "C");
    CHECK(a->clientKeyPem == "K");
  }
  SUBCASE("a plugin that is not there") {
    std::string path = dir.write("config2", R"(
current-context: ctx
contexts: [{name: ctx, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users:
- name: u
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: windlass-no-such-plugin,
           installHint: "install it with apt"}
)");
    auto cfg = loadKubeconfig(path);
    REQUIRE(cfg.has_value());
    auto a = Credentials(*cfg).current();
    REQUIRE_FALSE(a.has_value());
    CHECK(a.error().message() == path +
                                     ": exec plugin \"windlass-no-such-plugin\": cannot run: No "
                                     "such file or directory; install it with apt");
  }
}

TEST_CASE("in-cluster config from the service account folder") {
  TempDir dir;
  InClusterOptions opts;
  opts.serviceAccountDir = dir.path.string();
  opts.host = "fd00::1";
  opts.port = "443";
  auto missing = inClusterConfig(opts);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code() == Code::kNotFound);

  dir.write("token", "sa-token\n");
  dir.write("ca.crt", kCa);
  dir.write("namespace", "windlass-system\n");
  auto cfg = inClusterConfig(opts);
  REQUIRE_MESSAGE(cfg.has_value(), cfg.error().message());
  CHECK(cfg->server == "https://[fd00::1]:443");
  CHECK(cfg->caPem == kCa);
  CHECK(cfg->namespaceName == "windlass-system");
  CHECK(cfg->tokenFile == (dir.path / "token").string());
  auto auth = Credentials(*cfg).current();
  REQUIRE(auth.has_value());
  CHECK(auth->bearerToken == "sa-token");

  InClusterOptions outside;
  outside.serviceAccountDir = dir.path.string();
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  auto notPod = inClusterConfig(outside);
  REQUIRE_FALSE(notPod.has_value());
  CHECK(notPod.error().code() == Code::kFailedPrecondition);
}

TEST_CASE("WINDLASS_TEST_SERVICE_ACCOUNT_DIR replaces only the default folder") {
  TempDir dir;
  dir.write("token", "test-token\n");
  dir.write("ca.crt", kCa);
  ::setenv("WINDLASS_TEST_SERVICE_ACCOUNT_DIR", dir.path.c_str(), 1);
  InClusterOptions opts;
  opts.host = "127.0.0.1";
  opts.port = "6443";
  auto cfg = inClusterConfig(opts);
  REQUIRE_MESSAGE(cfg.has_value(), cfg.error().message());
  CHECK(cfg->tokenFile == (dir.path / "token").string());
  CHECK(cfg->caPem == kCa);

  TempDir other;  // an explicit folder wins over the variable
  opts.serviceAccountDir = other.path.string();
  auto explicitDir = inClusterConfig(opts);
  REQUIRE_FALSE(explicitDir.has_value());
  CHECK(explicitDir.error().code() == Code::kNotFound);
  ::unsetenv("WINDLASS_TEST_SERVICE_ACCOUNT_DIR");
}

}  // namespace
}  // namespace windlass::reconcile
