// The agent's configuration: `windlass.yaml` (see DESIGN.md, "Command line").
//
//   apiVersion: windlass.dev/v1alpha1
//   kind: Agent
//   repository:
//     url: https://git.example.com/platform/manifests.git
//     credentials: {tokenFile: /etc/windlass/git-token}
//     interval: 1m
//   cluster: {kubeconfig: ~/.kube/config, context: prod-eu}   # omitted: in-cluster
//   stateDir: /var/lib/windlass
//   environments:
//   - name: prod
//     branch: env/prod
//     path: overlays/prod
//     syncWindows: [{kind: deny, schedule: "0 22 * * 5", duration: 60h, timeZone: Europe/Berlin}]
//
// parseConfig() reads the whole file, validates every field before anything
// runs and reports every problem it finds, one line each, in the form
//   windlass.yaml: environments[1].name: "Prod" is not a valid name (lowercase letters, ...)
// (file, field path, what is wrong). Unknown fields are errors, so a misspelt
// field never silently falls back to its default. Null counts as absent.
//
// Thread safety: all functions are reentrant; AgentConfig is a plain value.
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sources/image_policy.h"
#include "sources/signature.h"

namespace windlass::agent {

using Duration = std::chrono::nanoseconds;

// Parses a Go duration (time.ParseDuration): an optional sign, then one or more
// decimal numbers, each with an optional fraction and a unit of h, m, s, ms, us
// (or µs) or ns: "30s", "1m", "1h30m", "60h", "1.5h", "-2m", and "0". On failure
// returns InvalidArgument `invalid duration "TEXT": WHY`. The range is that of
// int64 nanoseconds (about 292 years).
[[nodiscard]] Result<Duration> parseDuration(std::string_view text);

// Prints a duration as Go's Duration.String() does ("1h30m0s", "1m0s", "30s",
// "1.5s", "500ms", "0s"), except that microseconds are "us". parseDuration
// reads the result back to the same value.
std::string formatDuration(Duration duration);

// A parsed 5-field cron schedule: minute hour day-of-month month day-of-week.
// Each field is `*`, a number, a range a-b, a step (*/n, a-b/n, a/n = a-max/n)
// or a comma list of those; months also JAN-DEC and days SUN-SAT (any case);
// day-of-week 7 is Sunday; `?` is `*` in the two day fields. The descriptors
// @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly are
// accepted. Day matching follows cron: when both day fields are restricted
// (neither starts with `*` or `?`), a day matches if either matches.
struct CronSchedule {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> daysOfMonth;  // bits 1-31
  std::bitset<13> months;       // bits 1-12
  std::bitset<7> daysOfWeek;    // bit 0 = Sunday
  bool daysOfMonthRestricted = false;
  bool daysOfWeekRestricted = false;

  // True when the schedule fires at that minute (local to the window's time
  // zone; day-of-week 0 = Sunday, month 1-12, day 1-31).
  bool matches(int minute, int hour, int dayOfMonth, int month, int dayOfWeek) const;

  bool operator==(const CronSchedule&) const = default;
};

// Parses `text` as above. On failure returns InvalidArgument
// `invalid schedule "TEXT": WHY`, WHY naming the field, e.g. "hour: 25 is out
// of range 0-23".
[[nodiscard]] Result<CronSchedule> parseCron(std::string_view text);

// How the repository URL is reached.
enum class UrlScheme {
  kHttps,  // https://host/path
  kHttp,   // http://host/path (no credentials allowed: they would travel in clear text)
  kSsh,    // ssh://[user@]host[:port]/path or scp-like user@host:path
  kGit,    // git://host/path (anonymous, read-only)
  kFile,   // file:///path
  kLocal,  // a path on this machine
};

// Credentials for the repository. Empty string = not set. At most one method:
// a token (tokenFile or tokenEnv), a username and password (each from a file or
// an environment variable), or an SSH key (sshKeyFile, which requires
// knownHostsFile: host keys are always verified). Tokens and passwords need an
// https:// URL, SSH keys an SSH URL. caFile (PEM bundle) needs https://. Files
// are read when used, never by the parser; values never appear in messages.
struct Credentials {
  std::string tokenFile;
  std::string tokenEnv;
  std::string usernameFile;
  std::string usernameEnv;
  std::string passwordFile;
  std::string passwordEnv;
  std::string sshKeyFile;
  std::string knownHostsFile;
  std::string caFile;

