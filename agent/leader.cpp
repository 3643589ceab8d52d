#include "agent/leader.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <random>

#include "core/json.h"

namespace windlass::agent {

namespace {

using reconcile::Gvk;
using reconcile::Request;
using reconcile::Response;
using SysTime = std::chrono::system_clock::time_point;

const Gvk kLease{"coordination.k8s.io", "v1", "Lease"};

std::string toJson(const JsonValue& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string memberString(const JsonValue& obj, const char* key) {
  if (!obj.IsObject()) return "";
  auto it = obj.FindMember(key);
  return it != obj.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

int64_t memberInt(const JsonValue& obj, const char* key) {
  if (!obj.IsObject()) return 0;
  auto it = obj.FindMember(key);
  return it != obj.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}

void set(JsonValue& obj, const char* key, JsonValue value, JsonAllocator& alloc) {
  auto it = obj.FindMember(key);
  if (it != obj.MemberEnd()) {
    it->value = value;
  } else {
    obj.AddMember(JsonValue(key, alloc), value, alloc);
  }
}

JsonValue str(const std::string& s, JsonAllocator& alloc) { return JsonValue(s.c_str(), alloc); }

// The Lease record we keep in spec.
struct LeaseSpec {
  std::string holder;
  int64_t durationSeconds = 0;
  std::string acquireTime;
  std::string renewTime;
  int64_t transitions = 0;
};

LeaseSpec readSpec(const JsonValue& lease) {
  LeaseSpec s;
  if (!lease.IsObject()) return s;
  auto it = lease.FindMember("spec");
  if (it == lease.MemberEnd() || !it->value.IsObject()) return s;
  const JsonValue& spec = it->value;
  s.holder = memberString(spec, "holderIdentity");
  s.durationSeconds = memberInt(spec, "leaseDurationSeconds");
  s.acquireTime = memberString(spec, "acquireTime");
  s.renewTime = memberString(spec, "renewTime");
  s.transitions = memberInt(spec, "leaseTransitions");
  return s;
}

void writeSpec(JsonValue& lease, const LeaseSpec& s, JsonAllocator& alloc) {
  JsonValue spec(rapidjson::kObjectType);
  spec.AddMember("holderIdentity", str(s.holder, alloc), alloc);
  spec.AddMember("leaseDurationSeconds", JsonValue(s.durationSeconds), alloc);
  spec.AddMember("acquireTime", str(s.acquireTime, alloc), alloc);
  spec.AddMember("renewTime", str(s.renewTime, alloc), alloc);
  spec.AddMember("leaseTransitions", JsonValue(s.transitions), alloc);
  set(lease, "spec", std::move(spec), alloc);
}

}  // namespace

std::string makeHolderIdentity() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  std::random_device rd;
  uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char rand[17];
  std::snprintf(rand, sizeof(rand), "%016llx", static_cast<unsigned long long>(r));
  return std::string(host) + "_" + std::to_string(::getpid()) + "_" + rand;
}

std::string formatMicroTime(SysTime t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  long frac = static_cast<long>(us % 1000000);
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

Result<SysTime> parseMicroTime(std::string_view text) {
  auto bad = [&] {
    return Status::invalidArgument("time \"" + std::string(text) + "\": not RFC 3339 UTC");
  };
  int y, mo, d, h, mi, s, n = 0;
  std::string t(text);
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 ||
      n != 19) {
    return bad();
  }
  long us = 0;
  size_t i = 19;
  if (i < t.size() && t[i] == '.') {
    long scale = 100000;
    ++i;
    size_t digits = 0;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
      if (scale > 0) us += (t[i] - '0') * scale;
      scale /= 10;
      ++i;
      ++digits;
    }
    if (digits == 0) return bad();
  }
  if (i + 1 != t.size() || t[i] != 'Z') return bad();
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::time_t secs = ::timegm(&tm);
  return SysTime(std::chrono::seconds(secs)) + std::chrono::microseconds(us);
}

LeaderElector::LeaderElector(reconcile::KubeApi& kube, LeaderElectionOptions options,
                             const CancelToken* cancel)
    : kube_(kube), options_(std::move(options)), cancel_(cancel) {
  if (options_.identity.empty()) options_.identity = makeHolderIdentity();
}

LeaderElector::~LeaderElector() { stop(true); }

SysTime LeaderElector::now() const { return options_.clock->now(); }

Result<bool> LeaderElector::tryAcquireOrRenew() {
  auto path = kube_.resourcePath(kLease, options_.leaseNamespace, options_.leaseName);
  if (!path) return path.error();
  const std::string subject =
      "coordination.k8s.io/Lease " + options_.leaseNamespace + "/" + options_.leaseName;
  SysTime t = now();
  std::string stamp = formatMicroTime(t);
  int64_t durationSeconds =
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(
                               options_.leaseDuration + std::chrono::milliseconds(999))
                               .count());

