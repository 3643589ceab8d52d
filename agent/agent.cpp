#include "agent/agent.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "agent/events.h"
#include "agent/images.h"
#include "agent/promote.h"
#include "agent/sync_window.h"
#include "agent/webhook.h"
#include "agent/wiring.h"
#include "core/json.h"
#include "overlays/resource.h"
#include "reconcile/drift.h"
#include "reconcile/env_state.h"
#include "reconcile/inventory.h"

namespace windlass::agent {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using Steady = Clock::Monotonic;
using reconcile::Trigger;

std::optional<milliseconds> retryDelay(Code code, int attempt, milliseconds interval) {
  switch (code) {
    case Code::kInvalidArgument:
    case Code::kFailedPrecondition:
      return std::nullopt;
    case Code::kConflict:
    case Code::kAborted:
      return milliseconds(1000);
    case Code::kNotFound:
      return interval;
    default: {
      milliseconds d(2000);
      for (int i = 1; i < attempt && d < std::chrono::minutes(5); ++i) d *= 2;
      return std::min<milliseconds>(d, std::chrono::minutes(5));
    }
  }
}

namespace {

std::string shortId(const std::string& commit) { return commit.substr(0, 12); }

std::string compactJson(const JsonValue& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

// One managed group-kind of an environment, as its watch needs it.
struct WatchedKind {
  reconcile::Gvk gvk;
  bool operator==(const WatchedKind& o) const { return gvk == o.gvk; }
  bool operator<(const WatchedKind& o) const {
    return std::tie(gvk.group, gvk.version, gvk.kind) <
           std::tie(o.gvk.group, o.gvk.version, o.gvk.kind);
  }
};

}  // namespace

struct Agent::Impl {
  const Clock& clock() const { return reconciler.clock(); }
  // Everything about one environment. Fields without a note are touched only on
  // the event loop's thread.
  struct Env {
    const Environment* config = nullptr;
    reconcile::EnvironmentSpec spec;
    std::string lastCommit;     // the commit of the last sync that ran (or was skipped)
    std::string stalledCommit;  // a commit whose sync failed for good: wait for the next
    int failures = 0;           // failed syncs in a row
    bool running = false;
    bool pending = false;  // a sync was asked for while one ran
    bool pendingFull = false;
    Trigger pendingTrigger = Trigger::kPoll;
    std::string pendingActor;
    std::unique_ptr<asio::steady_timer> retryTimer, resyncTimer;
    std::unique_ptr<asio::steady_timer> promoteTimer;  // promotion.auto after the soak
    std::string nextSync;                              // RFC 3339, for status
    std::string sourceError;              // why the last fetch or resolve failed, for status
    std::string windowBlock;              // why a sync window holds automatic syncs, for status
    std::string hold;                     // Reconciler::describeHold, as of the last fetch (mu)
    std::vector<std::string> imageHolds;  // "$hold" markers seen by the last write-back
    std::string imageWriteError;          // why the last write-back failed; "" if it did not

    std::mutex syncMu;  // one sync or repair of this environment at a time (workers, watchers)

    std::mutex mu;  // guards the fields below (event loop, workers, watchers)
    std::shared_ptr<const reconcile::DesiredSet> desired;
    reconcile::SyncRecord last;  // the last record of a sync (revision, outcome, health)
    bool haveLast = false;
    std::map<std::string, std::string> drifted;          // identity → what was seen
    std::map<std::string, std::string> repairedVersion;  // identity → rv our repair left
    std::map<std::string, std::vector<Steady>> repairs;  // for fights
    std::map<std::string, Steady> fightUntil;
    std::string fight;  // "apps/Deployment ns/web with <manager>" while one goes on
    uint64_t driftCorrections = 0;

    // Watches: one thread per group-kind, stopped through `watchStop`.
    std::set<WatchedKind> watchedKinds;
    std::unique_ptr<CancelToken> watchStop;
    std::vector<std::thread> watchers;
  };

  Impl(const AgentConfig& c, reconcile::Reconciler& r, Log& l, AgentServices s)
      : config(c), reconciler(r), log(l), services(s), pool(4), rng(std::random_device{}()) {
    EventRecorderOptions eo;
    eo.log = [this](const std::string& m) { log.warn("event not recorded", {{"error", m}}); };
    events = std::make_unique<EventRecorder>(reconciler.kube(), eo);
    for (const Environment& e : config.environments) {
      auto env = std::make_unique<Env>();
      env->config = &e;
      env->spec = environmentSpec(e);
      env->retryTimer = std::make_unique<asio::steady_timer>(io);
      env->resyncTimer = std::make_unique<asio::steady_timer>(io);
      env->promoteTimer = std::make_unique<asio::steady_timer>(io);
      envs.push_back(std::move(env));
    }
  }

  const AgentConfig& config;
  reconcile::Reconciler& reconciler;
  Log& log;
  AgentServices services;
  asio::io_context io;
  asio::thread_pool pool;
  CancelToken halt;      // tripped on stop or reload: syncs stop at their next safe point
  TzifZoneLookup zones;  // sync windows' time zones
  std::unique_ptr<EventRecorder> events;  // Kubernetes Events on each inventory object
  std::vector<std::unique_ptr<Env>> envs;
  std::mt19937 rng;
  std::map<std::string, bool> fetching;    // repository → a fetch is under way
  std::map<std::string, bool> fetchAgain;  // repository → a push came during the fetch
  mutable std::mutex snapMu;               // guards snapshots and fetchedOnce
  std::map<std::string, EnvironmentSnapshot> snapshots;  // environment → for the API
  std::set<std::string> fetchedOnce;                     // repositories
  int activeWork = 0;                                    // syncs and fetches on the pool

  // ---- image automation (issue 9): each policy scanned at its interval ---------------
  struct ImageWatch {
    const ImagePolicyConfig* config = nullptr;
    std::unique_ptr<sources::RegistryClient> client;  // used by one scan at a time
    PolicyScan good;  // the last good scan (its choice is what environments run)
    bool haveGood = false;
    std::string error;  // why the last scan failed; "" when it succeeded
  };
  std::vector<std::unique_ptr<ImageWatch>> imageWatches;  // touched on the event loop only