  bool operator==(const Credentials&) const = default;
};

struct Repository {
  // `repositories[].name` (a DNS label, unique); "default" for the single
  // `repository:` form.
  std::string name = "default";
  std::string url;  // required
  UrlScheme scheme = UrlScheme::kHttps;
  Credentials credentials;                      // default: anonymous
  Duration interval = std::chrono::minutes(1);  // poll interval; default 1m, must be > 0
  // Every fetch and push: the longest silence from the server and the longest
  // whole call (connecting: at most 30s of it). Default 60s, as Flux's timeout.
  Duration timeout = std::chrono::seconds(60);
  // `verify: {ssh: {allowedSignersFile: F}, openpgp: {keyringFile: F}}` (at least
  // one): only commits signed by a trusted key are applied. Default: off.
  sources::VerifyConfig verify;

  bool operator==(const Repository&) const = default;
};

struct Cluster {
  // Empty: the in-cluster service account. Otherwise the kubeconfig path with a
  // leading "~" expanded to the home folder.
  std::string kubeconfig;
  std::string context;  // empty: the kubeconfig's current-context; needs kubeconfig

  bool inCluster() const { return kubeconfig.empty(); }
  bool operator==(const Cluster&) const = default;
};

// Which revision an environment deploys. kSemver: the newest tag whose version matches
// the range in Environment::revision (sources/semver.h syntax, e.g. ">=1.0.0 <2.0.0").
enum class RevisionKind { kBranch, kTag, kCommit, kSemver };

struct SyncWindow {
  enum class Kind { kAllow, kDeny };
  Kind kind = Kind::kAllow;      // required: allow | deny
  std::string schedule;          // required: the cron text as written
  CronSchedule cron;             // `schedule`, parsed
  Duration duration{};           // required, > 0: how long the window stays open
  std::string timeZone = "UTC";  // IANA name; default UTC

  bool operator==(const SyncWindow&) const = default;
};

// --- image automation (issue 9) -------------------------------------------
// `imagePolicies[]`: a registry repository polled for tags, and the rule that
// picks one (field names as Flux's ImagePolicy):
//   - name: web                                  # required: DNS label, unique
//     image: harbor.example.com/shop/web         # required: repository, no tag
//     interval: 1m                               # default 1m, > 0
//     credentials: {usernameFile: F, passwordFile: F}   # or {dockerConfigFile: F}
//     caFile: F                                  # PEM bundle for the registry's TLS
//     insecure: false                            # true: plain HTTP
//     policy: {semver: {range: ">=1.0.0"}}       # or alphabetical/numerical: {order: asc|desc}
//     filterTags: {pattern: '^main-(?P<ts>[0-9]+)$', extract: '$ts'}
//     digest: false                              # true: pin the chosen tag's digest
// Credential files are read when used; their values never appear in messages.
struct ImagePolicyCredentials {
  std::string usernameFile;
  std::string passwordFile;
  std::string dockerConfigFile;  // a Docker config.json; its entry for the image's host

  bool operator==(const ImagePolicyCredentials&) const = default;
};

struct ImagePolicyConfig {
  std::string name;
  std::string image;                            // as written, checked by parseImageRepository
  Duration interval = std::chrono::minutes(1);  // scan interval
  ImagePolicyCredentials credentials;           // default: anonymous
  std::string caFile;                           // default: the system's CAs
  bool insecure = false;
  sources::TagPolicySpec policy;  // required: exactly one of semver, alphabetical, numerical
  bool digest = false;

  bool operator==(const ImagePolicyConfig& o) const {
    return name == o.name && image == o.image && interval == o.interval &&
           credentials == o.credentials && caFile == o.caFile && insecure == o.insecure &&
           policy.kind == o.policy.kind && policy.range == o.policy.range &&
           policy.order == o.policy.order && policy.pattern == o.policy.pattern &&
           policy.extract == o.policy.extract && digest == o.digest;
  }
};

// How an environment takes a policy's choice: kRender replaces the image at
// render time (no Git write); kGit commits to the environment's branch, on the
// lines marked with setter comments.
enum class ImageUpdateMode { kRender, kGit };

struct EnvironmentImage {
  std::string policy;  // required: names an imagePolicies[] entry
  ImageUpdateMode update = ImageUpdateMode::kRender;

  bool operator==(const EnvironmentImage&) const = default;
};

const char* imageUpdateModeName(ImageUpdateMode mode);  // "render" | "git"

// `imageCommit`: the commits image automation writes (update: git). The message
// template may use {{branch}} and {{changes}} (one line per policy:
// "- web: ghcr.io/acme/web:1.4.2").
struct ImageCommit {
  std::string authorName = "windlass";
  std::string authorEmail = "windlass@localhost";
  std::string messageTemplate = "Update images on {{branch}}\n\n{{changes}}";

