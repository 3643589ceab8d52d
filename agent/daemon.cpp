#include "agent/daemon.h"

#include <malloc.h>

#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "agent/agent.h"
#include "agent/api.h"
#include "agent/config.h"
#include "agent/http_server.h"
#include "agent/leader.h"
#include "agent/metrics.h"
#include "agent/notify.h"
#include "agent/wiring.h"

namespace windlass::agent {

namespace {

constexpr const char* kVersion = "0.1.0";

// An environment as the history alone tells it (a follower, or before the first sync).
EnvironmentSnapshot fromHistory(const Environment& env, const reconcile::HistoryStore& history) {
  EnvironmentSnapshot s;
  s.name = env.name;
  s.revision.branch = env.revision;
  s.health = "Unknown";
  s.suspended = env.suspend;
  auto read = history.read(env.name);
  if (!read) return s;
  for (const reconcile::SyncRecord& r : read->records) {
    if (r.trigger == reconcile::Trigger::kDrift) continue;
    s.revision = {r.revision.commit, r.revision.branch, r.revision.author,
                  r.revision.message.substr(0, r.revision.message.find('\n'))};
    s.lastSyncTime = r.time;
    s.lastSyncOutcome = reconcile::reasonName(r.reason);
    if (!r.health.objects.empty() || r.reason != reconcile::Reason::kSucceeded) {
      s.health = reconcile::healthName(r.health.status);
    }
  }
  return s;
}

// The process's long-lived parts; the Agent itself is rebuilt on reload and on
// (re)gaining leadership.
class Daemon {
 public:
  Daemon(std::string configPath, Log& log) : configPath_(std::move(configPath)), log_(log) {}

  int run(AgentConfig config, const CancelToken& stop, CancelToken& reload) {
    while (true) {
      int rc = runConfig(config, stop, reload);
      if (rc != 0) return rc;
      if (stop.cancelled()) break;
      reload.reset();
      auto next = loadConfig(configPath_);
      if (next) {
        config = std::move(*next);
        log_.info("configuration reloaded", {{"config", configPath_}});
      } else {
        log_.error("configuration not reloaded; the running one stays",
                   {{"config", configPath_}, {"error", next.error().message()}});
      }
    }
    log_.info("agent stopped");
    return 0;
  }

 private:
  // One configuration, until stop or reload. 0, or 1 when it cannot start.
  int runConfig(const AgentConfig& config, const CancelToken& stop, const CancelToken& reload) {
    auto options = reconcilerOptions(config);
    if (!options) return fail(options.error());
    auto reconciler = reconcile::Reconciler::create(std::move(*options));
    if (!reconciler) return fail(reconciler.error());
    reconcile::HistoryStore history(config.stateDir);

    std::unique_ptr<Notifier> notifier;
    if (!config.notifications.empty()) {
      NotifierOptions no;
      for (const Notification& n : config.notifications) {
        NotificationTarget t;
        t.url = n.url;
        for (NotificationEvent ev : n.events) t.events.push_back(notificationEventName(ev));
        t.format = notificationFormatName(n.format);
        if (!n.secretFile.empty()) t.secret = readSecretFile(n.secretFile).value_or("");
        no.targets.push_back(std::move(t));
      }
      no.log = [this](const std::string& m) { log_.warn("notification", {{"detail", m}}); };
      auto made = Notifier::create(std::move(no));
      if (!made) return fail(made.error());
      notifier = std::move(*made);
    }

    auto address = parseListenAddress(config.server.address);
    if (!address) return fail(address.error());
    ApiBackend backend;
    backend.metrics = &metrics_;
    backend.history = &history;
    backend.tokenFile = config.server.tokenFile;
    backend.webhookSecretFile = config.server.webhooks.secretFile;
    backend.ready = [this] {
      std::lock_guard<std::mutex> g(mu_);
      return agent_ == nullptr || agent_->ready();  // a follower is ready too
    };
    backend.environments = [this, &config, &history] {
      std::lock_guard<std::mutex> g(mu_);
      if (agent_ != nullptr) return agent_->snapshot();
      std::vector<EnvironmentSnapshot> out;
      for (const Environment& e : config.environments) out.push_back(fromHistory(e, history));
      return out;
    };
    backend.requestSync = [this](const std::string& env, const std::string& actor) {
      std::lock_guard<std::mutex> g(mu_);
      if (agent_ == nullptr) return Status::unavailable("this replica is not the leader");
      return agent_->requestManualSync(env, actor);
    };
    backend.push = [this](const PushEvent& push) {
      std::lock_guard<std::mutex> g(mu_);
      if (agent_ != nullptr) agent_->push(push);
    };
    Api api(std::move(backend));
    HttpServerOptions so;
    so.host = address->host;
    so.port = address->port;
    auto server = HttpServer::start(so, api.handler());
    if (!server) return fail(server.error().withContext("server.address " + config.server.address));
    log_.info("http server listening",
              {{"address", address->host}, {"port", std::to_string((*server)->port())}});

    CancelToken lost;  // leadership lost: stop reconciling, stand for election again
    std::unique_ptr<LeaderElector> elector;
    if (config.leaderElection) {
      LeaderElectionOptions lo;
      lo.leaseNamespace = config.leaderElection->leaseNamespace;
      lo.leaseName = config.leaderElection->name;
      lo.log = [this](const std::string& m) { log_.warn("leader election", {{"detail", m}}); };
      elector = std::make_unique<LeaderElector>((*reconciler)->kube(), lo, &stop);
      Status st = elector->start([this] { log_.info("leading"); },
                                 [this, &lost] {
                                   log_.warn("leadership lost");
                                   lost.cancel();
                                 });
      if (!st.ok()) return fail(st);
    }

    while (!stop.cancelled() && !reload.cancelled()) {
      if (elector && !elector->isLeader()) {
        metrics_.setLeader(false);
        CancelToken().waitFor(std::chrono::milliseconds(100));
        if (stop.cancelled() || reload.cancelled()) break;
        continue;
      }
      lost.reset();
      metrics_.setLeader(true);
      log_.info("agent started", {{"config", configPath_},
                                  {"environments", std::to_string(config.environments.size())},
                                  {"version", kVersion}});
      {
        Agent agent(config, **reconciler, log_, {&metrics_, notifier.get()});
        setAgent(&agent);
        agent.run(stop, reload, &lost);
        setAgent(nullptr);
      }
      metrics_.setLeader(false);
      if (!lost.cancelled()) break;  // stop or reload
    }
    if (elector) elector->stop(/*release=*/true);  // a follower takes over at once
    (*server)->stop();
    if (notifier) notifier->flush();
    return 0;
  }

  void setAgent(Agent* agent) {
    std::lock_guard<std::mutex> g(mu_);
    agent_ = agent;
  }

  int fail(const Status& st) {
    log_.error("cannot start", {{"error", st.message()}});
    return 1;
  }

  const std::string configPath_;
  Log& log_;
  Metrics metrics_;
  std::mutex mu_;
  Agent* agent_ = nullptr;  // the running agent, while this replica leads (mu_)
};

}  // namespace

int runDaemon(const std::string& configPath, Log& log, const CancelToken& stop,
              CancelToken& reload) {
  // Many threads (the worker pool, one per watch) would each get a malloc arena of
  // their own, and the agent's resident memory would grow with them: two are enough.
  mallopt(M_ARENA_MAX, 2);
  auto loaded = loadConfig(configPath);
  if (!loaded) {
    log.error("cannot start", {{"error", loaded.error().message()}});
    return 2;
  }
  return Daemon(configPath, log).run(std::move(*loaded), stop, reload);
}

}  // namespace windlass::agent
