// windlass: the command line.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"
#include "agent/daemon.h"
#include "agent/images.h"
#include "agent/leader.h"
#include "agent/log.h"
#include "agent/promote.h"
#include "agent/wiring.h"
#include "core/cancel.h"
#include "core/file_source.h"
#include "core/json.h"
#include "overlays/render.h"
#include "reconcile/env_state.h"
#include "reconcile/history.h"
#include "reconcile/remote_bases.h"
#include "sources/git.h"

namespace windlass::agent {
namespace {

constexpr const char* kVersion = "0.1.0";
using SysTime = std::chrono::system_clock::time_point;

constexpr const char* kUsage = R"(windlass: a GitOps pull-agent with a Kustomize-compatible renderer

Usage:
  windlass render DIR [-o yaml|json] [--load-restrictor=LoadRestrictionsRootOnly|LoadRestrictionsNone]
      Print what `kustomize build DIR` (Kustomize v5.5) prints. Remote bases are
      fetched into $XDG_CACHE_HOME/windlass/git (extra CA: WINDLASS_REMOTE_CA; SSH:
      WINDLASS_REMOTE_SSH_KEY, WINDLASS_REMOTE_KNOWN_HOSTS).
  windlass diff [--config F] --env E
      Plan a sync of environment E and print a diff per object and a summary.
      Exit 0: no difference, 1: differences, 2: error.
  windlass sync [--config F] --env E [--dry-run] [--revision REV] [--prune] [--allow-mass-prune]
      Apply environment E: server-side apply of what changed, prune, health wait;
      recorded in the history. --dry-run plans and prints without writing.
  windlass run [--config F] [--log-format json|text]
      The agent: keep every environment converged with Git and heal drift until
      SIGTERM or SIGINT (exit 0); SIGHUP reloads the config.
  windlass status [--config F] [--env E] [-o json]
      Per environment: the revision, the last sync and its outcome, health,
      whether the cluster matches Git now, drift seen by the agent, next sync.
  windlass history [--config F] [--env E] [-o json]
      Print the sync history: every readable record; a line that does not read
      is named in a warning on stderr and makes the exit status 1.
  windlass history verify [--config F]
      Check the hash chain of every environment's history.
  windlass history export [--config F] [--env E] [--since T] [--until T] -o json|csv
      Every record (of E, else of all environments) whose time is in [T, T'),
      for auditors' tools: JSON Lines, or CSV with one row per record.
  windlass promote [--config F] --from E1 --to E2 [--revision R] [--actor NAME]
      Bring the revision E1 runs Healthy (R, else its last) to E2 through Git:
      E2's branch moves to it (fast-forward, else a merge commit), or with one
      branch for both, E1's overlay images are copied into E2's. Refused (exit 1,
      nothing pushed) unless E1's last sync of R succeeded and is Healthy for at
      least E2's promotion.soak.
  windlass rollback [--config F] --env E --to SEQUENCE|COMMIT [--actor NAME]
      Apply the revision of history record SEQUENCE (or COMMIT) and hold E
      there: new commits are fetched and shown, not applied, until release.
  windlass release [--config F] --env E [--actor NAME]
      Lift E's hold and sync it to the revision it tracks.
  windlass images [--config F] [-o json]
      Scan every image policy now: per policy the tags seen, the chosen one, its
      digest, and why; per environment what it runs and what it would take.
      Exit 1 when a registry could not be read.
  windlass version
      Print the version.
  windlass --help
      Print this help.

--config defaults to windlass.yaml in the current folder.

Exit status: 0 on success, 2 on a usage error, 1 when the command fails (the
message on stderr names the file, object and field); diff exits 1 on
differences and 2 on errors.
)";

int usageError(const std::string& msg) {
  std::fprintf(stderr, "windlass: %s\n(see `windlass --help`)\n", msg.c_str());
  return 2;
}

// The folder the renderer may read: the Git work tree holding `dir`, or "/".
std::string repositoryRoot(const std::string& realDir) {
  std::string cur = realDir;
  while (true) {
    if (::access((cur + "/.git").c_str(), F_OK) == 0) return cur;
    size_t slash = cur.rfind('/');
    if (slash == std::string::npos || cur == "/") return "/";
    cur = slash == 0 ? "/" : cur.substr(0, slash);
    if (cur == "/") return "/";
  }
}

// Where `windlass render` keeps the mirrors of remote bases:
// $XDG_CACHE_HOME/windlass/git, else ~/.cache/windlass/git, else a folder in /tmp.
std::string remoteCacheDir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/windlass/git";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return std::string(home) + "/.cache/windlass/git";
  }
  return "/tmp/windlass-" + std::to_string(::getuid()) + "/git";
}