  std::set<std::string> writingBack;     // "repo|branch" with a write-back under way
  std::set<std::string> writeBackAgain;  // ... and a newer choice came meanwhile

  // update: git. One write-back (one commit) per branch for every git-mode policy of the
  // environments on it.
  void writeBack(const std::string& repo, const std::string& branch) {
    std::string key = repo + "|" + branch;
    if (writingBack.count(key) > 0) {
      writeBackAgain.insert(key);
      return;
    }
    std::map<std::string, sources::SetterValues> values;
    std::vector<Env*> mine;
    for (auto& e : envs) {
      if (e->spec.repository != repo || e->spec.revision != branch) continue;
      if (e->config->revisionKind != RevisionKind::kBranch) continue;
      bool uses = false;
      for (const EnvironmentImage& img : e->config->images) {
        if (img.update != ImageUpdateMode::kGit) continue;
        for (const auto& w : imageWatches) {
          if (w->config->name == img.policy && w->haveGood) {
            values[img.policy] = setterValues(w->good);
            uses = true;
          }
        }
      }
      if (uses) mine.push_back(e.get());
    }
    if (values.empty()) return;
    writingBack.insert(key);
    ++activeWork;
    asio::post(pool, [this, repo, branch, key, values, mine] {
      auto result = writeBackImages(reconciler, config, repo, branch, values, &halt);
      asio::post(io, [this, repo, branch, key, mine, result = std::move(result)] {
        --activeWork;
        writingBack.erase(key);
        if (!result) {
          log.warn("image write-back failed",
                   {{"repository", repo}, {"branch", branch}, {"error", result.error().message()}});
        } else if (!result->commit.empty()) {
          std::string lines;
          for (const std::string& l : result->changedLines) lines += (lines.empty() ? "" : " ") + l;
          log.info("image write-back pushed", {{"repository", repo},
                                               {"branch", branch},
                                               {"commit", shortId(result->commit)},
                                               {"lines", lines}});
          const Repository* r = findRepository(config, repo);
          if (r != nullptr && !halt.cancelled()) poll(*r);  // sync it now, not at the interval
        }
        for (Env* e : mine) {
          e->imageWriteError = result ? "" : result.error().message();
          if (result) e->imageHolds = result->holds;
          writeStatus(*e);
        }
        if (writeBackAgain.erase(key) > 0 && !halt.cancelled()) writeBack(repo, branch);
      });
    });
  }

  std::vector<PolicyScan> goodScans() const {
    std::vector<PolicyScan> out;
    for (const auto& w : imageWatches) {
      if (w->haveGood) out.push_back(w->good);
    }
    return out;
  }

  void scheduleImageScan(ImageWatch& w, milliseconds after) {
    auto timer = std::make_shared<asio::steady_timer>(io, after);
    timer->async_wait([this, timer, &w](const boost::system::error_code& ec) {
      if (!ec && !halt.cancelled()) scanImages(w);
    });
  }

  void scanImages(ImageWatch& w) {
    ++activeWork;
    asio::post(pool, [this, &w] {
      PolicyScan scan = scanPolicy(*w.config, *w.client);
      asio::post(io, [this, &w, scan = std::move(scan)]() mutable {
        --activeWork;
        afterImageScan(w, std::move(scan));
      });
    });
  }

  void afterImageScan(ImageWatch& w, PolicyScan scan) {
    const std::string& policy = w.config->name;
    if (!scan.status.ok() && halt.cancelled()) return;
    if (services.metrics != nullptr) {
      services.metrics->recordImageScan(policy,
                                        scan.status.ok() ? "ok" : codeName(scan.status.code()));
    }
    bool changed = false;
    if (!scan.status.ok()) {
      // Keep the last good choice: environments go on running it.
      w.error = scan.status.message();
      log.warn("image scan failed; keeping the last good choice",
               {{"policy", policy},
                {"error", w.error},
                {"keeping", w.haveGood ? w.good.reference() : std::string("-")}});
    } else {
      w.error.clear();
      std::string before = w.haveGood ? w.good.reference() : "";
      if (scan.reference().empty()) {
        log.warn("image policy chose no tag", {{"policy", policy}, {"why", scan.choice.reason}});
      } else if (scan.reference() != before) {
        log.info("new image chosen", {{"policy", policy},
                                      {"image", scan.reference()},
                                      {"previous", before.empty() ? "-" : before},
                                      {"why", scan.choice.reason}});
        w.good = std::move(scan);
        w.haveGood = true;
        changed = true;
      }
    }
    std::vector<PolicyScan> scans = goodScans();
    std::set<std::pair<std::string, std::string>> branches;  // to write back: repo, branch
    for (auto& e : envs) {
      bool uses = false;
      for (const EnvironmentImage& img : e->config->images) {
        uses = uses || img.policy == policy;
        if (changed && img.policy == policy && img.update == ImageUpdateMode::kGit) {
          branches.insert({e->spec.repository, e->spec.revision});
        }
      }
      if (!uses) continue;
      auto overrides = renderOverrides(config, *e->config, scans);
      if (changed && overrides != e->spec.images) {
        e->spec.images = std::move(overrides);
        requestSync(*e, Trigger::kImage, false);
      }
      writeStatus(*e);
    }
    for (const auto& [repo, branch] : branches) writeBack(repo, branch);
    if (!halt.cancelled()) {
      scheduleImageScan(w, jittered(std::chrono::duration_cast<milliseconds>(w.config->interval)));
    }
  }

  milliseconds interval(const Env& e) const {
    return std::chrono::duration_cast<milliseconds>(e.config->interval);
  }

  // ---- polling: each repository at its interval, one fetch for all its environments ----

  void schedulePoll(const Repository& repo, milliseconds after) {
    auto timer = std::make_shared<asio::steady_timer>(io, after);
    timer->async_wait([this, timer, &repo](const boost::system::error_code& ec) {
      if (!ec && !halt.cancelled()) poll(repo);
    });
  }

  milliseconds jittered(milliseconds d) {
    std::uniform_int_distribution<long> j(0, std::max<long>(1, d.count() / 10));
    return d + milliseconds(j(rng));
  }

  std::vector<Env*> envsOf(const Repository& repo) {
    std::vector<Env*> out;
    for (const auto& e : envs) {
      if (e->spec.repository == repo.name) out.push_back(e.get());
    }
    return out;
  }