  auto got = kube_.sendBatch(
      {Request{.method = "GET", .path = *path, .subject = subject, .verb = "get"}})[0];
  if (!got) return got.error();
  JsonAllocator alloc;
  if (got->httpStatus == 404) {
    JsonValue lease(rapidjson::kObjectType);
    lease.AddMember("apiVersion", "coordination.k8s.io/v1", alloc);
    lease.AddMember("kind", "Lease", alloc);
    JsonValue md(rapidjson::kObjectType);
    md.AddMember("name", str(options_.leaseName, alloc), alloc);
    md.AddMember("namespace", str(options_.leaseNamespace, alloc), alloc);
    lease.AddMember("metadata", md, alloc);
    writeSpec(lease, LeaseSpec{options_.identity, durationSeconds, stamp, stamp, 0}, alloc);
    auto collection = kube_.resourcePath(kLease, options_.leaseNamespace, "");
    if (!collection) return collection.error();
    auto created = kube_.sendBatch({Request{.method = "POST",
                                            .path = *collection,
                                            .body = toJson(lease),
                                            .contentType = "application/json",
                                            .subject = subject,
                                            .verb = "create"}})[0];
    if (!created) return created.error();
    if (created->httpStatus == 409) return false;  // another candidate created it first
    WINDLASS_RETURN_IF_ERROR(
        reconcile::statusFromHttp(created->httpStatus, created->body, subject, "create"));
    return true;
  }
  WINDLASS_RETURN_IF_ERROR(reconcile::statusFromHttp(got->httpStatus, got->body, subject, "get"));
  auto lease = reconcile::parseJsonBody(got->body, alloc, subject);
  if (!lease) return lease.error();
  LeaseSpec old = readSpec(*lease);

  bool ours = old.holder == options_.identity;
  if (!ours && !old.holder.empty()) {
    auto renewed = parseMicroTime(old.renewTime);
    bool expired =
        !renewed || *renewed + std::chrono::seconds(old.durationSeconds) < t;  // unreadable: stale
    if (!expired) return false;
  }
  LeaseSpec next{options_.identity, durationSeconds, stamp, stamp, old.transitions};
  if (ours) {
    next.acquireTime = old.acquireTime.empty() ? stamp : old.acquireTime;
  } else {
    next.transitions = old.transitions + 1;
  }
  writeSpec(*lease, next, alloc);
  auto put = kube_.sendBatch({Request{.method = "PUT",
                                      .path = *path,
                                      .body = toJson(*lease),
                                      .contentType = "application/json",
                                      .subject = subject,
                                      .verb = "update"}})[0];
  if (!put) return put.error();
  if (put->httpStatus == 409) return false;  // someone else updated it first: read again
  WINDLASS_RETURN_IF_ERROR(
      reconcile::statusFromHttp(put->httpStatus, put->body, subject, "update"));
  return true;
}

