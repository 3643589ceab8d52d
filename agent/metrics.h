// The agent's metrics, exposed at /metrics in the Prometheus text format 0.0.4.
//
// MetricsRegistry is a small hand-written registry: families of counters,
// gauges and histograms, each with a fixed list of label names, and one series
// per list of label values. expose() prints every family sorted by name, each
// with its # HELP and # TYPE lines, its series sorted by label values; a
// histogram prints its cumulative _bucket{le="..."} lines (ending with
// le="+Inf"), then _sum and _count. Label values are escaped (\ " and newline),
// as is help text (\ and newline). A family without labels always has its one
// series (starting at 0); a labelled family shows only series that were touched.
//
// Metrics is the registry with windlass's families declared, one method per
// thing the agent records, plus the process metrics read from /proc/self.
//
// Thread safety: every method of both classes may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace windlass::agent {

// Formats a sample value as Prometheus readers expect: the shortest text that
// reads back to the same double, integers below 1e15 in full ("3", "1700000000",
// "0.25", "1e+21"), "+Inf", "-Inf", "NaN".
std::string formatMetricValue(double value);

class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // A declared family. Cheap to copy; valid as long as the registry lives.
  struct Family {
    int index = -1;
  };

  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Declares a family. `name` and label names must match [a-zA-Z_:][a-zA-Z0-9_:]*
  // and be unique (a programming error otherwise: the declaration is ignored
  // and the returned family records nothing). `buckets` (histograms only) are
  // upper bounds, ascending; +Inf is implied and added to the output.
  Family counter(std::string name, std::string help, std::vector<std::string> labelNames = {});
  Family gauge(std::string name, std::string help, std::vector<std::string> labelNames = {});
  Family histogram(std::string name, std::string help, std::vector<std::string> labelNames,
                   std::vector<double> buckets);

  // Adds `by` (>= 0; negative amounts are ignored) to a counter, or any amount to a gauge.
  // `labelValues` must have one value per label name, in order; a call with the
  // wrong count or on the wrong type records nothing (as a bad family does).
  void add(Family family, const std::vector<std::string>& labelValues, double by = 1);
  // Sets a gauge.
  void set(Family family, const std::vector<std::string>& labelValues, double value);
  // Records one observation in a histogram.
  void observe(Family family, const std::vector<std::string>& labelValues, double value);
  // Drops every series of `family` whose first label value is `firstLabelValue`
  // (an environment removed from the config).
  void removeSeries(Family family, std::string_view firstLabelValue);

  // The current value of a counter or gauge series; 0 when absent. For tests.
  double value(Family family, const std::vector<std::string>& labelValues) const;

  // The exposition text of every family, as described at the top of this file.
  std::string expose() const;

 private:
  struct FamilyData;
  Family declare(Type type, std::string name, std::string help, std::vector<std::string> labelNames,
                 std::vector<double> buckets);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyData>> families_;
};

// What /proc/self says about this process.
struct ProcessStats {
  double cpuSeconds = 0;        // user + system time
  double residentBytes = 0;     // resident set size
  double startTimeSeconds = 0;  // since the Unix epoch
  double openFds = 0;           // entries of /proc/self/fd
};

// Reads /proc/self/stat, /proc/stat (boot time) and /proc/self/fd. Fields that
// cannot be read stay 0. Thread-safe.
ProcessStats readProcessStats();

// The process_* families for `stats`, in exposition text: process_cpu_seconds_total
// (counter), process_open_fds, process_resident_memory_bytes and
// process_start_time_seconds (gauges), in that (name) order.
std::string formatProcessMetrics(const ProcessStats& stats);

// Outcome label values of windlass_sync_total and windlass_last_sync_timestamp_seconds
// are the reasons of reconcile/vocabulary.h ("Succeeded", "ApplyFailed", ...), as
// given by the caller. Webhook result label values are "accepted", "unauthorized",
// "bad_request" and "ignored".
class Metrics {
 public:
  // Buckets of windlass_sync_duration_seconds and windlass_git_fetch_duration_seconds.
  static const std::vector<double>& syncDurationBuckets();      // 0.5s .. 30m
  static const std::vector<double>& gitFetchDurationBuckets();  // 0.05s .. 2m

  // `withProcessMetrics` false leaves the process_* families out of expose()
  // (tests, which need exact text). Default true.
  explicit Metrics(bool withProcessMetrics = true);

  // One finished sync: windlass_sync_total{environment,outcome} += 1,
  // windlass_sync_duration_seconds{environment} observes `seconds`,
  // windlass_last_sync_timestamp_seconds{environment,outcome} = `unixSeconds`.
  void recordSync(std::string_view environment, std::string_view outcome, double seconds,
                  double unixSeconds);
  // windlass_drift_corrections_total{environment} += count.
  void addDriftCorrections(std::string_view environment, uint64_t count);
  // windlass_drift_detected{environment}: objects drifted right now.
  void setDriftDetected(std::string_view environment, uint64_t objects);
  // windlass_managed_objects{environment}: objects in the inventory.
  void setManagedObjects(std::string_view environment, uint64_t objects);
  // windlass_git_fetch_duration_seconds{repository} observes `seconds`.
  void observeGitFetch(std::string_view repository, double seconds);
  // windlass_webhook_requests_total{provider,result} += 1.
  void countWebhook(std::string_view provider, std::string_view result);
  // windlass_leader: 1 while this replica leads (or runs without election), else 0.
  void setLeader(bool leader);
  // One scan of an image policy: windlass_image_scans_total{policy,result} += 1 (result
  // "ok" or the error's code name), windlass_image_scan_failing{policy} = 0 or 1 (1 while
  // the last scan failed and the last good choice is kept).
  void recordImageScan(std::string_view policy, std::string_view result);

  // The process metrics (when enabled), then every family, as exposition text.
  std::string expose() const;

  // The registry, for tests and for families a caller adds.
  MetricsRegistry& registry() { return registry_; }
  const MetricsRegistry& registry() const { return registry_; }

  MetricsRegistry::Family syncTotal, syncDuration, driftCorrections, driftDetected, managedObjects,
      lastSyncTimestamp, gitFetchDuration, webhookRequests, leader, imageScans, imageScanFailing;

 private:
  MetricsRegistry registry_;
  bool withProcessMetrics_;
};

}  // namespace windlass::agent