int render(const std::vector<std::string>& args) {
  std::string dir, output = "yaml";
  overlays::RenderOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "-o" || a == "--output") {
      if (i + 1 == args.size()) return usageError("-o needs a value: yaml or json");
      output = args[++i];
    } else if (a.rfind("-o", 0) == 0 && a.size() > 2 && a[2] != '-') {
      output = a.substr(2);
    } else if (a.rfind("--output=", 0) == 0) {
      output = a.substr(9);
    } else if (a.rfind("--load-restrictor", 0) == 0) {
      std::string value;
      if (a == "--load-restrictor") {
        if (i + 1 == args.size()) return usageError("--load-restrictor needs a value");
        value = args[++i];
      } else if (a.rfind("--load-restrictor=", 0) == 0) {
        value = a.substr(18);
      } else {
        return usageError("unknown flag " + std::string(a));
      }
      if (value == "LoadRestrictionsNone") {
        options.loadRestrictionsNone = true;
      } else if (value != "LoadRestrictionsRootOnly") {
        return usageError(
            "--load-restrictor must be LoadRestrictionsRootOnly or LoadRestrictionsNone");
      }
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      return usageError("unknown flag " + std::string(a));
    } else if (dir.empty()) {
      dir = a;
    } else {
      return usageError("render takes one folder");
    }
  }
  if (dir.empty()) dir = ".";
  if (output != "yaml" && output != "json") return usageError("-o must be yaml or json");
  char real[PATH_MAX];
  if (::realpath(dir.c_str(), real) == nullptr) {
    std::fprintf(stderr, "windlass: %s: %s\n", dir.c_str(), std::strerror(errno));
    return 1;
  }
  std::string realDir = real;
  std::string root = repositoryRoot(realDir);
  auto source = openDiskSource(root);
  if (!source) {
    std::fprintf(stderr, "windlass: %s\n", source.error().message().c_str());
    return 1;
  }
  std::string rel = root == "/"
                        ? realDir.substr(1)
                        : (realDir == root ? std::string() : realDir.substr(root.size() + 1));
  // Remote bases are fetched, as Kustomize does, into the user's cache.
  reconcile::RemoteBaseOptions remote;
  remote.allowAll = true;
  remote.cacheDir = remoteCacheDir();
  if (const char* ca = std::getenv("WINDLASS_REMOTE_CA"); ca != nullptr && *ca != 0) {
    remote.caFile = ca;
  } else if (const char* git = std::getenv("GIT_SSL_CAINFO"); git != nullptr && *git != 0) {
    remote.caFile = git;
  }
  remote.credentials = [](const overlays::RemoteRef&) {
    sources::GitCredentials c;
    if (const char* key = std::getenv("WINDLASS_REMOTE_SSH_KEY")) c.sshKeyFile = key;
    if (const char* hosts = std::getenv("WINDLASS_REMOTE_KNOWN_HOSTS")) {
      c.knownHostsFile = hosts;
    } else if (const char* home = std::getenv("HOME")) {
      std::string file = std::string(home) + "/.ssh/known_hosts";
      if (::access(file.c_str(), R_OK) == 0) c.knownHostsFile = file;
    }
    return c;
  };
  reconcile::RemoteFetcher fetcher(std::move(remote));
  options.remote = fetcher.resolver();
  JsonAllocator alloc;
  auto set = overlays::render(**source, rel, alloc, options);
  if (!set) {
    std::fprintf(stderr, "windlass: render failed: %s\n", set.error().message().c_str());
    return 1;
  }
  std::string out = output == "json" ? overlays::toJson(*set) : overlays::toYaml(*set);
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "windlass: writing the output failed: %s\n", std::strerror(errno));
    return 1;
  }
  return 0;
}

// Options shared by the cluster commands.
struct CommonArgs {
  std::string config = "windlass.yaml";
  std::string env;
  std::string output = "text";
  std::string logFormat;  // run: json | text; empty: json unless stderr is a terminal
  bool dryRun = false, prune = false, allowMassPrune = false, verify = false, exportAll = false;
  std::string revision;
  std::string from, to, actor, since, until;  // promote, rollback, history export
};