  void poll(const Repository& repo) {
    std::vector<Env*> mine = envsOf(repo);
    if (fetching[repo.name] || mine.empty()) return;
    fetching[repo.name] = true;
    ++activeWork;
    std::vector<std::string> revisions;
    bool everything = false;
    for (Env* e : mine) {
      std::vector<std::string> refs = reconcile::Reconciler::refsFor(e->spec);
      everything = everything || refs.empty();
      revisions.insert(revisions.end(), refs.begin(), refs.end());
    }
    if (everything) revisions.clear();  // a pinned commit: fetch all branches and tags
    asio::post(pool, [this, &repo, revisions, mine] {
      auto start = clock().monotonic();
      Status st = reconciler.fetch(repo.name, revisions, &halt);
      auto ms = std::chrono::duration_cast<milliseconds>(clock().monotonic() - start).count();
      std::vector<std::pair<Env*, Result<sources::CommitInfo>>> resolved;
      std::vector<std::string> holds;  // describeHold of each of `mine`
      if (st.ok()) {
        for (Env* e : mine) {
          resolved.emplace_back(e, reconciler.resolveEnvironment(e->spec));
          holds.push_back(reconciler.describeHold(e->spec));
        }
      }
      asio::post(io, [this, &repo, st, ms, mine, resolved = std::move(resolved),
                      holds = std::move(holds)]() mutable {
        --activeWork;
        for (size_t i = 0; i < holds.size(); ++i) {
          std::lock_guard<std::mutex> g(mine[i]->mu);
          mine[i]->hold = holds[i];
        }
        fetching[repo.name] = false;
        if (services.metrics != nullptr) services.metrics->observeGitFetch(repo.name, ms / 1000.0);
        if (st.ok()) {
          std::lock_guard<std::mutex> g(snapMu);
          fetchedOnce.insert(repo.name);
        }
        afterFetch(repo, mine, st, ms, resolved);
        if (fetchAgain[repo.name] && !halt.cancelled()) {
          fetchAgain[repo.name] = false;
          poll(repo);  // pushes during the fetch: one more, for all of them
        }
      });
    });
  }

  void afterFetch(const Repository& repo, const std::vector<Env*>& mine, const Status& st, long ms,
                  std::vector<std::pair<Env*, Result<sources::CommitInfo>>>& resolved) {
    if (!st.ok() && halt.cancelled()) return;  // stopping: the fetch was cancelled
    if (!st.ok()) {
      log.warn("fetch failed", {{"repository", repo.name}, {"error", st.message()}});
      for (Env* e : mine) e->sourceError = "fetch failed: " + st.message();
      for (Env* e : mine) writeStatus(*e);
    } else {
      for (auto& [env, commit] : resolved) {
        if (!commit) {
          env->sourceError = commit.error().message();
          log.warn("revision not found", {{"environment", env->spec.name},
                                          {"revision", env->spec.revision},
                                          {"error", commit.error().message()}});
          writeStatus(*env);
          continue;
        }
        bool hadError = !env->sourceError.empty();
        env->sourceError.clear();
        if (commit->id != env->lastCommit && commit->id != env->stalledCommit) {
          log.info("new revision", {{"environment", env->spec.name},
                                    {"repository", repo.name},
                                    {"revision", shortId(commit->id)},
                                    {"fetchMs", std::to_string(ms)}});
          requestSync(*env, Trigger::kPoll, false);
        } else if (hadError) {
          writeStatus(*env);
        }
      }
    }
    auto every = std::chrono::duration_cast<milliseconds>(repo.interval);
    for (Env* e : mine) every = std::min(every, interval(*e));  // the shortest interval asked for
    if (!halt.cancelled()) schedulePoll(repo, jittered(every));
  }

  // ---- syncs --------------------------------------------------------------------------

  // Whether sync windows let automatic syncs and self-heal of `e` run now; when not,
  // `why` says which window and until when, and `until` when to look again.
  bool windowOpen(Env& e, std::string* why, std::chrono::system_clock::time_point* until) {
    if (e.config->syncWindows.empty()) return true;
    auto verdict = evaluateWindows(e.config->syncWindows, clock().now(), zones);
    if (!verdict) {  // a time zone that cannot be read: deny, and say so
      *why = "sync windows: " + verdict.error().message();
      *until = clock().now() + std::chrono::minutes(1);
      return false;
    }
    *why = verdict->reason;
    *until = verdict->until;
    return verdict->allowed;
  }

  void requestSync(Env& e, Trigger trigger, bool full, const std::string& actor = {}) {
    if (halt.cancelled()) return;
    bool manual = trigger == Trigger::kManual;  // a person asked: windows and suspend yield
    if (e.config->suspend && !manual) {
      log.info("sync skipped: environment suspended", {{"environment", e.spec.name}});
      return;
    }
    std::string why;
    std::chrono::system_clock::time_point until;
    if (!manual && !windowOpen(e, &why, &until)) {
      if (e.windowBlock != why) {
        log.info("sync held by a sync window", {{"environment", e.spec.name}, {"window", why}});
      }
      e.windowBlock = why;
      auto wait = std::chrono::duration_cast<milliseconds>(until - clock().now());
      wait = std::clamp(wait, milliseconds(1000), milliseconds(std::chrono::hours(1)));
      e.nextSync = reconcile::formatRfc3339Utc(clock().now() + wait);
      e.retryTimer->expires_after(wait);
      e.retryTimer->async_wait([this, &e, trigger](const boost::system::error_code& ec) {
        if (!ec) requestSync(e, trigger, true);
      });
      writeStatus(e);
      return;
    }
    e.windowBlock.clear();
    if (e.running) {
      e.pending = true;
      e.pendingFull = e.pendingFull || full;
      e.pendingTrigger = trigger;
      e.pendingActor = actor;
      return;
    }
    e.running = true;
    ++activeWork;
    e.retryTimer->cancel();
    // A copy of the spec: image scans change its overrides on the event loop meanwhile.
    asio::post(pool, [this, &e, spec = e.spec, trigger, full, actor] {
      reconcile::SyncRequest req;
      req.fetch = false;
      req.trigger = trigger;
      req.actor = actor;
      req.skipWhenUnchanged = !full;
      reconcile::SyncReport report;
      {
        std::lock_guard<std::mutex> g(e.syncMu);
        report = reconciler.sync(spec, req, halt);
        // After rollbackOnFailure the rollback's objects are what self-heal keeps.
        const auto& desired = report.rollback ? report.rollback->desired : report.desired;
        if (desired) {
          std::lock_guard<std::mutex> g2(e.mu);
          e.desired = desired;
        }
      }
      asio::post(io, [this, &e, report = std::move(report)]() mutable {
        --activeWork;
        afterSync(e, report);
      });
    });
  }