  bool operator==(const ImageCommit&) const = default;
};

// The policy called `name`, or nullptr. The pointer borrows its argument.
struct AgentConfig;
const ImagePolicyConfig* findImagePolicy(const AgentConfig& config, std::string_view name);

struct Environment {
  std::string name;  // required: DNS label, unique
  // At most one of branch, tag, commit, semver; default the branch "main".
  RevisionKind revisionKind = RevisionKind::kBranch;
  // The branch or tag name, the full commit id, or the semver range as written (checked
  // by sources::parseRange when parsed).
  std::string revision = "main";
  std::string repository = "default";  // the repository's name; may be omitted when there is one
  std::string path = ".";              // folder in the repository; default its root
  std::string targetNamespace;         // `namespace`: empty = as rendered; created
                                       // when missing
  bool prune = true;                   // delete objects removed from Git
  bool selfHeal = true;                // revert changes made in the cluster
  // Delete and recreate objects whose change the server refuses as immutable
  // (also per object: annotation windlass.dev/force: enabled). Default false.
  bool force = false;
  // Every request of this environment's syncs and repairs impersonates this
  // ServiceAccount of `namespace` (which it then requires), so a team grants
  // each environment only what it needs. Empty: the agent's own identity.
  std::string serviceAccountName;
  // No automatic sync and no self-heal while true (drift is still reported); a
  // manual `windlass sync` still runs. Default false.
  bool suspend = false;
  // The agent plans a full sync this often even when nothing was seen to change,
  // catching anything a watch missed. Default 10m, must be > 0.
  Duration resyncInterval = std::chrono::minutes(10);
  Duration healthTimeout = std::chrono::minutes(5);  // wait for health after apply
  // Largest share of the inventory one sync may prune without
  // --allow-mass-prune, in [0, 1]; default 0.5 (half). 0 = every prune needs it.
  double maxPruneShare = 0.5;
  Duration interval{};                  // default: its repository's interval
  std::vector<SyncWindow> syncWindows;  // default: always allowed
  // `images: [{policy: web, update: render|git}]`: the image policies this
  // environment follows and how (see EnvironmentImage). Default none.
  std::vector<EnvironmentImage> images;
  // `follows: prod`: deploy the commit that environment last synced Healthy, rendered
  // from this environment's own path (a DR standby). Excludes branch/tag/commit/semver;
  // the repository is the followed environment's. Empty: follow its own revision.
  std::string follows;
  // A sync whose health ends Degraded or times out re-applies the last Healthy
  // revision and holds the environment there. Default false.
  bool rollbackOnFailure = false;
  // `promotion: {from: staging, soak: 30m, auto: false}`: where releases come from,
  // how long the source must have run the revision Healthy, and whether the agent
  // promotes by itself when the gates pass. Empty `from`: no promotion settings.
  struct Promotion {
    std::string from;
    Duration soak{};
    bool automatic = false;  // `auto`

    bool operator==(const Promotion&) const = default;
  } promotion;
  // `verify:` as on a repository; when set it replaces the repository's for this
  // environment (it cannot turn verification off). Resolved by the parser: the
  // repository's when not set here, so this is the check the environment needs.
  sources::VerifyConfig verify;
  // `remoteBases: {allow: [github.com, git.example.com:8443]}`: the hosts remote
  // bases and files in `resources:` may come from (a host, or host:port). Empty
  // (the default): remote references are refused, naming the host. Credentials of
  // a configured repository on the same host are used for them.
  std::vector<std::string> remoteBasesAllow;

  bool operator==(const Environment&) const = default;
};

// `server.webhooks`: how push notifications are checked.
struct Webhooks {
  // The shared secret (HMAC key, or GitLab's token), read when a hook arrives,
  // never by the parser. Empty: every hook is refused (401).
  std::string secretFile;

  bool operator==(const Webhooks&) const = default;
};

// `server`: the agent's HTTP endpoint (health, metrics, API, webhooks).
struct Server {
  // host:port to listen on: an IPv4 address, a host name or [IPv6]; port
  // 0-65535 (0: any free port). Default "127.0.0.1:9797" (loopback only).
  std::string address = "127.0.0.1:9797";
  // The bearer token of POST /api/v1/.../sync, read when used. Empty: the
  // write API is refused (401).
  std::string tokenFile;
  Webhooks webhooks;

  bool operator==(const Server&) const = default;
};

// `leaderElection`: with several replicas, only the holder of this Lease syncs.
struct LeaderElection {
  std::string leaseNamespace;  // `namespace`, required: a DNS label
  std::string name;            // required: a DNS label

