#include "agent/notify.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <ctime>
#include <memory>

#include "core/json.h"

namespace windlass::agent {

namespace {

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

std::string formatTime(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

void field(rapidjson::Writer<rapidjson::StringBuffer>& w, const char* key, const std::string& v) {
  w.Key(key);
  w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

bool subscribed(const NotificationTarget& t, const std::string& event) {
  for (const std::string& e : t.events) {
    if (e == event) return true;
  }
  return false;
}

}  // namespace

std::string jsonPayload(const NotificationMessage& n) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  field(w, "event", n.event);
  field(w, "environment", n.environment);
  field(w, "revision", n.revision);
  field(w, "object", n.object);
  field(w, "message", n.message);
  field(w, "time", formatTime(n.time));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string slackPayload(const NotificationMessage& n) {
  std::string text = "[" + n.environment + "] " + n.event + ": " + n.message;
  std::string extra;
  if (!n.revision.empty()) extra += "revision " + n.revision;
  if (!n.object.empty()) extra += (extra.empty() ? "" : ", ") + ("object " + n.object);
  if (!extra.empty()) text += " (" + extra + ")";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  field(w, "text", text);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string redactUrl(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "<invalid url>";
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) rest = rest.substr(at + 1);
  return std::string(url.substr(0, scheme + 3)) + std::string(rest);
}

Result<std::unique_ptr<Notifier>> Notifier::create(NotifierOptions options) {
  for (size_t i = 0; i < options.targets.size(); ++i) {
    const NotificationTarget& t = options.targets[i];
    std::string where = "notification target " + std::to_string(i);
    if (!t.format.empty() && t.format != "json" && t.format != "slack") {
      return Status::invalidArgument(where + ": format \"" + t.format +
                                     "\": want \"json\" or \"slack\"");
    }
    if (t.url.rfind("http://", 0) != 0 && t.url.rfind("https://", 0) != 0) {
      return Status::invalidArgument(where + ": url must start with http:// or https://");
    }
  }
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::unique_ptr<Notifier>(new Notifier(std::move(options)));
}

Notifier::Notifier(NotifierOptions options) : options_(std::move(options)) {
  thread_ = std::thread([this] { run(); });
}

Notifier::~Notifier() { shutdown(); }

void Notifier::log(const std::string& msg) const {
  if (options_.log) options_.log(msg);
}

size_t Notifier::notify(const NotificationMessage& n) {
  size_t queued = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < options_.targets.size(); ++i) {
      const NotificationTarget& t = options_.targets[i];
      if (!subscribed(t, n.event)) continue;
      if (stop_ || queue_.size() >= options_.queueCapacity) {
        ++dropped_;
        log("notification " + n.event + " for " + n.environment + " to " + redactUrl(t.url) +
            ": dropped: the queue is full");
        continue;
      }
      queue_.push_back(Delivery{i, t.format == "slack" ? slackPayload(n) : jsonPayload(n)});
      ++queued;
    }
  }
  if (queued > 0) cv_.notify_one();
  return queued;
}

void Notifier::flush() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void Notifier::shutdown() {
  std::thread t;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    t = std::move(thread_);
  }
  cancel_.cancel();
  cv_.notify_all();
  if (t.joinable()) t.join();
}

size_t Notifier::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

size_t Notifier::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

void Notifier::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) break;
    Delivery d = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    deliver(d);
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
  queue_.clear();
  busy_ = false;
  idle_.notify_all();
}

void Notifier::deliver(const Delivery& d) {
  const NotificationTarget& target = options_.targets[d.target];
  auto backoff = options_.initialBackoff;
  Status last;
  for (int attempt = 1; attempt <= options_.maxAttempts; ++attempt) {
    last = post(target, d.body);
    if (last.ok()) return;
    if (attempt == options_.maxAttempts || !cancel_.waitFor(backoff)) break;
    backoff *= 2;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++failed_;
  }
  log("notification gave up after " + std::to_string(options_.maxAttempts) +
      " tries: " + last.message());
}

Status Notifier::post(const NotificationTarget& target, const std::string& body) {
  EasyHandle easy(curl_easy_init());
  if (!easy) return Status::internal("libcurl: curl_easy_init failed");
  CURL* h = easy.get();
  Slist headers(curl_slist_append(nullptr, "Content-Type: application/json"));
  if (target.format != "slack" && !target.secret.empty()) {
    std::string sig = "X-Windlass-Signature: sha256=" + hmacSha256Hex(target.secret, body);
    headers.reset(curl_slist_append(headers.release(), sig.c_str()));
  }
  char err[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(h, CURLOPT_URL, target.url.c_str());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  CURLcode rc = curl_easy_perform(h);
  std::string where = redactUrl(target.url);
  if (rc != CURLE_OK) {
    // The error buffer can quote the URL; say only the code's text.
    return Status::unavailable(where + ": post failed: " + curl_easy_strerror(rc));
  }
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code >= 300) {
    return Status::unavailable(where + ": post answered HTTP " + std::to_string(code));
  }
  return {};
}

}  // namespace windlass::agent