  void afterSync(Env& e, reconcile::SyncReport& report) {
    e.running = false;
    malloc_trim(0);  // a sync's allocations are gone: give the pages back
    const std::string& env = e.spec.name;
    if (report.rollback) {
      // rollbackOnFailure: the failed sync is recorded; what runs now is the rollback.
      observeSync(e, report);
      event(e, EventType::kWarning, kReasonSyncFailed,
            shortId(report.commit) + ": " + report.status.message() + "; rolled back to " +
                shortId(report.rollback->commit) + " and held");
      log.error("sync failed; rolled back and held",
                {{"environment", env},
                 {"revision", shortId(report.commit)},
                 {"error", report.status.message()},
                 {"rolledBackTo", shortId(report.rollback->commit)}});
      reconcile::SyncReport back = *report.rollback;
      report = std::move(back);
    }
    if (report.skipped) {
      log.info("render unchanged; nothing to apply",
               {{"environment", env}, {"revision", shortId(report.commit)}});
      e.lastCommit = report.commit;
      e.failures = 0;
      e.stalledCommit.clear();
      if (report.recorded) {
        std::lock_guard<std::mutex> g(e.mu);
        e.last.revision = report.record.revision;  // same render, so the same health
        e.last.hold = report.record.hold;
      }
      if (e.last.health.status == reconcile::HealthStatus::kHealthy) afterHealthy(e);
    } else if (report.recorded || !report.status.ok()) {
      if (report.recorded) {
        std::lock_guard<std::mutex> g(e.mu);
        e.last = report.record;
        e.haveLast = true;
      }
      if (report.recorded) observeSync(e, report);
      if (!report.commit.empty()) e.lastCommit = report.commit;
      for (const auto& [stage, ms] : report.stageMs) {
        log.info("stage", {{"environment", env},
                           {"revision", shortId(report.commit)},
                           {"stage", stage},
                           {"durationMs", std::to_string(ms)}});
      }
      if (report.status.ok()) {
        e.failures = 0;
        e.stalledCommit.clear();
        if (report.changes) {
          event(e, EventType::kNormal, kReasonSyncSucceeded,
                "synced " + shortId(report.commit) + ": " + report.record.message);
        }
        log.info("synced", {{"environment", env},
                            {"revision", shortId(report.commit)},
                            {"outcome", reconcile::reasonName(report.record.reason)},
                            {"durationMs", std::to_string(report.record.durationMs)}});
        startWatches(e);
        if (report.record.health.status == reconcile::HealthStatus::kHealthy) afterHealthy(e);
      } else if (!halt.cancelled()) {
        ++e.failures;
        auto delay = retryDelay(report.status.code(), e.failures, interval(e));
        bool pruneRefused = report.recorded &&
                            report.record.reason == reconcile::Reason::kPruneFailed &&
                            report.status.message().find("refusing to prune") != std::string::npos;
        if (e.failures == 1 || !delay) {  // once per episode, not once per retry
          event(e, EventType::kWarning, pruneRefused ? kReasonPruneRefused : kReasonSyncFailed,
                (report.commit.empty() ? std::string() : shortId(report.commit) + ": ") +
                    report.status.message());
        }
        log.error(
            "sync failed",
            {{"environment", env},
             {"revision", shortId(report.commit)},
             {"outcome", report.recorded ? reconcile::reasonName(report.record.reason) : "failed"},
             {"error", report.status.message()},
             {"retry", delay ? std::to_string(delay->count()) + "ms" : "on the next revision"}});
        if (delay) {
          // Source failures leave lastCommit as it was, so the next poll tries again too.
          e.retryTimer->expires_after(*delay);
          e.nextSync = reconcile::formatRfc3339Utc(clock().now() + *delay);
          e.retryTimer->async_wait([this, &e](const boost::system::error_code& ec) {
            if (!ec) requestSync(e, Trigger::kPoll, true);
          });
        } else {
          e.stalledCommit = report.commit;
        }
      }
    }
    scheduleResync(e);
    writeStatus(e);
    if (e.pending && !halt.cancelled()) {
      e.pending = false;
      bool full = e.pendingFull;
      e.pendingFull = false;
      requestSync(e, e.pendingTrigger, full, e.pendingActor);
    }
  }

  // `e` synced Healthy: its followers may move, and environments promoted from it
  // automatically get a promotion once its soak has passed.
  void afterHealthy(Env& e) {
    for (auto& f : envs) {
      if (f->spec.follows == e.spec.name) requestSync(*f, Trigger::kFollow, false);
      if (f->config->promotion.from != e.spec.name || !f->config->promotion.automatic) continue;
      Env& target = *f;
      auto soak = std::chrono::duration_cast<milliseconds>(target.config->promotion.soak);
      target.promoteTimer->expires_after(soak + milliseconds(500));
      target.promoteTimer->async_wait([this, &e, &target](const boost::system::error_code& ec) {
        if (ec || halt.cancelled()) return;
        ++activeWork;
        asio::post(pool, [this, &e, &target] {
          auto done = promote(config, reconciler,
                              {e.spec.name, target.spec.name, e.lastCommit, "windlass"}, &halt);
          asio::post(io, [this, &e, &target, done = std::move(done)] {
            --activeWork;
            if (!done) {
              log.warn("automatic promotion refused", {{"from", e.spec.name},
                                                       {"to", target.spec.name},
                                                       {"error", done.error().message()}});
              return;
            }
            log.info("promoted", {{"from", e.spec.name},
                                  {"to", target.spec.name},
                                  {"revision", shortId(done->sourceRevision)},
                                  {"how", done->how}});
            if (done->how == "already there") return;
            for (const Repository& repo : config.repositories) {
              if (repo.name != target.spec.repository) continue;
              if (fetching[repo.name]) {
                fetchAgain[repo.name] = true;
              } else {
                poll(repo);
              }
            }
          });
        });
      });
    }
  }

