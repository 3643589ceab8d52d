#include "agent/wiring.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "reconcile/kubeconfig.h"

namespace windlass::agent {

namespace {

// The content of a secret file or the value of an environment variable,
// without trailing whitespace. Values never enter messages.
Result<std::string> secretValue(const std::string& file, const std::string& env,
                                std::string_view field) {
  if (!file.empty()) {
    auto value = readSecretFile(file);
    if (!value) return Status::failedPrecondition(std::string(field) + ": cannot read " + file);
    return *value;
  }
  if (env.empty()) return std::string();
  const char* v = std::getenv(env.c_str());
  if (v == nullptr)
    return Status::failedPrecondition(std::string(field) + ": $" + env + " is not set");
  std::string value = v;
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r' || value.back() == ' ')) {
    value.pop_back();
  }
  return value;
}

Result<sources::GitCredentials> gitCredentials(const Credentials& c) {
  sources::GitCredentials g;
  auto token = secretValue(c.tokenFile, c.tokenEnv, "repository.credentials.token");
  if (!token) return token.error();
  auto user = secretValue(c.usernameFile, c.usernameEnv, "repository.credentials.username");
  if (!user) return user.error();
  auto password = secretValue(c.passwordFile, c.passwordEnv, "repository.credentials.password");
  if (!password) return password.error();
  g.username = *user;
  g.password = token->empty() ? *password : *token;
  g.sshKeyFile = c.sshKeyFile;
  g.knownHostsFile = c.knownHostsFile;
  g.caFile = c.caFile;
  return g;
}

}  // namespace

std::optional<std::string> readSecretFile(const std::string& path) {
  if (path.empty()) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  return s;
}

Result<reconcile::Reconciler::Options> reconcilerOptions(const AgentConfig& config) {
  reconcile::Reconciler::Options o;
  o.stateDir = config.stateDir;
  auto cluster = config.cluster.inCluster()
                     ? reconcile::inClusterConfig()
                     : reconcile::loadKubeconfig(config.cluster.kubeconfig, config.cluster.context);
  if (!cluster) return cluster.error();
  o.cluster = std::move(*cluster);
  for (const Repository& r : config.repositories) {
    auto creds = gitCredentials(r.credentials);
    if (!creds) return creds.error().withContext("repository " + r.name);
    reconcile::RepositorySpec repo{r.name, r.url, std::move(*creds), {}};
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(r.timeout);
    repo.timeouts.idle = timeout;
    repo.timeouts.total = timeout;
    repo.timeouts.connect = std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(30));
    o.repositories.push_back(std::move(repo));
  }
  return o;
}

reconcile::EnvironmentSpec environmentSpec(const Environment& env) {
  reconcile::EnvironmentSpec s;
  s.name = env.name;
  s.repository = env.repository;
  if (!env.serviceAccountName.empty()) {
    s.impersonate = "system:serviceaccount:" + env.targetNamespace + ":" + env.serviceAccountName;
  }
  s.revision = env.revision;
  s.pinnedCommit = env.revisionKind == RevisionKind::kCommit;
  if (env.revisionKind == RevisionKind::kSemver) s.semver = env.revision;
  s.path = env.path;
  s.follows = env.follows;
  s.rollbackOnFailure = env.rollbackOnFailure;
  s.sync.environment = env.name;
  s.sync.targetNamespace = env.targetNamespace;
  s.sync.prune = env.prune;
  s.sync.force = env.force;
  s.sync.maxPruneShare = env.maxPruneShare;
  s.sync.healthTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(env.healthTimeout);
  s.verify = env.verify;
  s.remoteBasesAllow = env.remoteBasesAllow;
  return s;
}

}  // namespace windlass::agent