Status LeaderElector::release() {
  auto path = kube_.resourcePath(kLease, options_.leaseNamespace, options_.leaseName);
  if (!path) return path.error();
  const std::string subject =
      "coordination.k8s.io/Lease " + options_.leaseNamespace + "/" + options_.leaseName;
  auto got = kube_.sendBatch(
      {Request{.method = "GET", .path = *path, .subject = subject, .verb = "get"}})[0];
  if (!got) return got.error();
  if (got->httpStatus == 404) return {};
  WINDLASS_RETURN_IF_ERROR(reconcile::statusFromHttp(got->httpStatus, got->body, subject, "get"));
  JsonAllocator alloc;
  auto lease = reconcile::parseJsonBody(got->body, alloc, subject);
  if (!lease) return lease.error();
  LeaseSpec spec = readSpec(*lease);
  if (spec.holder != options_.identity) return {};
  std::string stamp = formatMicroTime(now());
  spec.holder.clear();
  spec.durationSeconds = 1;
  spec.renewTime = stamp;
  spec.acquireTime = stamp;
  writeSpec(*lease, spec, alloc);
  auto put = kube_.sendBatch({Request{.method = "PUT",
                                      .path = *path,
                                      .body = toJson(*lease),
                                      .contentType = "application/json",
                                      .subject = subject,
                                      .verb = "release"}})[0];
  if (!put) return put.error();
  return reconcile::statusFromHttp(put->httpStatus, put->body, subject, "release");
}

Status LeaderElector::start(std::function<void()> onStartedLeading,
                            std::function<void()> onStoppedLeading) {
  if (options_.leaseNamespace.empty() || options_.leaseName.empty()) {
    return Status::invalidArgument("leader election: the Lease needs a namespace and a name");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return Status::failedPrecondition("leader election: already started");
  onStarted_ = std::move(onStartedLeading);
  onStopped_ = std::move(onStoppedLeading);
  stop_ = false;
  thread_ = std::thread([this] { run(); });
  return {};
}

void LeaderElector::stop(bool release) {
  std::thread t;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    releaseOnStop_ = release;
    t = std::move(thread_);
  }
  cv_.notify_all();
  if (t.joinable()) t.join();
}

bool LeaderElector::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_ || (cancel_ != nullptr && cancel_->cancelled());
}

bool LeaderElector::sleep(std::chrono::milliseconds d) {
  auto deadline = std::chrono::steady_clock::now() + d;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_ && !(cancel_ != nullptr && cancel_->cancelled())) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return true;
    // Poll the cancel token at least every 50 ms (it cannot notify us).
    cv_.wait_for(
        lock, std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(50)));
  }
  return false;
}

void LeaderElector::run() {
  auto log = [&](const std::string& msg) {
    if (options_.log) options_.log(msg);
  };
  auto lastRenew = std::chrono::steady_clock::now();
  while (!stopping()) {
    auto got = tryAcquireOrRenew();
    if (!got) log("leader election: " + got.error().message());
    bool held = got && *got;
    auto steadyNow = std::chrono::steady_clock::now();
    if (held) {
      lastRenew = steadyNow;
      if (!leader_.exchange(true) && onStarted_) onStarted_();
    } else if (leader_.load() && steadyNow - lastRenew > options_.renewDeadline) {
      log("leader election: coordination.k8s.io/Lease " + options_.leaseNamespace + "/" +
          options_.leaseName + ": not renewed within the renew deadline: stopped leading");
      leader_.store(false);
      if (onStopped_) onStopped_();
    } else if (leader_.load() && got && !*got) {
      // Someone else holds a valid Lease: we lost it.
      leader_.store(false);
      if (onStopped_) onStopped_();
    }
    if (!sleep(options_.retryPeriod)) break;
  }
  if (leader_.load()) {
    bool release;
    {
      std::lock_guard<std::mutex> lock(mu_);
      release = releaseOnStop_;
    }
    if (release) {
      Status st = this->release();
      if (!st.ok()) log("leader election: release failed: " + st.message());
    }
    leader_.store(false);
    if (onStopped_) onStopped_();
  }
}

}  // namespace windlass::agent
