#include "reconcile/reconciler.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "core/file_lock.h"
#include "core/sha256.h"
#include "overlays/render.h"
#include "overlays/resource.h"
#include "reconcile/apply.h"
#include "reconcile/env_state.h"
#include "reconcile/inventory.h"
#include "reconcile/kube_client.h"
#include "reconcile/plan.h"
#include "sources/semver.h"

namespace windlass::reconcile {

using overlays::findMember;
using overlays::metadataField;
using overlays::stringField;

namespace {

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
            std::string_view img = stringField(c, "image");
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

std::string compactJson(const JsonValue& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

bool isCommitId(const std::string& revision) {
  return revision.size() == 40 &&
         revision.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// One sync of one environment: the stages in order, history on every exit.
class Run {
 public:
  Run(Reconciler& r, const EnvironmentSpec& env, const SyncRequest& request,
      const CancelToken& cancel, std::map<std::string, std::string>& lastDigest, std::mutex& mu)
      : r_(r),
        env_(env),
        request_(request),
        cancel_(cancel),
        lastDigest_(lastDigest),
        mu_(mu),
        start_(r.clock().now()),
        stageStart_(r.clock().monotonic()) {
    record_.environment = env.name;
    record_.trigger = request.trigger;
    record_.actor = request.actor;
    record_.time = formatRfc3339Utc(start_);
  }

  SyncReport run() {
    // Nothing may write the cluster for this environment while we do (a plan writes
    // nothing and needs no lock).
    FileLock lock;
    if (!request_.planOnly) {
      std::error_code ec;
      std::filesystem::create_directories(r_.stateDir() + "/locks", ec);
      auto taken = FileLock::acquire(r_.stateDir() + "/locks/" + env_.name + ".lock",
                                     "environment " + env_.name, r_.lockWait(), &cancel_);
      if (!taken) {
        report_.status = taken.error();
        return std::move(report_);  // another process is syncing it and records its own run
      }
      lock = std::move(*taken);
      // A sync that cannot be recorded does not run.
      if (Status st = r_.history().open(env_.name); !st.ok()) {
        report_.status = st.withContext("the history cannot be written, so nothing was synced");
        return std::move(report_);
      }
      if (Status st = recordKilledSync(); !st.ok()) {
        report_.status = st;
        return std::move(report_);
      }
      if (Status st = updateHold(); !st.ok()) return finish(Reason::kSourceFailed, st);
    }

    // Source: fetch and resolve the commit.
    std::string revision = request_.revision.empty() ? env_.revision : request_.revision;
    bool pinned = request_.revision.empty() ? env_.pinnedCommit : isCommitId(revision);
    if (request_.fetch) {
      std::vector<std::string> refs = Reconciler::refsFor(env_);
      if (!request_.revision.empty()) {
        refs.clear();
        if (!pinned) refs.push_back(revision);
      }
      if (Status st = r_.fetch(env_.repository, refs, &cancel_); !st.ok()) {
        return finish(Reason::kSourceFailed, st);
      }
    }
    if (cancel_.cancelled()) return interrupted();
    auto commit = request_.revision.empty() ? r_.resolveEnvironment(env_, &revision)
                                            : r_.resolve(env_.repository, revision);
    if (!commit) return finish(Reason::kSourceFailed, commit.error());
    report_.commit = commit->id;
    record_.revision.commit = commit->id;
    record_.revision.branch = pinned ? "" : revision;
    record_.revision.author = person(commit->authorName, commit->authorEmail);
    record_.revision.committer = person(commit->committerName, commit->committerEmail);
    record_.revision.message = commit->message;
    record_.revision.signature =
        commit->signature.empty() ? SignatureStatus::kUnsigned : SignatureStatus::kUnknown;
    // ---- signed commits only (verify:; sources/signature.h) ----
    if (env_.verify.enabled()) {
      auto check = r_.verifyCommit(env_.repository, commit->id, env_.verify);
      if (!check) return finish(Reason::kSourceFailed, check.error());
      record_.revision.signature =
          check->verdict == sources::SignatureVerdict::kValid      ? SignatureStatus::kValid
          : check->verdict == sources::SignatureVerdict::kUnsigned ? SignatureStatus::kUnsigned
                                                                   : SignatureStatus::kInvalid;
      record_.revision.signer = check->signer;
      if (!check->valid()) {
        return finish(Reason::kSourceFailed,
                      Status::failedPrecondition("commit " + commit->id.substr(0, 12) +
                                                 " is not applied: " + check->reason));
      }
    }
    // ---- end of the signature check ----
    if (Status st = notePromotion(commit->id); !st.ok()) return finish(Reason::kSourceFailed, st);
    stageDone("source");
    auto tree = r_.tree(env_.repository, commit->id);
    if (!tree) return finish(Reason::kSourceFailed, tree.error());

    // Render the environment's folder straight from the Git tree.
    auto path = normalisePath(env_.path);
    if (!path) return finish(Reason::kRenderFailed, path.error());
    RemoteFetcher remotes(r_.remoteBaseOptions(env_, &cancel_));
    overlays::RenderOptions renderOptions;
    renderOptions.remote = remotes.resolver();
    auto rendered = overlays::render(**tree, *path, alloc_, renderOptions);
    if (!rendered) {
      // A file missing from a commit stays missing until the next commit: not a
      // NotFound to retry at the interval, but a bad input.
      Status st = rendered.error();
      if (st.code() == Code::kNotFound) st = Status::invalidArgument(st.message());
      return finish(Reason::kRenderFailed, st);
    }
    stageDone("render");
    leaveReplicasToAutoscalers(rendered->objects);
    applyImageOverrides(rendered->objects, env_.images, alloc_);  // image automation
    record_.images = imagesOf(rendered->objects);
    for (const overlays::RemoteUse& u : rendered->remotes) {
      record_.remotes.push_back(u.resolved + " " + sources::redactUrl(u.reference));
    }
    report_.renderDigest =
        sha256Hex(overlays::toJson(*rendered) + "\n" + env_.sync.targetNamespace);
    if (request_.skipWhenUnchanged) {
      std::lock_guard<std::mutex> g(mu_);
      auto it = lastDigest_.find(env_.name);
      if (it != lastDigest_.end() && it->second == report_.renderDigest) {
        // The commit moved but the render did not: the new revision is recorded,
        // and nothing is asked of the cluster.
        report_.skipped = true;
        std::string msg = "render unchanged: nothing to apply";
        return finish(Reason::kSucceeded, Status(), msg);
      }
    }
    if (cancel_.cancelled()) return interrupted();

    // Plan against the cluster.
    SyncOptions options = env_.sync;
    options.environment = env_.name;
    options.prune = options.prune || request_.forcePrune;
    options.allowMassPrune = request_.allowMassPrune;
    options.cancel = &cancel_;
    options.clock = &r_.clock();
    auto plan = makePlan(r_.kubeFor(env_), std::move(rendered->objects), options, alloc_);
    if (!plan) return finish(Reason::kApplyFailed, plan.error());
    stageDone("plan");
    report_.planText = formatPlan(*plan);
    report_.changes = plan->changes();
    if (request_.planOnly) return std::move(report_);
    if (cancel_.cancelled()) return interrupted();

    // Until the record is written, a marker says a sync is under way: if the process
    // is killed, the next sync of this environment records the lost one as failed.
    if (Status st = writeMarker(); !st.ok()) return finish(Reason::kApplyFailed, st);
    SyncOutcome outcome = executePlan(r_.kubeFor(env_), *plan, options, alloc_);
    record_.objects = std::move(outcome.objects);
    record_.health = std::move(outcome.health);
    report_.stageMs.insert(report_.stageMs.end(), outcome.stageMs.begin(), outcome.stageMs.end());
    if (outcome.status.ok()) {
      auto desired = std::make_shared<DesiredSet>();
      desired->environment = env_.name;
      desired->applySetId = plan->applySetId;
      desired->targetNamespace = plan->targetNamespace;
      for (const PlannedObject& p : plan->objects) {
        desired->objects.emplace(objectIdentity(p.desired), compactJson(p.desired));
      }
      report_.desired = std::move(desired);
      std::lock_guard<std::mutex> g(mu_);
      lastDigest_[env_.name] = report_.renderDigest;
    }
    return finish(outcome.reason, outcome.status);
  }

 private:
  void stageDone(const char* stage) {
    auto now = r_.clock().monotonic();
    report_.stageMs.emplace_back(
        stage, std::chrono::duration_cast<std::chrono::milliseconds>(now - stageStart_).count());
    stageStart_ = now;
  }

  std::string markerPath() const { return r_.stateDir() + "/locks/" + env_.name + ".inflight"; }

  // Applies the request's hold or release, then notes the hold (if any) in the record.
  Status updateHold() {
    if (request_.releaseHold) WINDLASS_RETURN_IF_ERROR(clearHold(r_.stateDir(), env_.name));
    if (request_.hold)
      WINDLASS_RETURN_IF_ERROR(writeHold(r_.stateDir(), env_.name, *request_.hold));
    auto hold = readHold(r_.stateDir(), env_.name);
    if (!hold) return hold.error();
    if (*hold) record_.hold = **hold;
    return {};
  }

  // A promotion pushed to this environment's branch whose commit this sync applies:
  // the record names it (trigger, actor, source), and the sync consumes it.
  Status notePromotion(const std::string& commit) {
    if (request_.planOnly) return {};
    auto pending = readPromotion(r_.stateDir(), env_.name);
    if (!pending) return pending.error();
    if (!*pending || (*pending)->targetCommit != commit || !record_.hold.revision.empty()) {
      return {};
    }
    record_.trigger = Trigger::kPromotion;
    record_.actor = (*pending)->actor;
    record_.promotion = PromotionRecord{(*pending)->from, (*pending)->revision};
    return {};
  }

  Status writeMarker() {
    std::string path = markerPath(), tmp = path + ".tmp";
    std::string text = serializeRecord(record_) + "\n";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr) return Status::unavailable(tmp + ": " + std::strerror(errno));
    bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    ok = std::fflush(f) == 0 && ok;
    ok = ::fsync(::fileno(f)) == 0 && ok;
    ok = std::fclose(f) == 0 && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
      return Status::unavailable(path + ": cannot write: " + std::strerror(errno));
    }
    return {};
  }

  // A marker left by a sync whose process died (we hold the environment's lock, so
  // no live process owns it) becomes a failed record.
  Status recordKilledSync() {
    std::ifstream in(markerPath());
    if (!in) return {};
    std::string line;
    std::getline(in, line);
    auto lost = parseRecord(line);
    if (lost) {
      lost->reason = Reason::kApplyFailed;
      lost->message =
          "interrupted: the agent stopped during this sync (killed); what it applied is not known";
      WINDLASS_RETURN_IF_ERROR(r_.history().append(*lost));
    }
    std::remove(markerPath().c_str());
    return {};
  }

  SyncReport interrupted() {
    return finish(Reason::kSourceFailed,
                  Status::aborted("interrupted before anything was applied"));
  }

  SyncReport finish(Reason reason, const Status& status, const std::string& summary = {}) {
    report_.status = status;
    if (request_.planOnly) return std::move(report_);
    record_.reason = status.ok() ? Reason::kSucceeded : reason;
    record_.message =
        status.ok() ? (summary.empty() ? "sync succeeded" : summary) : status.message();
    record_.durationMs =
        std::chrono::duration_cast<std::chrono::milliseconds>(r_.clock().now() - start_).count();
    size_t diffBytes = 0;  // a first sync of thousands of objects keeps its record readable
    for (ObjectRecord& o : record_.objects) {
      diffBytes += o.diff.size();
      if (diffBytes > kMaxRecordDiffBytes)
        o.diff = "(diff not recorded: this sync changed too much)\n";
    }
    Status appended = r_.history().append(record_);
    if (appended.ok()) {
      std::remove(markerPath().c_str());
      report_.recorded = true;
      if (!record_.promotion.from.empty()) (void)clearPromotion(r_.stateDir(), env_.name);
    } else if (report_.status.ok()) {
      report_.status = appended.withContext("recording the sync in the history");
    }
    report_.record = record_;
    return std::move(report_);
  }

  Reconciler& r_;
  const EnvironmentSpec& env_;
  const SyncRequest& request_;
  const CancelToken& cancel_;
  std::map<std::string, std::string>& lastDigest_;
  std::mutex& mu_;
  Clock::WallTime start_;
  Clock::Monotonic stageStart_;
  JsonAllocator alloc_;
  SyncRecord record_;
  SyncReport report_;
};

}  // namespace

size_t leaveReplicasToAutoscalers(std::vector<JsonValue>& objects) {
  std::set<std::tuple<std::string, std::string, std::string>> scaled;  // kind, namespace, name
  for (const JsonValue& o : objects) {
    if (stringField(o, "kind") != "HorizontalPodAutoscaler") continue;
    const JsonValue* spec = findMember(o, "spec");
    const JsonValue* ref = spec != nullptr ? findMember(*spec, "scaleTargetRef") : nullptr;
    if (ref == nullptr || !ref->IsObject()) continue;
    scaled.emplace(stringField(*ref, "kind"), metadataField(o, "namespace"),
                   stringField(*ref, "name"));
  }
  size_t changed = 0;
  if (scaled.empty()) return 0;
  for (JsonValue& o : objects) {
    std::string_view kind = stringField(o, "kind");
    if (kind != "Deployment" && kind != "StatefulSet" && kind != "ReplicaSet") continue;
    if (scaled.count({std::string(kind), std::string(metadataField(o, "namespace")),
                      std::string(metadataField(o, "name"))}) == 0) {
      continue;
    }
    JsonValue* spec = findMember(o, "spec");
    if (spec != nullptr && spec->IsObject() && spec->RemoveMember("replicas")) ++changed;
  }
  return changed;
}

Reconciler::Reconciler(Options options, std::unique_ptr<KubeApi> kube)
    : options_(std::move(options)), kube_(std::move(kube)), history_(options_.stateDir) {
  for (const RepositorySpec& spec : options_.repositories) {
    auto m = std::make_unique<Mirror>();
    m->spec = spec;
    mirrors_.emplace(spec.name, std::move(m));
  }
}

Result<std::unique_ptr<Reconciler>> Reconciler::create(Options options) {
  auto kube = KubeClient::create(options.cluster);
  if (!kube) return kube.error();
  return std::unique_ptr<Reconciler>(new Reconciler(std::move(options), std::move(*kube)));
}

KubeApi& Reconciler::kubeFor(const EnvironmentSpec& env) {
  if (env.impersonate.empty()) return *kube_;
  std::lock_guard<std::mutex> g(mu_);
  auto& client = impersonating_[env.impersonate];
  if (!client) {
    ClientOptions o;
    o.impersonateUser = env.impersonate;
    auto made = KubeClient::create(options_.cluster, o);
    if (!made) return *kube_;  // libcurl could not start: nothing else would work either
    client = std::move(*made);
  }
  return *client;
}

Result<Reconciler::Mirror*> Reconciler::mirror(const std::string& repo) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = mirrors_.find(repo);
  if (it == mirrors_.end()) return Status::notFound("no repository named \"" + repo + "\"");
  return it->second.get();
}