  void scheduleResync(Env& e) {
    auto d = std::chrono::duration_cast<milliseconds>(e.config->resyncInterval);
    e.resyncTimer->expires_after(d);
    if (e.nextSync.empty() || e.failures == 0) {
      e.nextSync = reconcile::formatRfc3339Utc(clock().now() + d);
    }
    e.resyncTimer->async_wait([this, &e](const boost::system::error_code& ec) {
      if (ec || halt.cancelled()) return;
      if (!e.stalledCommit.empty()) {
        scheduleResync(e);  // a bad commit waits for the next one
        return;
      }
      requestSync(e, Trigger::kPoll, true);
    });
  }

  // Metrics and notifications of a recorded sync.
  void observeSync(Env& e, const reconcile::SyncReport& report) {
    const reconcile::SyncRecord& r = report.record;
    const char* outcome = reconcile::reasonName(r.reason);
    if (services.metrics != nullptr) {
      auto now = std::chrono::duration<double>(clock().now().time_since_epoch());
      services.metrics->recordSync(e.spec.name, outcome, r.durationMs / 1000.0, now.count());
      if (report.desired)
        services.metrics->setManagedObjects(e.spec.name, report.desired->objects.size());
    }
    if (r.reason == reconcile::Reason::kSucceeded && !report.changes) return;
    const char* kind = r.reason == reconcile::Reason::kSucceeded      ? kNotifySyncSucceeded
                       : r.reason == reconcile::Reason::kHealthFailed ? kNotifyHealthDegraded
                       : r.reason == reconcile::Reason::kPruneFailed &&
                               r.message.find("refusing to prune") != std::string::npos
                           ? kNotifyPruneRefused
                           : kNotifySyncFailed;
    std::string object;
    for (const auto& o : r.objects) {
      if (!o.error.empty()) {
        object = reconcile::objectSubject({o.group, o.version, o.kind}, o.ns, o.name);
        break;
      }
    }
    notify(e, kind, object, r.message);
  }

  void notify(Env& e, const char* kind, const std::string& object, const std::string& message) {
    if (services.notifier == nullptr) return;
    NotificationMessage n;
    n.event = kind;
    n.environment = e.spec.name;
    n.revision = e.lastCommit;
    n.object = object;
    n.message = message;
    n.time = clock().now();
    services.notifier->notify(n);
  }

  // An Event on the environment's inventory object (rate-limited; never blocks).
  void event(Env& e, EventType type, const char* reason, const std::string& message) {
    std::string ns;
    {
      std::lock_guard<std::mutex> g(e.mu);
      if (e.desired) ns = e.desired->targetNamespace;
    }
    if (ns.empty()) ns = e.spec.sync.targetNamespace;
    if (ns.empty()) ns = reconciler.kube().defaultNamespace();
    if (ns.empty()) ns = "default";
    events->record(e.spec.name, ns, type, reason, message);
  }

  // ---- self-heal ----------------------------------------------------------------------

  void startWatches(Env& e) {
    std::set<WatchedKind> kinds;
    {
      std::lock_guard<std::mutex> g(e.mu);
      if (!e.desired) return;
      JsonAllocator alloc;
      for (const auto& [id, json] : e.desired->objects) {
        JsonDocument d;
        d.Parse(json.c_str(), json.size());
        if (d.HasParseError()) continue;
        kinds.insert(WatchedKind{reconcile::Gvk::fromApiVersion(
            overlays::stringField(d, "apiVersion"), overlays::stringField(d, "kind"))});
      }
    }
    if (kinds == e.watchedKinds && !e.watchers.empty()) return;  // the same watches serve
    stopWatches(e);
    e.watchedKinds = kinds;
    e.watchStop = std::make_unique<CancelToken>();
    for (const WatchedKind& k : kinds) {
      e.watchers.emplace_back(
          [this, &e, gvk = k.gvk, stop = e.watchStop.get()] { watchLoop(e, gvk, *stop); });
    }
  }

  void stopWatches(Env& e) {
    if (e.watchStop) e.watchStop->cancel();
    for (std::thread& t : e.watchers) t.join();
    e.watchers.clear();
    e.watchedKinds.clear();
  }

  void watchLoop(Env& e, const reconcile::Gvk& gvk, const CancelToken& stop) {
    std::string applySetId;
    {
      std::lock_guard<std::mutex> g(e.mu);
      applySetId = e.desired->applySetId;
    }
    std::string selector = std::string(reconcile::kApplySetPartOfLabel) + "=" + applySetId;
    // An impersonated identity may only be allowed its own namespace: watch there.
    std::string ns;
    if (!e.spec.impersonate.empty()) {
      auto info = reconciler.kubeFor(e.spec).resolve(gvk);
      std::lock_guard<std::mutex> g(e.mu);
      if (info && info->namespaced) ns = e.desired->targetNamespace;
    }
    milliseconds backoff(500);
    std::string version;
    while (!stop.cancelled()) {
      if (version.empty()) {
        // List: the version to watch from, and drift that happened while not watching.
        JsonAllocator alloc;
        reconcile::ListOptions lo;
        lo.labelSelector = selector;
        lo.resourceVersion = &version;
        auto items = reconciler.kubeFor(e.spec).list(gvk, ns, alloc, lo);
        if (!items) {
          log.warn("watch: list failed", {{"environment", e.spec.name},
                                          {"kind", gvk.groupKind()},
                                          {"error", items.error().message()}});
          version.clear();
          clock().sleep(backoff, &stop);
          backoff = std::min(backoff * 2, milliseconds(5000));
          continue;
        }
        std::set<std::string> seen;
        for (const JsonValue& item : *items) {
          seen.insert(reconcile::objectIdentity(item));
          check(e, item, false);
        }
        checkMissing(e, gvk, seen);
      }
      reconcile::WatchOptions wo;
      wo.labelSelector = selector;
      wo.resourceVersion = version;
      thread_local std::mt19937 jitter{std::random_device{}()};  // one per watch thread
      wo.timeout = std::chrono::seconds(240 + std::uniform_int_distribution<int>(0, 60)(jitter));
      Status st = reconciler.kubeFor(e.spec).watch(
          gvk, ns, wo,
          [&](const reconcile::WatchEvent& ev) {
            version = ev.resourceVersion;
            if (ev.type == reconcile::WatchEvent::Type::kBookmark) return;
            check(e, *ev.object, ev.type == reconcile::WatchEvent::Type::kDeleted);
          },
          stop);
      if (stop.cancelled()) break;
      if (st.ok()) {
        backoff = milliseconds(500);
        continue;  // the server closed a quiet watch: resume from `version`
      }
      if (st.code() != Code::kAborted) {
        log.warn(
            "watch failed",
            {{"environment", e.spec.name}, {"kind", gvk.groupKind()}, {"error", st.message()}});
        clock().sleep(backoff, &stop);
        backoff = std::min(backoff * 2, milliseconds(5000));
      }
      version.clear();  // 410 Gone or an error: list again
    }
  }