int parseCommon(const std::vector<std::string>& args, CommonArgs& out, std::string& error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& into) {
      size_t eq = a.find('=');
      if (eq != std::string::npos) {
        into = a.substr(eq + 1);
        return true;
      }
      if (i + 1 == args.size()) return false;
      into = args[++i];
      return true;
    };
    bool ok = true;
    if (a == "--config" || a.rfind("--config=", 0) == 0)
      ok = value(out.config);
    else if (a == "--env" || a.rfind("--env=", 0) == 0)
      ok = value(out.env);
    else if (a == "--revision" || a.rfind("--revision=", 0) == 0)
      ok = value(out.revision);
    else if (a == "-o" || a == "--output" || a.rfind("--output=", 0) == 0)
      ok = value(out.output);
    else if (a == "--log-format" || a.rfind("--log-format=", 0) == 0)
      ok = value(out.logFormat);
    else if (a == "--dry-run")
      out.dryRun = true;
    else if (a == "--prune")
      out.prune = true;
    else if (a == "--allow-mass-prune")
      out.allowMassPrune = true;
    else if (a == "--from" || a.rfind("--from=", 0) == 0)
      ok = value(out.from);
    else if (a == "--to" || a.rfind("--to=", 0) == 0)
      ok = value(out.to);
    else if (a == "--actor" || a.rfind("--actor=", 0) == 0)
      ok = value(out.actor);
    else if (a == "--since" || a.rfind("--since=", 0) == 0)
      ok = value(out.since);
    else if (a == "--until" || a.rfind("--until=", 0) == 0)
      ok = value(out.until);
    else if (a == "verify")
      out.verify = true;
    else if (a == "export")
      out.exportAll = true;
    else {
      error = "unknown argument " + a;
      return 2;
    }
    if (!ok) {
      error = a + " needs a value";
      return 2;
    }
  }
  return 0;
}

// Loads the config and finds --env; prints the problem and returns false on error.
bool loadFor(const CommonArgs& args, bool needEnv, AgentConfig& config, const Environment** env) {
  auto loaded = loadConfig(args.config);
  if (!loaded) {
    std::fprintf(stderr, "windlass: %s\n", loaded.error().message().c_str());
    return false;
  }
  config = std::move(*loaded);
  if (!needEnv && args.env.empty()) return true;
  if (args.env.empty()) {
    std::fprintf(stderr, "windlass: --env is required\n");
    return false;
  }
  *env = findEnvironment(config, args.env);
  if (*env == nullptr) {
    std::fprintf(stderr, "windlass: %s: no environment named \"%s\"\n", args.config.c_str(),
                 args.env.c_str());
    return false;
  }
  return true;
}

// The token that SIGINT and SIGTERM trip; a second signal kills as usual.
CancelToken gStop;
extern "C" void onStopSignal(int) { gStop.cancel(); }

