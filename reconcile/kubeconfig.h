// Where a Kubernetes API server is and how to authenticate to it: kubeconfig files,
// the in-cluster service account, and the credentials that change over time (exec
// credential plugins, service-account token files).
//
// Loading resolves everything that is static once: relative paths are taken relative to
// the kubeconfig file, certificate files are read and `-data` fields base64-decoded, so a
// ClusterConfig holds PEM bytes, never paths. What may change while the agent runs (a
// token file that the kubelet rotates, a token an exec plugin hands out until it expires)
// is left to Credentials, which re-reads or re-runs as needed.
//
// Errors are InvalidArgument (or NotFound for a missing file) and name the file and the
// field: `/home/a/.kube/config: user "dev": client-key-data: not valid base64`. Tokens and
// keys never appear in a message.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace windlass::reconcile {

// An exec credential plugin (`users[].user.exec`, client.authentication.k8s.io/v1), as
// the cloud providers' kubeconfigs use (kubelogin, aws eks get-token, gke-gcloud-auth-plugin).
struct ExecConfig {
  std::string apiVersion;  // client.authentication.k8s.io/v1 (v1beta1 accepted too)
  std::string command;     // absolute, relative to the kubeconfig when it has a '/', or on PATH
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to this process's environment
  std::string installHint;                               // printed when the command cannot be run
  bool provideClusterInfo = false;
};

// One resolved context: everything needed to talk to one API server as one user.
struct ClusterConfig {
  std::string server;  // "https://host:port", no trailing '/'
  std::string caPem;   // empty: the system trust store
  bool insecureSkipTlsVerify = false;
  std::string tlsServerName;  // kubeconfig tls-server-name; empty: the host of `server`
  std::string clientCertPem;  // both set, or neither
  std::string clientKeyPem;
  std::string token;      // a static bearer token
  std::string tokenFile;  // re-read periodically (takes precedence over `token`)
  std::string username;   // basic auth (rare; kept for completeness)
  std::string password;
  std::optional<ExecConfig> exec;
  std::string namespaceName = "default";  // the context's namespace
  std::string contextName;                // empty for in-cluster
  std::string origin;  // where this came from, for messages: the file, or "in-cluster config"
};

// Parses kubeconfig `text` (read from `path`, which names the file in messages and anchors
// relative paths) and resolves `context` (empty: current-context). On success every file
// the context refers to has been read. On failure returns InvalidArgument naming `path`
// and the field, or NotFound for a missing referenced file. Thread-safe.
[[nodiscard]] Result<ClusterConfig> parseKubeconfig(std::string_view text, const std::string& path,
                                                    std::string_view context = {});

// Reads `path` and calls parseKubeconfig. A leading "~/" is expanded with $HOME.
[[nodiscard]] Result<ClusterConfig> loadKubeconfig(const std::string& path,
                                                   std::string_view context = {});

// Where the in-cluster configuration comes from. Defaults are what the kubelet provides.
struct InClusterOptions {
  // Folder holding token, ca.crt and namespace. When left at this default, the environment
  // variable WINDLASS_TEST_SERVICE_ACCOUNT_DIR (for tests only) replaces it.
  std::string serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";
  // Read from the environment when empty: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT.
  std::string host;
  std::string port;
};

// The service account's configuration: server from the environment, the CA and the
// namespace from their files, and the token *file* (re-read by Credentials). Fails with
// FailedPrecondition when not running in a pod (no KUBERNETES_SERVICE_HOST), NotFound when
// a file is missing. Thread-safe.
[[nodiscard]] Result<ClusterConfig> inClusterConfig(const InClusterOptions& options = {});

// kubeconfig when `path` is non-empty; otherwise $KUBECONFIG (its first entry), then
// ~/.kube/config when it exists, then the in-cluster configuration.
[[nodiscard]] Result<ClusterConfig> loadDefaultConfig(const std::string& path = {},
                                                      std::string_view context = {});

// Decodes standard base64 (padding optional, whitespace ignored). nullopt if invalid.
std::optional<std::string> decodeBase64(std::string_view text);

// The credentials to present on one request, as of now.
struct AuthInfo {
  std::string bearerToken;  // empty: none
  std::string clientCertPem;
  std::string clientKeyPem;
  std::string username;
  std::string password;
};

// Hands out the current credentials of a ClusterConfig. A token file is re-read at most
// every `tokenFileReload` (and after invalidate()); an exec plugin runs on first use and
// again when its credential expires (status.expirationTimestamp) or after invalidate().
// Thread-safe: concurrent callers share one cached credential and one plugin run.
class Credentials {
 public:
  struct Options {
    // How long a token read from tokenFile is trusted before reading the file again.
    std::chrono::seconds tokenFileReload{60};
    // A plugin that has not finished after this long is killed and the call fails.
    std::chrono::seconds execTimeout{60};
  };

  explicit Credentials(ClusterConfig config);
  Credentials(ClusterConfig config, Options options);

  // The credentials to use now. Fails (Unauthenticated, naming the origin and the plugin
  // command or token file) when the plugin fails or the token file cannot be read.
  [[nodiscard]] Result<AuthInfo> current();

  // Forgets cached tokens (call after a 401) so the next current() re-reads / re-runs.
  void invalidate();

  const ClusterConfig& config() const { return config_; }

 private:
  Status runExec();  // requires mu_

  const ClusterConfig config_;
  const Options options_;
  std::mutex mu_;
  AuthInfo cached_;  // exec or token-file result
  bool haveCached_ = false;
  std::chrono::system_clock::time_point expiry_{};  // of an exec credential; {} = none
  std::chrono::steady_clock::time_point readAt_{};  // of the token file
};

}  // namespace windlass::reconcile