Status Reconciler::withMirror(const std::string& repo,
                              const std::function<Status(sources::GitMirror&)>& fn) {
  auto m = mirror(repo);
  if (!m) return m.error();
  std::lock_guard<std::mutex> g((*m)->mu);
  if (!(*m)->git) {
    std::string dir = options_.stateDir + "/git/" + sha256Hex((*m)->spec.url).substr(0, 16);
    auto opened =
        sources::GitMirror::open(dir, (*m)->spec.url, (*m)->spec.credentials, (*m)->spec.timeouts);
    if (!opened) return opened.error();
    (*m)->git = std::make_unique<sources::GitMirror>(std::move(*opened));
  }
  return fn(*(*m)->git);
}

RemoteBaseOptions Reconciler::remoteBaseOptions(const EnvironmentSpec& env,
                                                const CancelToken* cancel) const {
  RemoteBaseOptions o;
  o.cacheDir = options_.stateDir + "/git";
  o.allowHosts = env.remoteBasesAllow;
  o.cancel = cancel;
  std::vector<RepositorySpec> repos = options_.repositories;
  o.credentials = [repos](const overlays::RemoteRef& ref) {
    auto web = [](const std::string& url) {
      return url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
    };
    for (const RepositorySpec& r : repos) {
      auto parsed = overlays::parseRemoteRef(r.url);
      if (parsed && parsed->hostPort == ref.hostPort && web(r.url) == web(ref.url)) {
        return r.credentials;
      }
    }
    return sources::GitCredentials{};
  };
  return o;
}