void cancelOnSignals() {
  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// The reconciler of `config`, or null after printing why there is none.
std::unique_ptr<reconcile::Reconciler> openReconciler(const AgentConfig& config) {
  auto options = reconcilerOptions(config);
  if (!options) {
    std::fprintf(stderr, "windlass: %s\n", options.error().message().c_str());
    return nullptr;
  }
  auto reconciler = reconcile::Reconciler::create(std::move(*options));
  if (!reconciler) {
    std::fprintf(stderr, "windlass: %s\n", reconciler.error().message().c_str());
    return nullptr;
  }
  return std::move(*reconciler);
}

// Who ran the command, for the auditor: the login name.
std::string loginName() {
  const char* user = std::getenv("USER");
  return user != nullptr && *user != '\0' ? user : std::to_string(::getuid());
}

// --actor, else the Git identity, else the login name.
std::string actorOf(const CommonArgs& args) {
  if (!args.actor.empty()) return args.actor;
  if (std::string git = sources::gitUserName(); !git.empty()) return git;
  return loginName();
}

// rollbackOnFailure: what the automatic rollback after `report` did.
void printRollback(const reconcile::SyncReport& report) {
  if (!report.rollback) return;
  const reconcile::SyncReport& back = *report.rollback;
  std::printf("rolled back to %s (held): %s%s%s\n", back.record.revision.commit.c_str(),
              reconcile::reasonName(back.record.reason), back.status.ok() ? "" : ": ",
              back.status.ok() ? "" : back.status.message().c_str());
}

int diffOrSync(const std::vector<std::string>& argv, bool diff) {
  CommonArgs args;
  std::string error;
  if (parseCommon(argv, args, error) != 0) return usageError(error);
  AgentConfig config;
  const Environment* env = nullptr;
  if (!loadFor(args, true, config, &env)) return 2;
  int failed = diff ? 2 : 1;
  auto reconciler = openReconciler(config);
  if (!reconciler) return failed;
  reconcile::SyncRequest req;
  req.planOnly = diff || args.dryRun;
  req.revision = args.revision;
  req.forcePrune = args.prune;
  req.allowMassPrune = args.allowMassPrune;
  req.actor = loginName();
  cancelOnSignals();
  reconcile::SyncReport report = reconciler->sync(environmentSpec(*env), req, gStop);
  std::fputs(report.planText.c_str(), stdout);
  if (!req.planOnly) printRollback(report);
  if (!report.status.ok()) {
    std::fprintf(stderr, "windlass: %s: %s: %s\n", env->name.c_str(),
                 report.recorded ? reconcile::reasonName(report.record.reason) : "failed",
                 report.status.message().c_str());
    return failed;
  }
  if (!req.planOnly) {
    std::printf("sync of %s at %s: %s\n", env->name.c_str(), report.record.revision.commit.c_str(),
                reconcile::reasonName(report.record.reason));
  }
  if (diff) return report.changes ? 1 : 0;
  return 0;
}

// promote --from E1 --to E2 [--revision R] [--actor NAME]
int promoteCmd(const std::vector<std::string>& argv) {
  CommonArgs args;
  std::string error;
  if (parseCommon(argv, args, error) != 0) return usageError(error);
  if (args.from.empty() || args.to.empty()) return usageError("promote needs --from and --to");
  AgentConfig config;
  const Environment* none = nullptr;
  if (!loadFor(args, false, config, &none)) return 2;
  auto reconciler = openReconciler(config);
  if (!reconciler) return 1;
  cancelOnSignals();
  auto done =
      promote(config, *reconciler, {args.from, args.to, args.revision, actorOf(args)}, &gStop);
  if (!done) {
    std::fprintf(stderr, "windlass: promote %s to %s refused: %s\n", args.from.c_str(),
                 args.to.c_str(), done.error().message().c_str());
    return 1;
  }
  std::printf("promoted %s (%s) to %s: %s, %s is now at %s\n", args.from.c_str(),
              done->sourceRevision.c_str(), args.to.c_str(), done->how.c_str(), args.to.c_str(),
              done->targetCommit.c_str());
  return 0;
}

// rollback --env E --to SEQUENCE|COMMIT, and release --env E: a sync that sets or
// lifts the hold, recorded with the actor.
int holdCmd(const std::vector<std::string>& argv, bool rollback) {
  CommonArgs args;
  std::string error;
  if (parseCommon(argv, args, error) != 0) return usageError(error);
  if (rollback && args.to.empty()) return usageError("rollback needs --to SEQUENCE|COMMIT");
  AgentConfig config;
  const Environment* env = nullptr;
  if (!loadFor(args, true, config, &env)) return 2;
  auto reconciler = openReconciler(config);
  if (!reconciler) return 1;
  reconcile::SyncRequest req;
  req.actor = actorOf(args);
  if (rollback) {
    auto read = reconciler->history().read(env->name);
    if (!read) {
      std::fprintf(stderr, "windlass: %s\n", read.error().message().c_str());
      return 1;
    }
    const reconcile::SyncRecord* target = nullptr;
    bool number = args.to.find_first_not_of("0123456789") == std::string::npos;
    for (const reconcile::SyncRecord& r : read->records) {
      bool match = number ? std::to_string(r.sequence) == args.to
                          : args.to.size() >= 4 && r.revision.commit.rfind(args.to, 0) == 0;
      if (match && !r.revision.commit.empty()) target = &r;
    }
    if (target == nullptr) {
      std::fprintf(stderr, "windlass: rollback: %s has no record %s%s\n", env->name.c_str(),
                   number ? "#" : "of commit ", args.to.c_str());
      return 1;
    }
    req.revision = target->revision.commit;
    req.trigger = reconcile::Trigger::kRollback;
    req.hold = reconcile::HoldRecord{
        target->revision.commit, req.actor, reconcile::formatRfc3339Utc(reconciler->clock().now()),
        "rollback to #" + std::to_string(target->sequence) + " by " + req.actor};
  } else {
    auto hold = reconcile::readHold(config.stateDir, env->name);
    if (hold && !*hold) {
      std::fprintf(stderr, "windlass: release: %s is not held\n", env->name.c_str());
      return 1;
    }
    req.releaseHold = true;
    req.trigger = reconcile::Trigger::kRelease;
  }
  cancelOnSignals();
  reconcile::SyncReport report = reconciler->sync(environmentSpec(*env), req, gStop);
  std::fputs(report.planText.c_str(), stdout);
  if (!report.status.ok()) {
    std::fprintf(stderr, "windlass: %s %s: %s\n", rollback ? "rollback" : "release",
                 env->name.c_str(), report.status.message().c_str());
    return 1;
  }
  std::printf("%s %s at %s: %s%s\n", rollback ? "rolled back" : "released", env->name.c_str(),
              report.record.revision.commit.c_str(), reconcile::reasonName(report.record.reason),
              rollback ? " (held; `windlass release` lifts it)" : "");
  return 0;
}

// The agent's status file of `env`, when an agent that is still alive wrote it.
std::optional<JsonDocument> agentStatus(const std::string& stateDir, const std::string& env) {
  std::ifstream in(stateDir + "/status/" + env + ".json");
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  JsonDocument doc;
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("pid") || !doc["pid"].IsInt()) {
    return std::nullopt;
  }
  if (::kill(doc["pid"].GetInt(), 0) != 0 && errno != EPERM) return std::nullopt;
  return doc;
}

