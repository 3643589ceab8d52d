// Notifications: POSTs a small JSON document about what happened in an environment to
// webhook URLs (a chat channel, an incident tool), over libcurl.
//
// Formats:
//   json:  {"event":"sync-failed","environment":"prod","revision":"main@sha1:…",
//           "object":"apps/Deployment prod/web","message":"…","time":"2026-…Z"}
//          with `X-Windlass-Signature: sha256=<hex HMAC-SHA256(secret, body)>` when the
//          target has a secret, so the receiver can check who sent it.
//   slack: {"text":"[prod] sync-failed: … (revision …, object …)"}, what Slack's incoming
//          webhooks (and Mattermost, Rocket.Chat) accept.
//
// notify() never blocks on the network: it queues, and one worker thread delivers, in order,
// retrying a failed delivery (transport error or a non-2xx answer) with exponential backoff
// (initialBackoff, doubling, maxAttempts tries in all). A full queue drops the notification
// and says so through the log callback. Secrets (the HMAC key, tokens in URLs) never appear
// in a payload or a log message: logs name a target by its scheme, host and port only.
//
// Thread safety: every member function is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/webhook.h"  // hmacSha256Hex
#include "core/cancel.h"
#include "core/status.h"

namespace windlass::agent {

// Event names a target can subscribe to.
inline constexpr char kNotifySyncFailed[] = "sync-failed";
inline constexpr char kNotifySyncSucceeded[] = "sync-succeeded";
inline constexpr char kNotifyHealthDegraded[] = "health-degraded";
inline constexpr char kNotifyDrift[] = "drift";
inline constexpr char kNotifyFight[] = "fight";
inline constexpr char kNotifyPruneRefused[] = "prune-refused";

struct NotificationTarget {
  std::string url;                  // http:// or https://
  std::vector<std::string> events;  // subscribed event names; empty: none
  std::string format;               // "json" (also when empty) or "slack"
  std::string secret;               // HMAC-SHA256 key for json; empty: no signature
};

struct NotificationMessage {
  std::string event;  // one of the kNotify* names
  std::string environment;
  std::string revision;
  std::string object;  // "apps/Deployment prod/web", or empty
  std::string message;
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
};

struct NotifierOptions {
  std::vector<NotificationTarget> targets;
  size_t queueCapacity = 100;                      // pending deliveries; more are dropped
  int maxAttempts = 5;                             // tries per delivery, the first included
  std::chrono::milliseconds initialBackoff{1000};  // then 2x, 4x, …
  std::chrono::milliseconds timeout{10000};        // per HTTP request
  // Warnings (drops, failed deliveries). Never given a secret. Default: nothing.
  std::function<void(const std::string&)> log;
};

// The bodies, for tests and for the worker. Pure; thread-safe.
std::string jsonPayload(const NotificationMessage& n);
std::string slackPayload(const NotificationMessage& n);
// "https://hooks.example.com:443": what a log line may say about `url` (no path, query or
// user info, which may hold tokens).
std::string redactUrl(std::string_view url);

class Notifier {
 public:
  // Starts the worker thread. InvalidArgument (naming the target's index) when a target's
  // format is not json or slack, or its URL is not http(s).
  static Result<std::unique_ptr<Notifier>> create(NotifierOptions options);
  // Calls shutdown().
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Queues `n` for every target subscribed to n.event. Returns how many deliveries were
  // queued (0 when none subscribes or all were dropped). Never blocks on the network.
  size_t notify(const NotificationMessage& n);

  // Blocks until every queued delivery is done (delivered or given up).
  void flush();
  // Stops taking notifications, abandons the backoff waits and the queue, joins the worker.
  void shutdown();

  // Deliveries dropped because the queue was full, and given up after maxAttempts.
  size_t dropped() const;
  size_t failed() const;

 private:
  struct Delivery {
    size_t target;
    std::string body;
  };
  explicit Notifier(NotifierOptions options);
  void run();
  void deliver(const Delivery& d);
  Status post(const NotificationTarget& target, const std::string& body);
  void log(const std::string& msg) const;

  NotifierOptions options_;
  CancelToken cancel_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_;
  std::deque<Delivery> queue_;
  bool busy_ = false;
  bool stop_ = false;
  size_t dropped_ = 0;
  size_t failed_ = 0;
  std::thread thread_;
};

}  // namespace windlass::agent
