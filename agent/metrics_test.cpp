#include "agent/metrics.h"

#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace windlass::agent {
namespace {

TEST_CASE("sample values print as Prometheus reads them") {
  CHECK(formatMetricValue(0) == "0");
  CHECK(formatMetricValue(3) == "3");
  CHECK(formatMetricValue(0.25) == "0.25");
  CHECK(formatMetricValue(1.5e9) == "1500000000");
  CHECK(formatMetricValue(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(formatMetricValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(formatMetricValue(std::numeric_limits<double>::quiet_NaN()) == "NaN");
}

TEST_CASE("exposition: families by name, series by label values, escaping") {
  MetricsRegistry r;
  auto requests = r.counter("b_requests_total", "Requests.\nSecond line with \\.", {"path"});
  auto temp = r.gauge("a_temperature", "Temperature.");
  r.add(requests, {"/z"}, 2);
  r.add(requests, {"a\"b\\c\nd"});
  r.add(requests, {"/z"}, -5);          // counters never go down
  r.add(requests, {"too", "many"}, 1);  // wrong label count: ignored
  r.set(temp, {}, -1.5);
  CHECK(r.value(requests, {"/z"}) == 2);
  CHECK(r.expose() ==
        "# HELP a_temperature Temperature.\n"
        "# TYPE a_temperature gauge\n"
        "a_temperature -1.5\n"
        "# HELP b_requests_total Requests.\\nSecond line with \\\\.\n"
        "# TYPE b_requests_total counter\n"
        "b_requests_total{path=\"/z\"} 2\n"
        "b_requests_total{path=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST_CASE("histograms: cumulative buckets, +Inf, sum and count") {
  MetricsRegistry r;
  auto h = r.histogram("d_seconds", "Durations.", {"env"}, {0.5, 1, 2.5});
  r.observe(h, {"prod"}, 0.2);
  r.observe(h, {"prod"}, 1);
  r.observe(h, {"prod"}, 7);
  r.observe(h, {"dev"}, 0.5);
  CHECK(r.expose() ==
        "# HELP d_seconds Durations.\n"
        "# TYPE d_seconds histogram\n"
        "d_seconds_bucket{env=\"dev\",le=\"0.5\"} 1\n"
        "d_seconds_bucket{env=\"dev\",le=\"1\"} 1\n"
        "d_seconds_bucket{env=\"dev\",le=\"2.5\"} 1\n"
        "d_seconds_bucket{env=\"dev\",le=\"+Inf\"} 1\n"
        "d_seconds_sum{env=\"dev\"} 0.5\n"
        "d_seconds_count{env=\"dev\"} 1\n"
        "d_seconds_bucket{env=\"prod\",le=\"0.5\"} 1\n"
        "d_seconds_bucket{env=\"prod\",le=\"1\"} 2\n"
        "d_seconds_bucket{env=\"prod\",le=\"2.5\"} 2\n"
        "d_seconds_bucket{env=\"prod\",le=\"+Inf\"} 3\n"
        "d_seconds_sum{env=\"prod\"} 8.2\n"
        "d_seconds_count{env=\"prod\"} 3\n");
}

TEST_CASE("bad declarations record nothing") {
  MetricsRegistry r;
  auto ok = r.counter("x_total", "X.");
  CHECK(r.counter("x_total", "again").index == -1);
  CHECK(r.counter("1bad", "bad").index == -1);
  CHECK(r.gauge("g", "bad label", {"le"}).index == -1);
  CHECK(r.histogram("h", "unsorted", {}, {2, 1}).index == -1);
  r.set(ok, {}, 5);      // not a gauge
  r.observe(ok, {}, 5);  // not a histogram
  r.add(MetricsRegistry::Family{}, {}, 1);
  CHECK(r.expose() == "# HELP x_total X.\n# TYPE x_total counter\nx_total 0\n");
}

TEST_CASE("removeSeries drops an environment's series") {
  MetricsRegistry r;
  auto g = r.gauge("g", "G.", {"environment", "outcome"});
  r.set(g, {"prod", "a"}, 1);
  r.set(g, {"dev", "a"}, 2);
  r.removeSeries(g, "prod");
  CHECK(r.expose() == "# HELP g G.\n# TYPE g gauge\ng{environment=\"dev\",outcome=\"a\"} 2\n");
}

TEST_CASE("the windlass families") {
  Metrics m(false);
  m.recordSync("prod", "Succeeded", 3, 1700000000);
  m.addDriftCorrections("prod", 2);
  m.setDriftDetected("prod", 1);
  m.setManagedObjects("prod", 12);
  m.observeGitFetch("default", 0.3);
  m.countWebhook("github", "accepted");
  m.setLeader(true);
  m.recordImageScan("web", "Unavailable");
  CHECK(m.expose() ==
        "# HELP windlass_drift_corrections_total Objects changed in the cluster that self-heal "
        "put back.\n"
        "# TYPE windlass_drift_corrections_total counter\n"
        "windlass_drift_corrections_total{environment=\"prod\"} 2\n"
        "# HELP windlass_drift_detected Objects whose live state differs from Git right now.\n"
        "# TYPE windlass_drift_detected gauge\n"
        "windlass_drift_detected{environment=\"prod\"} 1\n"
        "# HELP windlass_git_fetch_duration_seconds How long a Git fetch took.\n"
        "# TYPE windlass_git_fetch_duration_seconds histogram\n"
        "windlass_git_fetch_duration_seconds_bucket{repository=\"default\",le=\"0.05\"} 0\n"
        "windlass_git_fetch_duration_seconds_bucket{repository=\"default\",le=\"0.1\"} 0\n"
        "windlass_git_fetch_duration_seconds_bucket{repository=\"default\",le=\"0.25\"} 0\n"
        "windlass_git_fetch_duration_seconds_bucket{repository=\"default\",le=\"0.5\"} 1\n"
        "windlass_git_fetch_duration_seconds_bucket{repository=\"default\",le=\"1\"} 1\n"
        "windlass_git_fetch_duration_seconds_bucket{repository=\"default\",le=\"2.5\"} 1\n"
        "windlass_git_fetch_duration_seconds_bucket{repository=\"default\",le=\"5\"} 1\n"
        "windlass_git_fetch_duration_seconds_bucket{repository=\"default\",le=\"10\"} 1\n"
        "windlass_git_fetch_duration_seconds_bucket{repository=\"default\",le=\"30\"} 1\n"
        "windlass_git_fetch_duration_seconds_bucket{repository=\"default\",le=\"60\"} 1\n"
        "windlass_git_fetch_duration_seconds_bucket{repository=\"default\",le=\"120\"} 1\n"
        "windlass_git_fetch_duration_seconds_bucket{repository=\"default\",le=\"+Inf\"} 1\n"
        "windlass_git_fetch_duration_seconds_sum{repository=\"default\"} 0.3\n"
        "windlass_git_fetch_duration_seconds_count{repository=\"default\"} 1\n"
        "# HELP windlass_image_scan_failing 1 while the last scan of an image policy failed, "
        "else 0.\n"
        "# TYPE windlass_image_scan_failing gauge\n"
        "windlass_image_scan_failing{policy=\"web\"} 1\n"
        "# HELP windlass_image_scans_total Registry scans of image policies, by policy and "
        "result.\n"
        "# TYPE windlass_image_scans_total counter\n"
        "windlass_image_scans_total{policy=\"web\",result=\"Unavailable\"} 1\n"
        "# HELP windlass_last_sync_timestamp_seconds When the last sync of each outcome finished "
        "(Unix time).\n"
        "# TYPE windlass_last_sync_timestamp_seconds gauge\n"
        "windlass_last_sync_timestamp_seconds{environment=\"prod\",outcome=\"Succeeded\"} "
        "1700000000\n"
        "# HELP windlass_leader 1 while this replica is the leader, else 0.\n"
        "# TYPE windlass_leader gauge\n"
        "windlass_leader 1\n"
        "# HELP windlass_managed_objects Objects in the environment's inventory.\n"
        "# TYPE windlass_managed_objects gauge\n"
        "windlass_managed_objects{environment=\"prod\"} 12\n"
        "# HELP windlass_sync_duration_seconds How long a sync took.\n"
        "# TYPE windlass_sync_duration_seconds histogram\n"
        "windlass_sync_duration_seconds_bucket{environment=\"prod\",le=\"0.5\"} 0\n"
        "windlass_sync_duration_seconds_bucket{environment=\"prod\",le=\"1\"} 0\n"
        "windlass_sync_duration_seconds_bucket{environment=\"prod\",le=\"2.5\"} 0\n"
        "windlass_sync_duration_seconds_bucket{environment=\"prod\",le=\"5\"} 1\n"
        "windlass_sync_duration_seconds_bucket{environment=\"prod\",le=\"10\"} 1\n"
        "windlass_sync_duration_seconds_bucket{environment=\"prod\",le=\"30\"} 1\n"
        "windlass_sync_duration_seconds_bucket{environment=\"prod\",le=\"60\"} 1\n"
        "windlass_sync_duration_seconds_bucket{environment=\"prod\",le=\"120\"} 1\n"
        "windlass_sync_duration_seconds_bucket{environment=\"prod\",le=\"300\"} 1\n"
        "windlass_sync_duration_seconds_bucket{environment=\"prod\",le=\"600\"} 1\n"
        "windlass_sync_duration_seconds_bucket{environment=\"prod\",le=\"1800\"} 1\n"
        "windlass_sync_duration_seconds_bucket{environment=\"prod\",le=\"+Inf\"} 1\n"
        "windlass_sync_duration_seconds_sum{environment=\"prod\"} 3\n"
        "windlass_sync_duration_seconds_count{environment=\"prod\"} 1\n"
        "# HELP windlass_sync_total Syncs finished, by environment and outcome.\n"
        "# TYPE windlass_sync_total counter\n"
        "windlass_sync_total{environment=\"prod\",outcome=\"Succeeded\"} 1\n"
        "# HELP windlass_webhook_requests_total Webhook requests, by provider and result.\n"
        "# TYPE windlass_webhook_requests_total counter\n"
        "windlass_webhook_requests_total{provider=\"github\",result=\"accepted\"} 1\n");
}

TEST_CASE("process metrics") {
  CHECK(formatProcessMetrics({1.5, 1048576, 1700000000.25, 7}) ==
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\n"
        "process_cpu_seconds_total 1.5\n"
        "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\n"
        "process_open_fds 7\n"
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\n"
        "process_resident_memory_bytes 1048576\n"
        "# HELP process_start_time_seconds Start time of the process since unix epoch in "
        "seconds.\n"
        "# TYPE process_start_time_seconds gauge\n"
        "process_start_time_seconds 1700000000.25\n");
  ProcessStats s = readProcessStats();
  CHECK(s.residentBytes > 0);
  CHECK(s.openFds >= 3);
  CHECK(s.startTimeSeconds > 1500000000);
  CHECK(Metrics().expose().starts_with("# HELP process_cpu_seconds_total"));
}

TEST_CASE("concurrent updates are all counted") {
  Metrics m(false);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) m.countWebhook("gitlab", "accepted");
    });
  }
  for (auto& t : threads) t.join();
  CHECK(m.registry().value(m.webhookRequests, {"gitlab", "accepted"}) == 4000);
}

}  // namespace
}  // namespace windlass::agent