std::string field(const JsonValue& o, const char* key) {
  return o.IsObject() && o.HasMember(key) && o[key].IsString() ? o[key].GetString() : "";
}

int status(const std::vector<std::string>& argv) {
  CommonArgs args;
  std::string error;
  if (parseCommon(argv, args, error) != 0) return usageError(error);
  if (args.output != "text" && args.output != "json") return usageError("-o must be json");
  AgentConfig config;
  const Environment* only = nullptr;
  if (!loadFor(args, false, config, &only)) return 2;
  auto reconciler = openReconciler(config);
  if (!reconciler) return 1;
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  auto kv = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartArray();
  int rc = 0;
  bool fetched = false;
  for (const Environment& env : config.environments) {
    if (only != nullptr && only->name != env.name) continue;
    // The history: the last sync and the last drift record.
    reconcile::SyncRecord last;
    bool haveLast = false;
    reconcile::HealthStatus health = reconcile::HealthStatus::kUnknown;
    auto read = reconciler->history().read(env.name);
    if (read) {
      for (const auto& r : read->records) {
        if (r.trigger == reconcile::Trigger::kDrift) continue;
        last = r;
        haveLast = true;
        // A record of an unchanged render keeps the health of the one before.
        if (!r.health.objects.empty() || r.reason != reconcile::Reason::kSucceeded) {
          health = r.health.status;
        }
      }
    }
    // The cluster: what a sync would change now (Git head against the live objects).
    reconcile::SyncRequest req;
    req.planOnly = true;
    req.fetch = !fetched;
    reconcile::SyncReport plan = reconciler->sync(environmentSpec(env), req, gStop);
    fetched = fetched || plan.status.ok();
    std::string sync;
    if (!plan.status.ok()) {
      sync = "unknown: " + plan.status.message();
      rc = 1;
    } else if (!plan.changes) {
      sync = "in sync";
    } else {
      std::string summary = plan.planText;
      if (!summary.empty() && summary.back() == '\n') summary.pop_back();
      summary = summary.substr(summary.rfind('\n') + 1);
      sync = "out of sync: " + summary;
    }
    auto agent = agentStatus(config.stateDir, env.name);
    std::string drift, next = agent ? field(*agent, "nextSync") : "";
    if (agent && (*agent)["drift"].IsArray()) {
      for (const auto& d : (*agent)["drift"].GetArray()) {
        drift += (drift.empty() ? "" : ", ") + std::string(d.GetString());
      }
    }
    bool suspended = env.suspend;
    std::string hold = reconciler->describeHold(environmentSpec(env));
    std::string subject = last.revision.message.substr(0, last.revision.message.find('\n'));
    if (args.output == "json") {
      w.StartObject();
      kv("name", env.name);
      w.Key("revision");
      w.StartObject();
      kv("commit", last.revision.commit);
      kv("branch", last.revision.branch);
      kv("author", last.revision.author);
      kv("subject", subject);
      w.EndObject();
      kv("lastSyncTime", haveLast ? last.time : "");
      kv("lastSyncOutcome", haveLast ? reconcile::reasonName(last.reason) : "");
      kv("lastSyncMessage", haveLast ? last.message : "");
      kv("health", reconcile::healthName(health));
      kv("sync", sync);
      kv("drift", drift);
      w.Key("suspended");
      w.Bool(suspended);
      w.Key("held");
      w.Bool(!hold.empty());
      kv("hold", hold);
      w.Key("agentRunning");
      w.Bool(agent.has_value());
      kv("nextSync", next);
      kv("sourceError", agent ? field(*agent, "sourceError") : "");
      kv("fight", agent ? field(*agent, "fight") : "");
      kv("syncWindow", agent ? field(*agent, "syncWindow") : "");
      w.Key("images");
      w.StartArray();
      if (agent && (*agent)["images"].IsArray()) {
        for (const auto& img : (*agent)["images"].GetArray()) {
          w.StartObject();
          for (const char* k : {"policy", "update", "image", "scanError"}) {
            kv(k,
               img.IsObject() && img.HasMember(k) && img[k].IsString() ? img[k].GetString() : "");
          }
          w.EndObject();
        }
      }
      w.EndArray();
      w.Key("imageHolds");
      w.StartArray();
      if (agent && (*agent)["imageHolds"].IsArray()) {
        for (const auto& h : (*agent)["imageHolds"].GetArray()) {
          if (h.IsString()) w.String(h.GetString());
        }
      }
      w.EndArray();
      kv("imageWriteError", agent ? field(*agent, "imageWriteError") : "");
      w.EndObject();
      continue;
    }
    std::printf("%s\n", env.name.c_str());
    std::printf("  revision:   %s %s (%s) %s\n", last.revision.branch.c_str(),
                last.revision.commit.substr(0, 12).c_str(), last.revision.author.c_str(),
                subject.c_str());
    std::printf(
        "  last sync:  %s %s%s%s\n", haveLast ? last.time.c_str() : "never",
        haveLast ? reconcile::reasonName(last.reason) : "",
        haveLast && last.reason != reconcile::Reason::kSucceeded ? ": " : "",
        haveLast && last.reason != reconcile::Reason::kSucceeded ? last.message.c_str() : "");
    std::printf("  health:     %s\n", reconcile::healthName(health));
    std::printf("  sync:       %s\n", sync.c_str());
    std::printf("  drift:      %s\n", drift.empty() ? "none seen" : drift.c_str());
    std::printf("  suspended:  %s\n", suspended ? "yes" : "no");
    if (!hold.empty()) std::printf("  hold:       %s\n", hold.c_str());
    std::printf(
        "  agent:      %s\n",
        agent ? ("running, next sync " + (next.empty() ? "-" : next)).c_str() : "not running");
    if (agent && !field(*agent, "sourceError").empty()) {
      std::printf("  source:     %s\n", field(*agent, "sourceError").c_str());
    }
    if (agent && !field(*agent, "syncWindow").empty()) {
      std::printf("  window:     %s\n", field(*agent, "syncWindow").c_str());
    }
    if (agent && !field(*agent, "fight").empty()) {
      std::printf("  fight:      %s\n", field(*agent, "fight").c_str());
    }
    if (agent && (*agent)["images"].IsArray()) {
      for (const auto& img : (*agent)["images"].GetArray()) {
        if (!img.IsObject()) continue;
        auto get = [&](const char* k) {
          return img.HasMember(k) && img[k].IsString() ? std::string(img[k].GetString()) : "";
        };
        std::string image = get("image");
        std::printf(
            "  image:      %s (%s): %s%s\n", get("policy").c_str(), get("update").c_str(),
            image.empty() ? "none chosen yet" : image.c_str(),
            get("scanError").empty() ? "" : ("; last scan failed: " + get("scanError")).c_str());
      }
    }
    if (agent && (*agent)["imageHolds"].IsArray()) {
      for (const auto& h : (*agent)["imageHolds"].GetArray()) {
        if (h.IsString()) std::printf("  image hold: %s\n", h.GetString());
      }
    }
    if (agent && !field(*agent, "imageWriteError").empty()) {
      std::printf("  image write-back failed: %s\n", field(*agent, "imageWriteError").c_str());
    }
  }
  w.EndArray();
  if (args.output == "json") std::printf("%s\n", buf.GetString());
  return rc;
}

