// The reconcile pipeline of one process: fetch → render → plan → apply → prune →
// health → history, for any environment, with the parts that live as long as the
// process (one Kubernetes client and its discovery cache, one history store, one
// Git mirror per repository, the last rendered digest and desired objects per
// environment). `windlass sync`/`diff` use it for one run; `windlass run` keeps
// one for months.
//
// Every sync that may write records exactly one history record, whatever its
// outcome, and is refused before the first cluster write when its record could
// not be written. Two syncs of one environment never overlap, across threads
// and processes (a FileLock per environment under <stateDir>/locks/).
//
// Thread safety: every public member function is thread-safe. Syncs of
// different environments run concurrently; fetches of one repository are
// serialised.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"
#include "reconcile/history.h"
#include "reconcile/image_override.h"
#include "reconcile/kube_api.h"
#include "reconcile/kubeconfig.h"
#include "reconcile/remote_bases.h"
#include "reconcile/sync.h"
#include "sources/git.h"
#include "sources/signature.h"

namespace windlass::reconcile {

struct RepositorySpec {
  std::string name;  // "default" for the single `repository:`
  std::string url;
  sources::GitCredentials credentials;
  sources::GitTimeouts timeouts;
};

struct EnvironmentSpec {
  std::string name;
  std::string repository;  // a RepositorySpec::name
  std::string revision;    // branch, tag or commit id
  bool pinnedCommit = false;
  // When set, a semver range (">=1.0.0"): the environment deploys the newest tag
  // that matches it, and `revision` is ignored.
  std::string semver;
  std::string path;  // folder in the repository
  SyncOptions sync;  // prune, namespace, health timeout, ... (sync.environment = name)
  // Every request of this environment impersonates this user, e.g.
  // "system:serviceaccount:team-a:deployer". Empty: the agent's own identity.
  std::string impersonate;
  // Image automation, `update: render`: container images replaced after the render
  // (image_override.h). Empty: the images as rendered.
  std::vector<ImageOverride> images;
  // When set, the environment deploys the commit this other environment last synced
  // Healthy (rendered from its own path), not its own branch head: a DR standby that
  // follows prod. `revision` is then the followed environment's branch (fetched).
  std::string follows;
  // A sync whose health check ends Degraded or times out re-applies the last Healthy
  // revision and holds the environment there (Trigger::kRollback, actor "windlass").
  bool rollbackOnFailure = false;
  // When enabled(), only commits signed by a trusted key are applied: any other
  // sync fails with SourceFailed (FailedPrecondition: stalled until the revision
  // changes) before rendering, so the cluster stays at the last verified commit.
  sources::VerifyConfig verify;
  // Hosts remote bases may come from (remote_bases.h); empty: none. A configured
  // repository on the same host (and transport) lends its credentials.
  std::vector<std::string> remoteBasesAllow;
};

struct SyncRequest {
  bool planOnly = false;        // diff / --dry-run: plan, print, write nothing, record nothing
  bool fetch = true;            // false: the caller fetched the repository already
  std::string revision;         // overrides the environment's revision
  bool forcePrune = false;      // --prune
  bool allowMassPrune = false;  // --allow-mass-prune
  Trigger trigger = Trigger::kManual;
  std::string actor;  // recorded: who asked (manual syncs); "" for the agent's own
  // Skip plan and apply when the rendered digest equals that of the last
  // successful sync of this environment in this process (the agent's steady
  // state). The report then has skipped = true, and the new revision is
  // recorded as succeeded with "render unchanged: nothing to apply", without a
  // request to the cluster.
  bool skipWhenUnchanged = false;
  // `windlass rollback`: hold the environment at `revision` (written before the sync,
  // so nothing moves it meanwhile; recorded in the record's hold).
  std::optional<HoldRecord> hold;
  // `windlass release`: lift the environment's hold before the sync.
  bool releaseHold = false;
};

// What a successful sync left in the cluster, for self-heal: the objects as
// applied (namespace set, ApplySet label added), as compact JSON by identity
// ("group|kind|namespace|name").
struct DesiredSet {
  std::string environment;
  std::string applySetId;
  std::string targetNamespace;
  std::map<std::string, std::string> objects;
};

struct SyncReport {
  std::string planText;  // diffs and the summary line
  bool changes = false;  // the plan had something to do
  bool skipped = false;  // skipWhenUnchanged and the render did not change
  std::string commit;    // the commit used (also in record.revision)
  std::string renderDigest;
  SyncRecord record;  // as appended (when recorded)
  bool recorded = false;
  Status status;                              // ok, or why the sync (or plan) failed
  std::shared_ptr<const DesiredSet> desired;  // set after a successful sync
  // Wall time of each stage that ran, in order: "source", "render", "plan", then
  // executePlan's "apply", "prune", "health" (ms).
  std::vector<std::pair<std::string, int64_t>> stageMs;
  // rollbackOnFailure: the sync that re-applied the last Healthy revision.
  std::shared_ptr<const SyncReport> rollback;
};

// Removes spec.replicas from every Deployment, StatefulSet or ReplicaSet in
// `objects` that a HorizontalPodAutoscaler in `objects` scales, so a sync never
// fights the autoscaler over it. Returns how many were changed.
size_t leaveReplicasToAutoscalers(std::vector<JsonValue>& objects);

class Reconciler {
 public:
  struct Options {
    std::string stateDir;
    ClusterConfig cluster;
    std::vector<RepositorySpec> repositories;
    // How long a sync waits for another process's sync of the same environment.
    std::chrono::milliseconds lockWait{std::chrono::minutes(10)};
    // Record times, durations and every wait of a sync (tests pass a FakeClock).
    const Clock* clock = &Clock::system();
  };