Status Reconciler::fetch(const std::string& repo, const std::vector<std::string>& revisions,
                         const CancelToken* cancel) {
  return withMirror(repo, [&](sources::GitMirror& git) { return git.fetch(revisions, cancel); });
}

Result<int64_t> Reconciler::countCommits(const std::string& repo, const std::string& from,
                                         const std::string& to) {
  int64_t n = 0;
  Status st = withMirror(repo, [&](sources::GitMirror& git) -> Status {
    auto counted = git.countCommits(from, to);
    if (!counted) return counted.error();
    n = *counted;
    return {};
  });
  if (!st.ok()) return st;
  return n;
}

std::string Reconciler::describeHold(const EnvironmentSpec& env) {
  auto hold = readHold(options_.stateDir, env.name);
  if (!hold) return "hold unreadable: " + hold.error().message();
  if (!*hold) return "";
  const HoldRecord& h = **hold;
  std::string text = "held at " + h.revision.substr(0, 7) + " by " + h.actor + " since " + h.since +
                     " (" + h.reason + ")";
  auto tracked = resolveTracked(env);
  if (!tracked) return text;
  auto waiting = countCommits(env.repository, h.revision, tracked->id);
  if (!waiting) return text;
  return text + "; " + std::to_string(*waiting) + (*waiting == 1 ? " commit" : " commits") +
         " waiting";
}