int images(const std::vector<std::string>& argv) {
  CommonArgs args;
  std::string error;
  if (parseCommon(argv, args, error) != 0) return usageError(error);
  if (args.output != "text" && args.output != "json") return usageError("-o must be json");
  if (!args.env.empty()) return usageError("images takes no --env");
  AgentConfig config;
  const Environment* unused = nullptr;
  if (!loadFor(args, false, config, &unused)) return 2;
  cancelOnSignals();
  std::vector<PolicyScan> scans;
  int rc = 0;
  for (const ImagePolicyConfig& p : config.imagePolicies) {
    sources::RegistryClient client(registryOptions(p, &gStop));
    scans.push_back(scanPolicy(p, client));
    if (!scans.back().status.ok()) {
      std::fprintf(stderr, "windlass: %s\n", scans.back().status.message().c_str());
      rc = 1;
    }
  }
  // What each environment runs: the images of its last recorded sync.
  std::vector<std::pair<std::string, std::vector<std::string>>> running;
  reconcile::HistoryStore store(config.stateDir);
  for (const Environment& env : config.environments) {
    if (env.images.empty()) continue;
    auto read = store.read(env.name);
    if (!read) continue;
    for (auto it = read->records.rbegin(); it != read->records.rend(); ++it) {
      if (it->trigger == reconcile::Trigger::kDrift || it->images.empty()) continue;
      running.emplace_back(env.name, it->images);
      break;
    }
  }
  std::string out = args.output == "json" ? imagesReportJson(config, scans, running)
                                          : imagesReportText(config, scans, running);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return rc;
}