  // Creates the client (nothing is sent yet). Fails when libcurl cannot start.
  [[nodiscard]] static Result<std::unique_ptr<Reconciler>> create(Options options);

  // Fetches `revisions` (branches or tags; empty: everything) of repository
  // `repo` into its mirror. Errors as sources::GitMirror::fetch.
  [[nodiscard]] Status fetch(const std::string& repo, const std::vector<std::string>& revisions,
                             const CancelToken* cancel = nullptr);

  // What a fetch for `env` asks for: its branch or tag, all tags for a semver
  // range, everything for a pinned commit (empty).
  static std::vector<std::string> refsFor(const EnvironmentSpec& env);

  // The revision `env` deploys now (no fetch): the commit it is held at, else for a
  // follower the commit the followed environment last synced Healthy, else
  // resolveTracked(). `name` receives the branch or tag, "" for a held or followed
  // commit. NotFound when nothing matches yet; FailedPrecondition for a follower
  // whose followed environment has no Healthy sync.
  [[nodiscard]] Result<sources::CommitInfo> resolveEnvironment(const EnvironmentSpec& env,
                                                               std::string* name = nullptr);

  // The revision `env` tracks in the mirror, holds aside: its branch, tag or commit,
  // or the newest tag matching its semver range (the tag's name is stored in `name`).
  [[nodiscard]] Result<sources::CommitInfo> resolveTracked(const EnvironmentSpec& env,
                                                           std::string* name = nullptr);

  // The newest record of `env` that succeeded with health Healthy (effectiveHealth:
  // a render that did not change keeps the health before it); nullopt when none.
  // Records that do not parse are skipped.
  [[nodiscard]] Result<std::optional<SyncRecord>> lastHealthy(const std::string& env) const;

  // "" when `env` is not held, else "held at abc1234 by bob since <time> (<reason>);
  // 3 commits waiting" (the commits its tracked revision has that the hold lacks, as
  // far as the mirror knows). Never fails: what cannot be read is said in the text.
  std::string describeHold(const EnvironmentSpec& env);

  // How many commits `to` has that `from` lacks, in the mirror of `repo`.
  [[nodiscard]] Result<int64_t> countCommits(const std::string& repo, const std::string& from,
                                             const std::string& to);

  // Runs `fn` with the mirror of `repo` (opened on first use) under its lock.
  [[nodiscard]] Status withMirror(const std::string& repo,
                                  const std::function<Status(sources::GitMirror&)>& fn);

  // How syncs of `env` fetch remote bases: mirrors in "<stateDir>/git", the hosts
  // env.remoteBasesAllow, credentials of a configured repository on the same host.
  RemoteBaseOptions remoteBaseOptions(const EnvironmentSpec& env, const CancelToken* cancel) const;

  // The commit `revision` names in the mirror of `repo` (no fetch).
  [[nodiscard]] Result<sources::CommitInfo> resolve(const std::string& repo,
                                                    const std::string& revision);

  // The signature check of `commit` in the mirror of `repo` (sources::verifyCommit).
  [[nodiscard]] Result<sources::SignatureCheck> verifyCommit(const std::string& repo,
                                                             const std::string& commit,
                                                             const sources::VerifyConfig& config);

  // A FileSource over the tree of `commit` in the mirror of `repo`.
  [[nodiscard]] Result<std::unique_ptr<FileSource>> tree(const std::string& repo,
                                                         const std::string& commit);

  // Image automation (update: git): commits and pushes `request` to repository `repo`
  // with its credentials (sources::GitMirror::commitAndPush; Conflict when the branch
  // moved meanwhile: fetch, reapply, retry).
  [[nodiscard]] Result<std::string> commitAndPush(const std::string& repo,
                                                  const sources::CommitRequest& request,
                                                  const CancelToken* cancel = nullptr);

  // Runs `request` for `env`. Never throws; failures are in report.status and,
  // for syncs, in the recorded history. Cancelling `cancel` stops the sync at
  // the next safe point (between stages, or in a wait), records what was done
  // with the message "interrupted: <why>", and returns Aborted.
  SyncReport sync(const EnvironmentSpec& env, const SyncRequest& request,
                  const CancelToken& cancel);

  KubeApi& kube() { return *kube_; }
  // The client for `env`: the agent's own, or one impersonating env.impersonate
  // (made on first use, kept for the life of the reconciler).
  KubeApi& kubeFor(const EnvironmentSpec& env);
  HistoryStore& history() { return history_; }
  const std::string& stateDir() const { return options_.stateDir; }
  std::chrono::milliseconds lockWait() const { return options_.lockWait; }
  const Clock& clock() const { return *options_.clock; }

 private:
  struct Mirror {
    std::mutex mu;
    std::unique_ptr<sources::GitMirror> git;  // opened on first use
    RepositorySpec spec;
  };
  Reconciler(Options options, std::unique_ptr<KubeApi> kube);
  Result<Mirror*> mirror(const std::string& repo);

  const Options options_;
  std::unique_ptr<KubeApi> kube_;
  HistoryStore history_;
  std::mutex mu_;  // guards mirrors_ (the map) and lastDigest_
  std::map<std::string, std::unique_ptr<Mirror>> mirrors_;
  std::map<std::string, std::string> lastDigest_;  // environment → digest of its last success
  std::map<std::string, std::unique_ptr<KubeApi>> impersonating_;  // user → client (mu_)
};

}  // namespace windlass::reconcile