Result<std::optional<SyncRecord>> Reconciler::lastHealthy(const std::string& env) const {
  auto read = history_.read(env);
  if (!read) return read.error();
  std::vector<HealthStatus> health = effectiveHealth(read->records);
  for (size_t i = read->records.size(); i-- > 0;) {
    SyncRecord& r = read->records[i];
    if (r.reason == Reason::kSucceeded && health[i] == HealthStatus::kHealthy &&
        !r.revision.commit.empty()) {
      return std::optional<SyncRecord>(std::move(r));
    }
  }
  return std::optional<SyncRecord>();
}

Result<std::string> Reconciler::commitAndPush(const std::string& repo,
                                              const sources::CommitRequest& request,
                                              const CancelToken* cancel) {
  // The mirror is opened by a fetch, which the caller does first (to read the tree).
  auto m = mirror(repo);
  if (!m) return m.error();
  std::lock_guard<std::mutex> g((*m)->mu);
  if (!(*m)->git) return Status::failedPrecondition("repository " + repo + " not fetched yet");
  return (*m)->git->commitAndPush(request, cancel);
}

std::vector<std::string> Reconciler::refsFor(const EnvironmentSpec& env) {
  if (!env.semver.empty()) return {"+refs/tags/*:refs/tags/*"};
  if (env.pinnedCommit) return {};
  return {env.revision};
}