  bool operator==(const LeaderElection&) const = default;
};

// What a notification is sent for. Spelled as in the config: sync-failed,
// sync-succeeded, health-degraded, drift, fight, prune-refused.
enum class NotificationEvent {
  kSyncFailed,
  kSyncSucceeded,
  kHealthDegraded,
  kDrift,
  kFight,
  kPruneRefused,
};

enum class NotificationFormat { kJson, kSlack };

// `notifications[]`: an HTTP POST to `url` for each listed event.
struct Notification {
  // Required. https://, or http:// to 127.0.0.1 or localhost only (anything
  // else would send deployment details in clear text).
  std::string url;
  std::vector<NotificationEvent> events;                  // required, at least one, no repeats
  NotificationFormat format = NotificationFormat::kJson;  // json (default) | slack
  // Optional: the key of an HMAC-SHA256 signature of the body, read when used.
  std::string secretFile;

  bool operator==(const Notification&) const = default;
};

struct AgentConfig {
  // `repository:` (one, named "default") or `repositories:` (each named);
  // never empty after a successful parse.
  std::vector<Repository> repositories;
  Cluster cluster;
  std::string stateDir = "/var/lib/windlass";    // Git mirrors and the history
  std::vector<Environment> environments;         // at least one
  Server server;                                 // default: 127.0.0.1:9797, no token, no secret
  std::optional<LeaderElection> leaderElection;  // absent: no election, this replica leads
  std::vector<Notification> notifications;       // default: none
  std::vector<ImagePolicyConfig> imagePolicies;  // default: none
  ImageCommit imageCommit;                       // default: as above

  bool operator==(const AgentConfig&) const = default;
};

struct ConfigOptions {
  // Check that credential files, the kubeconfig and time zones exist. Off in
  // tests that parse without those files. Default on.
  bool checkFiles = true;
  // Check that the environment variables named by *Env fields are set. Default on.
  bool checkEnvironment = true;
  // Relative paths (credential files, kubeconfig, stateDir, a local repository)
  // are resolved against this folder. Default empty: kept as written.
  std::string baseDir;
  // The folder "~" stands for. Default empty: $HOME.
  std::string home;
  // Where time zones are looked up when checkFiles is on.
  std::string zoneinfoDir = "/usr/share/zoneinfo";
};

// Parses and validates the text of a config file. `fileName` names it in every
// message. On success returns the config with every default filled in and
// every environment's interval resolved. On failure returns InvalidArgument
// whose message lists every problem, one per line, in document order; a YAML
// syntax error is reported alone as "FILE:LINE:COL: message". Never throws.
[[nodiscard]] Result<AgentConfig> parseConfig(std::string_view text, std::string_view fileName,
                                              const ConfigOptions& options = {});

// Reads `path` and parses it as above; a relative path in the file is resolved
// against the file's folder unless options.baseDir is set. A file that cannot
// be read is NotFound (or FailedPrecondition) naming the path.
[[nodiscard]] Result<AgentConfig> loadConfig(const std::string& path, ConfigOptions options = {});

// Prints `config` as windlass.yaml text that parseConfig reads back to an equal
// value (every default spelled out). Never fails.
std::string formatConfig(const AgentConfig& config);

// The environment called `name`, or nullptr. The pointer borrows `config`.
const Environment* findEnvironment(const AgentConfig& config, std::string_view name);

// The repository called `name`, or nullptr. The pointer borrows `config`.
const Repository* findRepository(const AgentConfig& config, std::string_view name);

// "https", "http", "ssh", "git", "file", "local"; "branch", "tag", "commit", "semver";
// "allow", "deny". Never null.
const char* schemeName(UrlScheme scheme);
const char* revisionKindName(RevisionKind kind);
const char* windowKindName(SyncWindow::Kind kind);
// "sync-failed", ..., "prune-refused"; "json", "slack". Never null.
const char* notificationEventName(NotificationEvent event);
const char* notificationFormatName(NotificationFormat format);

// A listen address split into host and port.
struct ListenAddress {
  std::string host;  // "127.0.0.1", "0.0.0.0", "localhost", "::1" (no brackets)
  uint16_t port = 0;

  bool operator==(const ListenAddress&) const = default;
};

// Splits "host:port" (or "[v6]:port"). On failure returns InvalidArgument
// `"TEXT" is not host:port (WHY)`, e.g. `"localhost" is not host:port (missing ":port")`.
[[nodiscard]] Result<ListenAddress> parseListenAddress(std::string_view text);

}  // namespace windlass::agent
