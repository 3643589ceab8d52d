#include "agent/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>

namespace windlass::agent {

std::string formatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {  // integers in full, not 1.7e+09
    std::snprintf(buf, sizeof buf, "%.0f", value);
    return buf;
  }
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

namespace {

bool validName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string escapeLabelValue(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escapeHelp(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// `{a="x",b="y"}` (with `extra` appended as one more pair), or "" with no pairs.
std::string labelText(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extraName = {}, std::string_view extraValue = {}) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i] + "=\"" + escapeLabelValue(values[i]) + "\"";
  }
  if (!extraName.empty()) {
    out += out.empty() ? "{" : ",";
    out += std::string(extraName) + "=\"" + std::string(extraValue) + "\"";
  }
  if (!out.empty()) out += "}";
  return out;
}

const char* typeText(MetricsRegistry::Type type) {
  switch (type) {
    case MetricsRegistry::Type::kCounter:
      return "counter";
    case MetricsRegistry::Type::kGauge:
      return "gauge";
    case MetricsRegistry::Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

struct MetricsRegistry::FamilyData {
  Type type;
  std::string name;
  std::string help;
  std::vector<std::string> labelNames;
  std::vector<double> buckets;
  struct Series {
    double value = 0;                    // counter, gauge
    std::vector<uint64_t> bucketCounts;  // histogram: per bucket, not cumulative
    double sum = 0;
    uint64_t count = 0;
  };
  std::map<std::vector<std::string>, Series> series;

  Series* find(const std::vector<std::string>& values) {
    if (values.size() != labelNames.size()) return nullptr;
    auto [it, inserted] = series.try_emplace(values);
    if (inserted && type == Type::kHistogram) it->second.bucketCounts.assign(buckets.size(), 0);
    return &it->second;
  }
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family MetricsRegistry::declare(Type type, std::string name, std::string help,
                                                 std::vector<std::string> labelNames,
                                                 std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  if (!validName(name)) return {};
  for (const auto& f : families_) {
    if (f->name == name) return {};
  }
  for (const std::string& l : labelNames) {
    if (!validName(l) || l == "le") return {};
  }
  for (size_t i = 1; i < buckets.size(); ++i) {
    if (!(buckets[i - 1] < buckets[i])) return {};
  }
  if (!buckets.empty() && std::isinf(buckets.back())) buckets.pop_back();
  auto f = std::make_unique<FamilyData>();
  f->type = type;
  f->name = std::move(name);
  f->help = std::move(help);
  f->labelNames = std::move(labelNames);
  f->buckets = std::move(buckets);
  if (f->labelNames.empty()) f->find({});
  families_.push_back(std::move(f));
  return Family{static_cast<int>(families_.size() - 1)};
}

MetricsRegistry::Family MetricsRegistry::counter(std::string name, std::string help,
                                                 std::vector<std::string> labelNames) {
  return declare(Type::kCounter, std::move(name), std::move(help), std::move(labelNames), {});
}

MetricsRegistry::Family MetricsRegistry::gauge(std::string name, std::string help,
                                               std::vector<std::string> labelNames) {
  return declare(Type::kGauge, std::move(name), std::move(help), std::move(labelNames), {});
}

MetricsRegistry::Family MetricsRegistry::histogram(std::string name, std::string help,
                                                   std::vector<std::string> labelNames,
                                                   std::vector<double> buckets) {
  return declare(Type::kHistogram, std::move(name), std::move(help), std::move(labelNames),
                 std::move(buckets));
}

void MetricsRegistry::add(Family family, const std::vector<std::string>& labelValues, double by) {
  std::lock_guard lock(mu_);
  if (family.index < 0 || family.index >= static_cast<int>(families_.size())) return;
  FamilyData& f = *families_[family.index];
  if (f.type == Type::kHistogram || (f.type == Type::kCounter && !(by >= 0))) return;
  if (auto* s = f.find(labelValues)) s->value += by;
}

void MetricsRegistry::set(Family family, const std::vector<std::string>& labelValues,
                          double value) {
  std::lock_guard lock(mu_);
  if (family.index < 0 || family.index >= static_cast<int>(families_.size())) return;
  FamilyData& f = *families_[family.index];
  if (f.type != Type::kGauge) return;
  if (auto* s = f.find(labelValues)) s->value = value;
}

void MetricsRegistry::observe(Family family, const std::vector<std::string>& labelValues,
                              double value) {
  std::lock_guard lock(mu_);
  if (family.index < 0 || family.index >= static_cast<int>(families_.size())) return;
  FamilyData& f = *families_[family.index];
  if (f.type != Type::kHistogram) return;
  auto* s = f.find(labelValues);
  if (s == nullptr) return;
  for (size_t i = 0; i < f.buckets.size(); ++i) {
    if (value <= f.buckets[i]) {
      ++s->bucketCounts[i];
      break;
    }
  }
  s->sum += value;
  ++s->count;
}

void MetricsRegistry::removeSeries(Family family, std::string_view firstLabelValue) {
  std::lock_guard lock(mu_);
  if (family.index < 0 || family.index >= static_cast<int>(families_.size())) return;
  FamilyData& f = *families_[family.index];
  if (f.labelNames.empty()) return;
  std::erase_if(f.series, [&](const auto& s) { return s.first[0] == firstLabelValue; });
}

double MetricsRegistry::value(Family family, const std::vector<std::string>& labelValues) const {
  std::lock_guard lock(mu_);
  if (family.index < 0 || family.index >= static_cast<int>(families_.size())) return 0;
  const FamilyData& f = *families_[family.index];
  auto it = f.series.find(labelValues);
  return it == f.series.end() ? 0 : it->second.value;
}

std::string MetricsRegistry::expose() const {
  std::lock_guard lock(mu_);
  std::map<std::string_view, const FamilyData*> sorted;
  for (const auto& f : families_) sorted[f->name] = f.get();
  std::string out;
  for (const auto& [name, f] : sorted) {
    out += "# HELP " + f->name + " " + escapeHelp(f->help) + "\n";
    out += "# TYPE " + f->name + " " + typeText(f->type) + "\n";
    for (const auto& [values, s] : f->series) {
      if (f->type != Type::kHistogram) {
        out += f->name + labelText(f->labelNames, values) + " " + formatMetricValue(s.value) + "\n";
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f->buckets.size(); ++i) {
        cumulative += s.bucketCounts[i];
        out += f->name + "_bucket" +
               labelText(f->labelNames, values, "le", formatMetricValue(f->buckets[i])) + " " +
               std::to_string(cumulative) + "\n";
      }
      out += f->name + "_bucket" + labelText(f->labelNames, values, "le", "+Inf") + " " +
             std::to_string(s.count) + "\n";
      out += f->name + "_sum" + labelText(f->labelNames, values) + " " + formatMetricValue(s.sum) +
             "\n";
      out += f->name + "_count" + labelText(f->labelNames, values) + " " + std::to_string(s.count) +
             "\n";
    }
  }
  return out;
}

// ---- process ----------------------------------------------------------------------

ProcessStats readProcessStats() {
  ProcessStats stats;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  std::ifstream statFile("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(statFile)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
  size_t close = stat.rfind(')');
  if (close != std::string::npos && ticks > 0) {
    std::istringstream in(stat.substr(close + 1));
    std::vector<std::string> fields;  // fields[0] is field 3 (state)
    for (std::string f; in >> f;) fields.push_back(f);
    auto field = [&](size_t n) -> double {  // n: 1-based field number of proc(5)
      if (n < 3 || n - 3 >= fields.size()) return 0;
      return std::strtod(fields[n - 3].c_str(), nullptr);
    };
    stats.cpuSeconds = (field(14) + field(15)) / ticks;
    stats.residentBytes = field(24) * page;
    double startTicks = field(22);
    std::ifstream procStat("/proc/stat");
    for (std::string line; std::getline(procStat, line);) {
      if (line.rfind("btime ", 0) == 0) {
        stats.startTimeSeconds = std::strtod(line.c_str() + 6, nullptr) + startTicks / ticks;
        break;
      }
    }
  }
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    int count = 0;
    while (struct dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') ++count;
    }
    ::closedir(dir);
    stats.openFds = count - 1;  // not the descriptor of the listing itself
  }
  return stats;
}

std::string formatProcessMetrics(const ProcessStats& stats) {
  std::string out;
  auto one = [&](const char* name, const char* type, const char* help, double value) {
    out += std::string("# HELP ") + name + " " + help + "\n";
    out += std::string("# TYPE ") + name + " " + type + "\n";
    out += std::string(name) + " " + formatMetricValue(value) + "\n";
  };
  one("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
      stats.cpuSeconds);
  one("process_open_fds", "gauge", "Number of open file descriptors.", stats.openFds);
  one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
      stats.residentBytes);
  one("process_start_time_seconds", "gauge",
      "Start time of the process since unix epoch in seconds.", stats.startTimeSeconds);
  return out;
}

// ---- windlass families -------------------------------------------------------------

const std::vector<double>& Metrics::syncDurationBuckets() {
  static const std::vector<double> kBuckets = {0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};
  return kBuckets;
}

const std::vector<double>& Metrics::gitFetchDurationBuckets() {
  static const std::vector<double> kBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
  return kBuckets;
}

Metrics::Metrics(bool withProcessMetrics) : withProcessMetrics_(withProcessMetrics) {
  MetricsRegistry& r = registry_;
  syncTotal = r.counter("windlass_sync_total", "Syncs finished, by environment and outcome.",
                        {"environment", "outcome"});
  syncDuration = r.histogram("windlass_sync_duration_seconds", "How long a sync took.",
                             {"environment"}, syncDurationBuckets());
  driftCorrections =
      r.counter("windlass_drift_corrections_total",
                "Objects changed in the cluster that self-heal put back.", {"environment"});
  driftDetected = r.gauge("windlass_drift_detected",
                          "Objects whose live state differs from Git right now.", {"environment"});
  managedObjects = r.gauge("windlass_managed_objects", "Objects in the environment's inventory.",
                           {"environment"});
  lastSyncTimestamp = r.gauge("windlass_last_sync_timestamp_seconds",
                              "When the last sync of each outcome finished (Unix time).",
                              {"environment", "outcome"});
  gitFetchDuration =
      r.histogram("windlass_git_fetch_duration_seconds", "How long a Git fetch took.",
                  {"repository"}, gitFetchDurationBuckets());
  webhookRequests = r.counter("windlass_webhook_requests_total",
                              "Webhook requests, by provider and result.", {"provider", "result"});
  leader = r.gauge("windlass_leader", "1 while this replica is the leader, else 0.");
  imageScans =
      r.counter("windlass_image_scans_total",
                "Registry scans of image policies, by policy and result.", {"policy", "result"});
  imageScanFailing =
      r.gauge("windlass_image_scan_failing",
              "1 while the last scan of an image policy failed, else 0.", {"policy"});
}

void Metrics::recordImageScan(std::string_view policy, std::string_view result) {
  registry_.add(imageScans, {std::string(policy), std::string(result)});
  registry_.set(imageScanFailing, {std::string(policy)}, result == "ok" ? 0 : 1);
}

void Metrics::recordSync(std::string_view environment, std::string_view outcome, double seconds,
                         double unixSeconds) {
  std::vector<std::string> envOutcome = {std::string(environment), std::string(outcome)};
  registry_.add(syncTotal, envOutcome);
  registry_.observe(syncDuration, {std::string(environment)}, seconds);
  registry_.set(lastSyncTimestamp, envOutcome, unixSeconds);
}

void Metrics::addDriftCorrections(std::string_view environment, uint64_t count) {
  registry_.add(driftCorrections, {std::string(environment)}, static_cast<double>(count));
}

void Metrics::setDriftDetected(std::string_view environment, uint64_t objects) {
  registry_.set(driftDetected, {std::string(environment)}, static_cast<double>(objects));
}

void Metrics::setManagedObjects(std::string_view environment, uint64_t objects) {
  registry_.set(managedObjects, {std::string(environment)}, static_cast<double>(objects));
}

void Metrics::observeGitFetch(std::string_view repository, double seconds) {
  registry_.observe(gitFetchDuration, {std::string(repository)}, seconds);
}

void Metrics::countWebhook(std::string_view provider, std::string_view result) {
  registry_.add(webhookRequests, {std::string(provider), std::string(result)});
}

void Metrics::setLeader(bool isLeader) { registry_.set(leader, {}, isLeader ? 1 : 0); }

std::string Metrics::expose() const {
  // process_* sorts before windlass_*, so the whole text is in name order.
  std::string out = withProcessMetrics_ ? formatProcessMetrics(readProcessStats()) : "";
  return out + registry_.expose();
}

}  // namespace windlass::agent