Result<sources::CommitInfo> Reconciler::resolveEnvironment(const EnvironmentSpec& env,
                                                           std::string* name) {
  auto hold = readHold(options_.stateDir, env.name);
  if (!hold) return hold.error();
  if (*hold) {
    if (name != nullptr) name->clear();
    return resolve(env.repository, (*hold)->revision);
  }
  if (!env.follows.empty()) {
    auto followed = lastHealthy(env.follows);
    if (!followed) return followed.error();
    if (!*followed) {
      return Status::failedPrecondition("follows " + env.follows +
                                        ", which has no Healthy sync yet");
    }
    if (name != nullptr) name->clear();
    return resolve(env.repository, (*followed)->revision.commit);
  }
  return resolveTracked(env, name);
}

Result<sources::CommitInfo> Reconciler::resolveTracked(const EnvironmentSpec& env,
                                                       std::string* name) {
  if (env.semver.empty()) {
    if (name != nullptr) *name = env.revision;
    return resolve(env.repository, env.revision);
  }
  auto range = sources::parseRange(env.semver);
  if (!range) return range.error();
  std::vector<std::string> tags;
  {
    auto m = mirror(env.repository);
    if (!m) return m.error();
    std::lock_guard<std::mutex> g((*m)->mu);
    if (!(*m)->git) {
      return Status::failedPrecondition("repository " + env.repository + " was never fetched");
    }
    auto listed = (*m)->git->tags();
    if (!listed) return listed.error();
    tags = std::move(*listed);
  }
  auto tag = sources::newestMatching(*range, tags);
  if (!tag) {
    return Status::notFound("no tag matches the semver range \"" + env.semver + "\" (" +
                            std::to_string(tags.size()) + " tags)");
  }
  if (name != nullptr) *name = *tag;
  return resolve(env.repository, "refs/tags/" + *tag);
}

