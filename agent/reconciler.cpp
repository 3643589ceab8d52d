#include "agent/reconciler.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "core/sha256.h"
#include "overlays/render.h"
#include "overlays/resource.h"
#include "reconcile/kube_client.h"
#include "reconcile/kubeconfig.h"
#include "reconcile/sync.h"
#include "sources/git.h"

namespace windlass::agent {

namespace {

using Clock = std::chrono::system_clock;

// The first line of a secret file or the value of an environment variable,
// without trailing whitespace. Values never enter messages.
Result<std::string> secretValue(const std::string& file, const std::string& env,
                                std::string_view field) {
  std::string value;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return Status::failedPrecondition(std::string(field) + ": cannot read " + file);
    std::stringstream ss;
    ss << in.rdbuf();
    value = ss.str();
  } else if (!env.empty()) {
    const char* v = std::getenv(env.c_str());
    if (v == nullptr) return Status::failedPrecondition(std::string(field) + ": $" + env + " is not set");
    value = v;
  }
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

std::string person(const std::string& name, const std::string& email) {
  return name + " <" + email + ">";
}

// Every image the rendered objects run, sorted.
std::vector<std::string> imagesOf(const std::vector<JsonValue>& objects) {
  std::set<std::string> images;
  std::function<void(const JsonValue&)> walk = [&](const JsonValue& v) {
    if (v.IsObject()) {
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        std::string_view k(it->name.GetString(), it->name.GetStringLength());
        if ((k == "containers" || k == "initContainers") && it->value.IsArray()) {
          for (const JsonValue& c : it->value.GetArray()) {
            std::string_view img = overlays::stringField(c, "image");
            if (!img.empty()) images.insert(std::string(img));
          }
        }
        walk(it->value);
      }
    } else if (v.IsArray()) {
      for (const JsonValue& e : v.GetArray()) walk(e);
    }
  };
  for (const JsonValue& o : objects) walk(o);
  return {images.begin(), images.end()};
}

class Run {
 public:
  Run(const AgentConfig& config, const Environment& env, const SyncRequest& request)
      : config_(config), env_(env), request_(request), start_(Clock::now()) {
    record_.environment = env.name;
    record_.trigger = request.trigger;
    record_.time = reconcile::formatRfc3339Utc(start_);
  }

  SyncReport run() {
    // Source: fetch and resolve the commit.
    auto creds = gitCredentials(config_.repository.credentials);
    if (!creds) return finish(reconcile::Reason::kSourceFailed, creds.error());
    std::string mirrorDir = config_.stateDir + "/git/" + sha256Hex(config_.repository.url).substr(0, 16);
    auto mirror = sources::GitMirror::open(mirrorDir, config_.repository.url, *creds);
    if (!mirror) return finish(reconcile::Reason::kSourceFailed, mirror.error());
    std::string revision = request_.revision.empty() ? env_.revision : request_.revision;
    bool isCommit = revision.size() >= 7 && revision.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (Status st = mirror->fetch(isCommit ? std::vector<std::string>{} : std::vector<std::string>{revision});
        !st.ok()) {
      return finish(reconcile::Reason::kSourceFailed, st);
    }
    auto commit = mirror->resolve(revision);
    if (!commit) return finish(reconcile::Reason::kSourceFailed, commit.error());
    record_.revision.commit = commit->id;
    record_.revision.branch = isCommit ? "" : revision;
    record_.revision.author = person(commit->authorName, commit->authorEmail);
    record_.revision.committer = person(commit->committerName, commit->committerEmail);
    record_.revision.message = commit->message;
    record_.revision.signature = commit->signature.empty() ? reconcile::SignatureStatus::kUnsigned
                                                           : reconcile::SignatureStatus::kUnknown;
    auto tree = mirror->tree(commit->id);
    if (!tree) return finish(reconcile::Reason::kSourceFailed, tree.error());

    // Render the environment's folder straight from the Git tree.
    auto path = normalisePath(env_.path);
    if (!path) return finish(reconcile::Reason::kRenderFailed, path.error());
    auto rendered = overlays::render(**tree, *path, alloc_);
    if (!rendered) return finish(reconcile::Reason::kRenderFailed, rendered.error());
    record_.images = imagesOf(rendered->objects);

    // Plan against the cluster.
    auto cluster = config_.cluster.inCluster()
                       ? reconcile::inClusterConfig()
                       : reconcile::loadKubeconfig(config_.cluster.kubeconfig, config_.cluster.context);
    if (!cluster) return finish(reconcile::Reason::kApplyFailed, cluster.error());
    auto kube = reconcile::KubeClient::create(std::move(*cluster));
    if (!kube) return finish(reconcile::Reason::kApplyFailed, kube.error());
    reconcile::SyncOptions options;
    options.environment = env_.name;
    options.targetNamespace = env_.targetNamespace;
    options.prune = env_.prune || request_.forcePrune;
    options.allowMassPrune = request_.allowMassPrune;
    options.maxPruneShare = env_.maxPruneShare;
    options.healthTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(env_.healthTimeout);
    auto plan = reconcile::makePlan(**kube, std::move(rendered->objects), options, alloc_);
    if (!plan) return finish(reconcile::Reason::kApplyFailed, plan.error());
    report_.planText = reconcile::formatPlan(*plan);
    report_.changes = plan->changes();
    if (request_.planOnly) return std::move(report_);

    reconcile::SyncOutcome outcome = reconcile::executePlan(**kube, *plan, options, alloc_);
    record_.objects = std::move(outcome.objects);
    record_.health = std::move(outcome.health);
    return finish(outcome.reason, outcome.status);
  }

 private:
  SyncReport finish(reconcile::Reason reason, const Status& status) {
    report_.status = status;
    if (request_.planOnly) return std::move(report_);
    record_.reason = status.ok() ? reconcile::Reason::kSucceeded : reason;
    record_.message = status.ok() ? "sync succeeded" : status.message();
    record_.durationMs = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
    reconcile::HistoryStore history(config_.stateDir);
    Status appended = history.append(record_);
    if (appended.ok()) {
      report_.recorded = true;
    } else if (report_.status.ok()) {
      report_.status = appended.withContext("recording the sync in the history");
    }
    report_.record = record_;
    return std::move(report_);
  }

  const AgentConfig& config_;
  const Environment& env_;
  const SyncRequest& request_;
  Clock::time_point start_;
  JsonAllocator alloc_;
  reconcile::SyncRecord record_;
  SyncReport report_;
};

}  // namespace

SyncReport reconcileEnvironment(const AgentConfig& config, const Environment& env,
                                const SyncRequest& request) {
  try {
    return Run(config, env, request).run();
  } catch (const JsonAssertion& e) {
    SyncReport r;
    r.status = Status::internal(env.name + ": " + e.what());
    return r;
  }
}

}  // namespace windlass::agent
