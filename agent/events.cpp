#include "agent/events.h"

#include <cstdio>
#include <ctime>

namespace windlass::agent {

namespace {

using SysTime = std::chrono::system_clock::time_point;

constexpr size_t kMaxAggregates = 4096;

// metav1.Time: RFC 3339 in whole seconds, UTC.
std::string formatTime(SysTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

JsonValue str(const std::string& s, JsonAllocator& alloc) { return JsonValue(s.c_str(), alloc); }

}  // namespace

EventRecorder::EventRecorder(reconcile::KubeApi& kube, EventRecorderOptions options)
    : kube_(kube), options_(std::move(options)) {
  thread_ = std::thread([this] { run(); });
}

EventRecorder::~EventRecorder() { shutdown(); }

SysTime EventRecorder::now() const { return options_.clock->now(); }

bool EventRecorder::record(const std::string& env, const std::string& ns, EventType type,
                           const std::string& reason, const std::string& message) {
  SysTime t = now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || queue_.size() >= options_.queueCapacity) {
      ++dropped_;
      return false;
    }
    auto [it, fresh] = buckets_.try_emplace(ns + "/" + env + "/" + reason);
    Bucket& b = it->second;
    if (fresh) {
      b.tokens = static_cast<double>(options_.burst);
    } else if (options_.refill.count() > 0 && t > b.last) {
      double gained = std::chrono::duration<double, std::milli>(t - b.last).count() /
                      static_cast<double>(options_.refill.count());
      b.tokens = std::min(static_cast<double>(options_.burst), b.tokens + gained);
    }
    b.last = t;
    if (b.tokens < 1.0) {
      ++dropped_;
      return false;
    }
    b.tokens -= 1.0;
    queue_.push_back(Item{env, ns, reason, message, type, t});
  }
  cv_.notify_one();
  return true;
}

void EventRecorder::flush() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void EventRecorder::shutdown() {
  std::thread t;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    t = std::move(thread_);
  }
  cv_.notify_all();
  if (t.joinable()) t.join();
}

size_t EventRecorder::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

void EventRecorder::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and everything is written
    Item item = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    write(item);
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
  idle_.notify_all();
}

void EventRecorder::write(const Item& item) {
  const char* type = item.type == EventType::kWarning ? "Warning" : "Normal";
  std::string key = item.ns + "/" + item.env + "/" + type + "/" + item.reason + "/" + item.message;
  std::string secret = "windlass-" + item.env;
  if (aggregates_.size() > kMaxAggregates) {
    // Forget Events too old to be bumped, so the cache stays bounded.
    std::erase_if(aggregates_, [&](const auto& kv) {
      return item.time - kv.second.last > options_.aggregationWindow;
    });
  }
  Aggregate& agg = aggregates_[key];
  if (agg.name.empty() || item.time - agg.last > options_.aggregationWindow) {
    // A new Event, named as client-go names them: "<object>.<hex nanoseconds>".
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(item.time.time_since_epoch());
    char suffix[32];
    std::snprintf(suffix, sizeof(suffix), ".%llx",
                  static_cast<unsigned long long>(ns.count()) + aggregates_.size());
    agg = Aggregate{secret + suffix, 0, formatTime(item.time), item.time};
  }
  ++agg.count;
  agg.last = item.time;

  JsonAllocator alloc;
  JsonValue ev(rapidjson::kObjectType);
  ev.AddMember("apiVersion", "v1", alloc);
  ev.AddMember("kind", "Event", alloc);
  JsonValue md(rapidjson::kObjectType);
  md.AddMember("name", str(agg.name, alloc), alloc);
  md.AddMember("namespace", str(item.ns, alloc), alloc);
  ev.AddMember("metadata", md, alloc);
  JsonValue involved(rapidjson::kObjectType);
  involved.AddMember("apiVersion", "v1", alloc);
  involved.AddMember("kind", "Secret", alloc);
  involved.AddMember("name", str(secret, alloc), alloc);
  involved.AddMember("namespace", str(item.ns, alloc), alloc);
  ev.AddMember("involvedObject", involved, alloc);
  ev.AddMember("reason", str(item.reason, alloc), alloc);
  ev.AddMember("message", str(item.message, alloc), alloc);
  ev.AddMember("type", JsonValue(type, alloc), alloc);
  JsonValue source(rapidjson::kObjectType);
  source.AddMember("component", "windlass", alloc);
  ev.AddMember("source", source, alloc);
  ev.AddMember("reportingComponent", "windlass", alloc);
  ev.AddMember("firstTimestamp", str(agg.firstTimestamp, alloc), alloc);
  ev.AddMember("lastTimestamp", str(formatTime(item.time), alloc), alloc);
  ev.AddMember("count", JsonValue(agg.count), alloc);

  auto written = kube_.apply(ev, alloc);
  if (!written && options_.log) {
    options_.log("Event " + item.ns + "/" + agg.name + ": " + written.error().message());
  }
}

}  // namespace windlass::agent