  // Objects of `gvk` the environment manages that a list did not return: deleted.
  void checkMissing(Env& e, const reconcile::Gvk& gvk, const std::set<std::string>& seen) {
    std::vector<std::string> missing;
    {
      std::lock_guard<std::mutex> g(e.mu);
      std::string prefix = gvk.group + "|" + gvk.kind + "|";
      for (const auto& [id, json] : e.desired->objects) {
        if (id.rfind(prefix, 0) == 0 && seen.count(id) == 0) missing.push_back(id);
      }
    }
    for (const std::string& id : missing) repair(e, id, "deleted", "", "");
  }

  // One observed state of a managed object: drift is reverted (or reported).
  void check(Env& e, const JsonValue& live, bool deleted) {
    std::string id = reconcile::objectIdentity(live);
    std::string rv(overlays::metadataField(live, "resourceVersion"));
    std::string desiredJson;
    {
      std::lock_guard<std::mutex> g(e.mu);
      if (!e.desired) return;
      auto it = e.desired->objects.find(id);
      if (it == e.desired->objects.end()) return;           // being pruned, or not ours any more
      if (!deleted && e.repairedVersion[id] == rv) return;  // our own repair
      desiredJson = it->second;
    }
    if (!deleted) {
      JsonDocument desired;
      desired.Parse(desiredJson.c_str(), desiredJson.size());
      if (!desired.HasParseError() && reconcile::conforms(desired, live)) {
        std::lock_guard<std::mutex> g(e.mu);
        e.drifted.erase(id);
        return;
      }
    }
    repair(e, id, deleted ? "deleted" : "changed", deleted ? "" : reconcile::lastOtherManager(live),
           deleted ? std::string() : compactJson(live));
  }

  // Whether a hold was set or lifted (by the CLI) since the agent's last sync of `e`.
  bool heldElsewhere(Env& e) {
    auto hold = reconcile::readHold(reconciler.stateDir(), e.spec.name);
    if (!hold) return false;
    std::lock_guard<std::mutex> g(e.mu);
    if (!e.haveLast) return false;
    if (*hold) return (*hold)->revision != e.last.revision.commit;
    return !e.last.hold.revision.empty();
  }

  // `liveJson`: the object as seen ("" when deleted), checked again against the
  // desired state once no sync runs, since a sync may have just changed both.
  void repair(Env& e, const std::string& id, const std::string& what, const std::string& manager,
              const std::string& liveJson) {
    std::string subject = reconcile::identitySubject(id);
    std::string why;
    std::chrono::system_clock::time_point windowUntil;
    bool heal = e.config->selfHeal && !e.config->suspend && windowOpen(e, &why, &windowUntil);
    if (heal && heldElsewhere(e)) {
      // `windlass rollback` or `release` changed what this environment runs: sync to
      // it instead of putting back what the agent applied last.
      asio::post(io, [this, &e] { requestSync(e, Trigger::kPoll, true); });
      return;
    }
    {
      std::lock_guard<std::mutex> g(e.mu);
      bool newEpisode = e.drifted.count(id) == 0;
      e.drifted[id] = what;
      if (!heal) {
        if (newEpisode) {
          log.warn("drift detected; not reverted (selfHeal off, suspended or a sync window)",
                   {{"environment", e.spec.name}, {"object", subject}, {"drift", what}});
          recordDrift(e, id, reconcile::ObjectAction::kUnchanged,
                      "drifted (" + what + "); not reverted: " +
                          (!e.config->selfHeal ? std::string("selfHeal is off")
                           : e.config->suspend ? std::string("suspended")
                                               : why),
                      "");
          postStatus(e);
        }
        return;
      }
      // Fights: a sixth repair of one object within a minute → back off
      // exponentially (2 s, 4 s, ... 256 s) and say who the other writer is.
      auto now = clock().monotonic();
      auto& times = e.repairs[id];
      times.erase(std::remove_if(times.begin(), times.end(),
                                 [&](auto t) { return now - t > std::chrono::minutes(1); }),
                  times.end());
      auto until = e.fightUntil.find(id);
      if (until != e.fightUntil.end() && now < until->second) return;  // its timer repairs
      if (times.size() >= 5) {
        auto pause = std::chrono::seconds(1 << std::min<size_t>(times.size() - 4, 8));
        e.fightUntil[id] = now + pause;
        e.fight = subject + (manager.empty() ? "" : " with " + manager);
        log.warn("fight: another writer keeps changing a managed object; backing off",
                 {{"environment", e.spec.name},
                  {"object", subject},
                  {"manager", manager},
                  {"backoff", std::to_string(pause.count()) + "s"}});
        postStatus(e);
        std::string msg = subject + " is changed again and again" +
                          (manager.empty() ? std::string() : " by " + manager) + "; backing off " +
                          std::to_string(pause.count()) + "s";
        asio::post(io, [this, &e, msg, subject] {
          event(e, EventType::kWarning, kReasonFightDetected, msg);
          notify(e, kNotifyFight, subject, msg);
        });
        auto timer = std::make_shared<asio::steady_timer>(io, pause);
        timer->async_wait([this, &e, id, timer](const boost::system::error_code& ec) {
          if (ec || halt.cancelled()) return;
          asio::post(pool, [this, &e, id] { repairNow(e, id, "changed", "", ""); });
        });
        return;
      }
      if (times.empty()) e.fight.clear();  // no repair for a minute: the fight is over
    }
    repairNow(e, id, what, manager, liveJson);
  }