// SIGHUP asks for a reload of the configuration.
CancelToken gReload;
extern "C" void onReloadSignal(int) { gReload.cancel(); }

int runAgent(const std::vector<std::string>& argv) {
  CommonArgs args;
  std::string error;
  if (parseCommon(argv, args, error) != 0) return usageError(error);
  if (!args.env.empty() || !args.revision.empty() || args.dryRun || args.prune ||
      args.allowMassPrune || args.verify || args.output != "text") {
    return usageError("run takes only --config and --log-format");
  }
  const std::string& configPath = args.config;
  const std::string& format = args.logFormat;
  if (!format.empty() && format != "json" && format != "text") {
    return usageError("--log-format must be json or text");
  }
  Log log(format.empty() ? ::isatty(STDERR_FILENO) == 0 : format == "json");
  cancelOnSignals();
  struct sigaction sa {};
  sa.sa_handler = onReloadSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGHUP, &sa, nullptr);
  return runDaemon(configPath, log, gStop, gReload);
}

// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
std::string csvField(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// history export: the records of `envs` in [--since, --until), as JSON Lines or CSV.
int exportHistory(const CommonArgs& args, const reconcile::HistoryStore& store,
                  const std::vector<std::string>& envs) {
  if (args.output != "json" && args.output != "csv") {
    return usageError("history export needs -o json or -o csv");
  }
  auto bound = [](const std::string& text) -> Result<std::optional<SysTime>> {
    if (text.empty()) return std::optional<SysTime>();
    std::string full = text.size() == 10 ? text + "T00:00:00Z" : text;  // a date
    auto t = parseMicroTime(full);
    if (!t)
      return Status::invalidArgument("\"" + text +
                                     "\" is not a date (2026-12-01) or an "
                                     "RFC 3339 UTC time (2026-12-01T08:00:00Z)");
    return std::optional<SysTime>(*t);
  };
  auto since = bound(args.since);
  auto until = bound(args.until);
  if (!since) return usageError("--since: " + since.error().message());
  if (!until) return usageError("--until: " + until.error().message());
  if (args.output == "csv") {
    std::printf(
        "environment,sequence,time,trigger,actor,reason,commit,branch,author,signature,"
        "signer,promotionFrom,promotionRevision,heldAt,health,changed,images,message,"
        "hash\n");
  }
  int status = 0;
  for (const std::string& name : envs) {
    auto read = store.read(name);
    if (!read) {
      std::fprintf(stderr, "windlass: %s\n", read.error().message().c_str());
      return 1;
    }
    for (const reconcile::SyncRecord& r : read->records) {
      auto t = parseMicroTime(r.time);
      if (!t || (*since && *t < **since) || (*until && *t >= **until)) continue;
      if (args.output == "json") {
        std::printf("%s\n", reconcile::serializeRecord(r).c_str());
        continue;
      }
      size_t changed = 0;
      for (const auto& o : r.objects) {
        changed += o.error.empty() && o.action != reconcile::ObjectAction::kUnchanged &&
                   o.action != reconcile::ObjectAction::kPruneSkipped;
      }
      std::string images;
      for (const std::string& i : r.images) images += (images.empty() ? "" : " ") + i;
      std::vector<std::string> row = {r.environment,
                                      std::to_string(r.sequence),
                                      r.time,
                                      reconcile::triggerName(r.trigger),
                                      r.actor,
                                      reconcile::reasonName(r.reason),
                                      r.revision.commit,
                                      r.revision.branch,
                                      r.revision.author,
                                      reconcile::signatureName(r.revision.signature),
                                      r.revision.signer,
                                      r.promotion.from,
                                      r.promotion.revision,
                                      r.hold.revision,
                                      reconcile::healthName(r.health.status),
                                      std::to_string(changed),
                                      images,
                                      r.message,
                                      r.hash};
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) line += (i ? "," : "") + csvField(row[i]);
      std::printf("%s\n", line.c_str());
    }
    for (const reconcile::HistoryBadLine& bad : read->badLines) {
      std::fprintf(stderr, "windlass: warning: %s\n", bad.message.c_str());
      status = 1;
    }
  }
  return status;
}