Result<sources::CommitInfo> Reconciler::resolve(const std::string& repo,
                                                const std::string& revision) {
  auto m = mirror(repo);
  if (!m) return m.error();
  std::lock_guard<std::mutex> g((*m)->mu);
  if (!(*m)->git) return Status::failedPrecondition("repository " + repo + " was never fetched");
  return (*m)->git->resolve(revision);
}

Result<sources::SignatureCheck> Reconciler::verifyCommit(const std::string& repo,
                                                         const std::string& commit,
                                                         const sources::VerifyConfig& config) {
  auto m = mirror(repo);
  if (!m) return m.error();
  std::lock_guard<std::mutex> g((*m)->mu);
  if (!(*m)->git) return Status::failedPrecondition("repository " + repo + " was never fetched");
  return sources::verifyCommit(*(*m)->git, commit, config);
}

Result<std::unique_ptr<FileSource>> Reconciler::tree(const std::string& repo,
                                                     const std::string& commit) {
  auto m = mirror(repo);
  if (!m) return m.error();
  std::lock_guard<std::mutex> g((*m)->mu);
  if (!(*m)->git) return Status::failedPrecondition("repository " + repo + " was never fetched");
  return (*m)->git->tree(commit);
}

SyncReport Reconciler::sync(const EnvironmentSpec& env, const SyncRequest& request,
                            const CancelToken& cancel) {
  try {
    SyncReport report = Run(*this, env, request, cancel, lastDigest_, mu_).run();
    if (env.rollbackOnFailure && report.recorded && report.record.reason == Reason::kHealthFailed &&
        request.trigger != Trigger::kRollback && !cancel.cancelled()) {
      auto last = lastHealthy(env.name);
      if (last && *last && (*last)->revision.commit != report.commit) {
        SyncRequest back;
        back.fetch = false;
        back.revision = (*last)->revision.commit;
        back.trigger = Trigger::kRollback;
        back.actor = "windlass";
        back.hold = HoldRecord{back.revision, "windlass", formatRfc3339Utc(clock().now()),
                               "rollbackOnFailure: " + report.commit.substr(0, 7) +
                                   " failed its health check (" + report.status.message() + ")"};
        report.rollback =
            std::make_shared<SyncReport>(Run(*this, env, back, cancel, lastDigest_, mu_).run());
      }
    }
    return report;
  } catch (const JsonAssertion& e) {
    SyncReport r;
    r.status = Status::internal(env.name + ": " + e.what());
    return r;
  }
}

}  // namespace windlass::reconcile