  void repairNow(Env& e, const std::string& id, const std::string& what, const std::string& manager,
                 const std::string& liveJson) {
    auto start = clock().monotonic();
    std::lock_guard<std::mutex> g(e.syncMu);
    std::string json;
    {
      std::lock_guard<std::mutex> g2(e.mu);
      if (!e.desired) return;
      auto it = e.desired->objects.find(id);
      if (it == e.desired->objects.end()) return;
      json = it->second;
    }
    JsonAllocator alloc;
    JsonDocument desired(&alloc);
    desired.Parse(json.c_str(), json.size());
    if (desired.HasParseError()) return;
    std::string seenVersion;
    if (!liveJson.empty()) {
      JsonDocument live;
      live.Parse(liveJson.c_str(), liveJson.size());
      if (!live.HasParseError() && reconcile::conforms(desired, live)) {
        std::lock_guard<std::mutex> g2(e.mu);
        e.drifted.erase(id);
        return;  // a sync applied this state meanwhile
      }
      if (!live.HasParseError()) seenVersion = overlays::metadataField(live, "resourceVersion");
    }
    auto applied = reconciler.kubeFor(e.spec).apply(desired, alloc);
    std::string subject = reconcile::identitySubject(id);
    auto ms = std::chrono::duration_cast<milliseconds>(clock().monotonic() - start).count();
    std::lock_guard<std::mutex> g2(e.mu);
    if (!applied) {
      log.error("drift repair failed", {{"environment", e.spec.name},
                                        {"object", subject},
                                        {"error", applied.error().message()}});
      recordDrift(
          e, id,
          what == "deleted" ? reconcile::ObjectAction::kCreate : reconcile::ObjectAction::kUpdate,
          "drift repair failed: " + applied.error().message(), applied.error().message());
      return;
    }
    std::string appliedVersion(overlays::metadataField(*applied, "resourceVersion"));
    e.repairedVersion[id] = appliedVersion;
    if (!seenVersion.empty() && appliedVersion == seenVersion) {
      // The apply changed nothing: the object held what was applied, in a form the
      // drift check did not recognise. Not a repair, not a fight, nothing to record.
      e.drifted.erase(id);
      return;
    }
    e.repairs[id].push_back(clock().monotonic());  // only real repairs count towards a fight
    e.drifted.erase(id);
    ++e.driftCorrections;
    postStatus(e);
    std::string eventMsg = (what == "deleted" ? "re-created " : "reverted ") + subject +
                           (manager.empty() ? std::string() : " (changed by " + manager + ")");
    asio::post(io, [this, &e, eventMsg, subject] {  // e.mu is held here; the loop records it
      event(e, EventType::kNormal, kReasonDriftCorrected, eventMsg);
      if (services.metrics != nullptr) services.metrics->addDriftCorrections(e.spec.name, 1);
      notify(e, kNotifyDrift, subject, eventMsg);
    });
    log.info(what == "deleted" ? "drift repaired: re-created" : "drift repaired: reverted",
             {{"environment", e.spec.name},
              {"object", subject},
              {"manager", manager},
              {"durationMs", std::to_string(ms)}});
    recordDrift(
        e, id,
        what == "deleted" ? reconcile::ObjectAction::kCreate : reconcile::ObjectAction::kUpdate,
        what == "deleted" ? "re-created " + subject + " (deleted in the cluster)"
                          : "reverted " + subject + " (changed in the cluster" +
                                (manager.empty() ? "" : " by " + manager) + ")",
        "");
  }

  // Appends a drift record (called with e.mu held).
  void recordDrift(Env& e, const std::string& id, reconcile::ObjectAction action,
                   const std::string& message, const std::string& error) {
    reconcile::SyncRecord r;
    r.time = reconcile::formatRfc3339Utc(clock().now());
    r.environment = e.spec.name;
    r.trigger = Trigger::kDrift;
    if (e.haveLast) {
      r.revision = e.last.revision;
      r.images = e.last.images;
    }
    reconcile::ObjectRecord o;
    size_t a = id.find('|'), b = id.find('|', a + 1), c = id.find('|', b + 1);
    o.group = id.substr(0, a);
    o.kind = id.substr(a + 1, b - a - 1);
    o.ns = id.substr(b + 1, c - b - 1);
    o.name = id.substr(c + 1);
    o.action = action;
    o.error = error;
    r.objects.push_back(o);
    r.reason = error.empty() ? reconcile::Reason::kSucceeded : reconcile::Reason::kApplyFailed;
    r.message = message;
    Status st = reconciler.history().append(r);
    if (!st.ok())
      log.error("recording drift failed", {{"environment", e.spec.name}, {"error", st.message()}});
  }

  // ---- status -------------------------------------------------------------------------

  // From any thread: the status file is written on the event loop.
  void postStatus(Env& e) {
    asio::post(io, [this, &e] { writeStatus(e); });
  }