int history(const std::vector<std::string>& argv) {
  CommonArgs args;
  std::string error;
  if (parseCommon(argv, args, error) != 0) return usageError(error);
  if (!args.exportAll && args.output != "text" && args.output != "json") {
    return usageError("-o must be json");
  }
  AgentConfig config;
  const Environment* env = nullptr;
  if (!loadFor(args, false, config, &env)) return 2;
  reconcile::HistoryStore store(config.stateDir);
  std::vector<std::string> envs;
  if (env != nullptr) {
    envs.push_back(env->name);
  } else {
    for (const Environment& e : config.environments) envs.push_back(e.name);
  }
  if (args.exportAll) return exportHistory(args, store, envs);
  int status = 0;
  for (const std::string& name : envs) {
    if (args.verify) {
      Status st = store.verify(name);
      if (st.ok()) {
        std::printf("%s: history verified\n", name.c_str());
      } else {
        std::printf("%s: %s\n", name.c_str(), st.message().c_str());
        status = 1;
      }
      continue;
    }
    auto read = store.read(name);
    if (!read) {
      std::fprintf(stderr, "windlass: %s\n", read.error().message().c_str());
      return 1;
    }
    for (const reconcile::SyncRecord& r : read->records) {
      if (args.output == "json") {
        std::printf("%s\n", reconcile::serializeRecord(r).c_str());
        continue;
      }
      // Objects the sync changed: created, updated or deleted without an error.
      size_t changed = 0;
      for (const auto& o : r.objects) {
        bool changes = o.action == reconcile::ObjectAction::kCreate ||
                       o.action == reconcile::ObjectAction::kUpdate ||
                       o.action == reconcile::ObjectAction::kDelete;
        if (changes && o.error.empty()) ++changed;
      }
      std::printf("%s  %-8s #%llu %-9s %-12s %.12s %zu changed, health %s: %s\n", r.time.c_str(),
                  r.environment.c_str(), static_cast<unsigned long long>(r.sequence),
                  reconcile::triggerName(r.trigger), reconcile::reasonName(r.reason),
                  r.revision.commit.c_str(), changed, reconcile::healthName(r.health.status),
                  r.message.c_str());
    }
    std::fflush(stdout);
    for (const reconcile::HistoryBadLine& bad : read->badLines) {
      std::fprintf(stderr, "windlass: warning: %s\n", bad.message.c_str());
      status = 1;
    }
  }
  return status;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    std::printf("windlass %s\n", kVersion);
    return 0;
  }
  if (cmd == "render" || cmd == "build") return render(args);
  if (cmd == "diff") return diffOrSync(args, true);
  if (cmd == "sync") return diffOrSync(args, false);
  if (cmd == "history") return history(args);
  if (cmd == "run") return runAgent(args);
  if (cmd == "status") return status(args);
  if (cmd == "images") return images(args);
  if (cmd == "promote") return promoteCmd(args);
  if (cmd == "rollback") return holdCmd(args, true);
  if (cmd == "release") return holdCmd(args, false);
  return usageError("unknown command \"" + cmd + "\"");
}

}  // namespace
}  // namespace windlass::agent

int main(int argc, char** argv) { return windlass::agent::run(argc, argv); }