  void writeStatus(Env& e) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    auto kv = [&](const char* k, const std::string& v) {
      w.Key(k);
      w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    };
    std::lock_guard<std::mutex> g(e.mu);
    w.StartObject();
    kv("environment", e.spec.name);
    w.Key("pid");
    w.Int(static_cast<int>(::getpid()));
    kv("updated", reconcile::formatRfc3339Utc(clock().now()));
    kv("branch", e.spec.revision);
    kv("commit", e.lastCommit);
    kv("nextSync", e.config->suspend ? "" : e.nextSync);
    w.Key("suspended");
    w.Bool(e.config->suspend);
    w.Key("selfHeal");
    w.Bool(e.config->selfHeal);
    kv("sourceError", e.sourceError);
    kv("syncWindow", e.windowBlock);
    kv("hold", e.hold);
    kv("stalledCommit", e.stalledCommit);
    w.Key("failures");
    w.Int(e.failures);
    kv("fight", e.fight);
    w.Key("driftCorrections");
    w.Uint64(e.driftCorrections);
    w.Key("drift");
    w.StartArray();
    for (const auto& [id, what] : e.drifted) {
      std::string s = reconcile::identitySubject(id) + " (" + what + ")";
      w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
    }
    w.EndArray();
    // Image automation: per policy this environment follows, what it runs and why not newer.
    w.Key("images");
    w.StartArray();
    for (const EnvironmentImage& img : e.config->images) {
      w.StartObject();
      kv("policy", img.policy);
      kv("update", imageUpdateModeName(img.update));
      std::string ref, scanError;
      for (const auto& iw : imageWatches) {
        if (iw->config->name != img.policy) continue;
        ref = iw->haveGood ? iw->good.reference() : "";
        scanError = iw->error;
      }
      kv("image", ref);
      kv("scanError", scanError);
      w.EndObject();
    }
    w.EndArray();
    w.Key("imageHolds");
    w.StartArray();
    for (const std::string& h : e.imageHolds) {
      w.String(h.c_str(), static_cast<rapidjson::SizeType>(h.size()));
    }
    w.EndArray();
    kv("imageWriteError", e.imageWriteError);
    w.EndObject();
    std::string dir = config.stateDir + "/status";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::string path = dir + "/" + e.spec.name + ".json", tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << buf.GetString() << "\n";
      if (!out) return;
    }
    std::filesystem::rename(tmp, path, ec);
    EnvironmentSnapshot snap;
    snap.name = e.spec.name;
    if (e.haveLast) {
      snap.revision = {e.last.revision.commit, e.last.revision.branch, e.last.revision.author,
                       e.last.revision.message.substr(0, e.last.revision.message.find('\n'))};
      snap.lastSyncTime = e.last.time;
      snap.lastSyncOutcome = reconcile::reasonName(e.last.reason);
      snap.health = reconcile::healthName(e.last.health.status);
    } else {
      snap.revision.branch = e.spec.revision;
      snap.health = "Unknown";
    }
    for (const auto& [id, what] : e.drifted) {
      snap.drift.push_back(reconcile::identitySubject(id) + " (" + what + ")");
    }
    snap.suspended = e.config->suspend;
    snap.hold = e.hold;
    snap.nextSync = e.config->suspend ? "" : e.nextSync;
    snap.leader = true;
    if (services.metrics != nullptr)
      services.metrics->setDriftDetected(e.spec.name, e.drifted.size());
    std::lock_guard<std::mutex> g2(snapMu);
    snapshots[e.spec.name] = std::move(snap);
  }

  // ---- the loop -----------------------------------------------------------------------

  void run(const CancelToken& stop, const CancelToken& reload, const CancelToken* lost) {
    for (const ImagePolicyConfig& p : config.imagePolicies) {
      auto w = std::make_unique<ImageWatch>();
      w->config = &p;
      w->client = std::make_unique<sources::RegistryClient>(registryOptions(p, &halt));
      imageWatches.push_back(std::move(w));
    }
    for (auto& w : imageWatches) asio::post(io, [this, &w] { scanImages(*w); });
    for (auto& e : envs) writeStatus(*e);
    for (const Repository& repo : config.repositories) {
      asio::post(io, [this, &repo] { poll(repo); });
    }
    // Stop and reload come from signal handlers: look at them every 50 ms.
    auto watch = std::make_shared<asio::steady_timer>(io);
    std::function<void()> arm = [&, watch] {
      watch->expires_after(milliseconds(50));
      watch->async_wait([&, watch](const boost::system::error_code& ec) {
        if (ec) return;
        bool leadershipLost = lost != nullptr && lost->cancelled();
        if (!halt.cancelled() && (stop.cancelled() || reload.cancelled() || leadershipLost)) {
          halt.cancel();
          log.info(stop.cancelled()     ? "stopping"
                   : reload.cancelled() ? "reloading the configuration"
                                        : "standing down: leadership lost");
          for (auto& e : envs) {
            e->retryTimer->cancel();
            e->resyncTimer->cancel();
            e->promoteTimer->cancel();
            if (e->watchStop) e->watchStop->cancel();
          }
        }
        if (halt.cancelled() && activeWork == 0) {
          io.stop();
          return;
        }
        arm();
      });
    };
    arm();
    io.run();
    for (auto& e : envs) stopWatches(*e);
    pool.join();
    for (auto& e : envs) writeStatus(*e);
  }
};

Agent::Agent(const AgentConfig& config, reconcile::Reconciler& reconciler, Log& log,
             AgentServices services)
    : impl_(std::make_unique<Impl>(config, reconciler, log, services)) {}

std::vector<EnvironmentSnapshot> Agent::snapshot() const {
  std::vector<EnvironmentSnapshot> out;
  std::lock_guard<std::mutex> g(impl_->snapMu);
  for (const Environment& e : impl_->config.environments) {
    auto it = impl_->snapshots.find(e.name);
    if (it != impl_->snapshots.end()) out.push_back(it->second);
  }
  return out;
}

bool Agent::ready() const {
  std::lock_guard<std::mutex> g(impl_->snapMu);
  return impl_->fetchedOnce.size() == impl_->config.repositories.size();
}

Status Agent::requestManualSync(const std::string& environment, const std::string& actor) {
  Impl::Env* env = nullptr;
  for (auto& e : impl_->envs) {
    if (e->spec.name == environment) env = e.get();
  }
  if (env == nullptr) return Status::notFound("no environment named \"" + environment + "\"");
  impl_->log.info("manual sync requested", {{"environment", environment}, {"actor", actor}});
  asio::post(impl_->io,
             [this, env, actor] { impl_->requestSync(*env, Trigger::kManual, true, actor); });
  return {};
}

void Agent::push(const PushEvent& push) {
  for (const Repository& repo : impl_->config.repositories) {
    if (!pushNamesRepository(push, repo.url)) continue;
    impl_->log.info("push received", {{"repository", repo.name}, {"branch", push.branch}});
    asio::post(impl_->io, [this, &repo] {
      if (impl_->fetching[repo.name]) {
        impl_->fetchAgain[repo.name] = true;  // coalesced with the fetch under way
      } else {
        impl_->poll(repo);
      }
    });
  }
}

Agent::~Agent() = default;

void Agent::run(const CancelToken& stop, const CancelToken& reload, const CancelToken* lost) {
  impl_->run(stop, reload, lost);
}

}  // namespace windlass::agent
