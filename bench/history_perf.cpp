// history_perf: how long load() and verify() take on a long history.
//
//   history_perf [RECORDS [OBJECTS_PER_RECORD]]     (defaults: 100000 and 10)
//
// Generates RECORDS records of OBJECTS_PER_RECORD object actions and health
// entries each in a temporary state folder (without fsync, which would measure
// the disk), then times load() and verify() of the whole file, the first
// open() of a store (which checks the whole chain once), and the fsynced append
// of 200 more records. Prints one line per measurement.
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "reconcile/history.h"

namespace {

using windlass::reconcile::HealthStatus;
using windlass::reconcile::HistoryOptions;
using windlass::reconcile::HistoryStore;
using windlass::reconcile::ObjectAction;
using windlass::reconcile::SyncRecord;

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

SyncRecord makeRecord(long i, int objects) {
  SyncRecord r;
  r.time = "2024-05-01T12:00:00.000Z";
  r.environment = "prod";
  r.trigger = windlass::reconcile::Trigger::kPoll;
  r.revision = {"3f2a9c0d1e7b4a5f8c6d2e1b0a9f8e7d6c5b4a3" + std::to_string(i % 10),
                "env/prod",
                "Ada Lovelace <ada@example.com>",
                "CI Bot <ci@example.com>",
                "Release " + std::to_string(i) + "\n\nBump web to 1." + std::to_string(i),
                windlass::reconcile::SignatureStatus::kValid};
  r.images = {"ghcr.io/acme/web:1." + std::to_string(i), "ghcr.io/acme/worker:2.0.1"};
  for (int k = 0; k < objects; ++k) {
    std::string name = "web-" + std::to_string(k);
    r.objects.push_back({"apps", "v1", "Deployment", "shop", name,
                         k == 0 ? ObjectAction::kUpdate : ObjectAction::kUnchanged, ""});
    r.health.objects.push_back(
        {"apps", "v1", "Deployment", "shop", name, HealthStatus::kHealthy, ""});
  }
  r.health.status = HealthStatus::kHealthy;
  r.message = "applied 1 object";
  r.durationMs = 100 + i % 900;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  long records = argc > 1 ? std::atol(argv[1]) : 100000;
  int objects = argc > 2 ? std::atoi(argv[2]) : 10;
  if (records <= 0 || objects < 0) {
    std::fprintf(stderr, "usage: history_perf [RECORDS [OBJECTS_PER_RECORD]]\n");
    return 2;
  }
  char pattern[] = "/tmp/windlass-history-perf-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = pattern;
  int rc = 0;
  {
    HistoryOptions fast;
    fast.sync = false;
    HistoryStore writer(dir, fast);
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < records; ++i) {
      SyncRecord r = makeRecord(i, objects);
      windlass::Status st = writer.append(r);
      if (!st.ok()) {
        std::fprintf(stderr, "append: %s\n", st.message().c_str());
        return 1;
      }
    }
    double appendMs = msSince(start);
    auto bytes = std::filesystem::file_size(writer.filePath("prod"));
    std::printf(
        "generate  %ld records x %d objects, %.1f MiB: %.0f ms (append without fsync, "
        "%.1f us/record)\n",
        records, objects, static_cast<double>(bytes) / (1 << 20), appendMs,
        appendMs * 1000 / static_cast<double>(records));

    HistoryStore store(dir);
    start = std::chrono::steady_clock::now();
    auto loaded = store.load("prod");
    double loadMs = msSince(start);
    if (!loaded || static_cast<long>(loaded->size()) != records) {
      std::fprintf(stderr, "load failed\n");
      rc = 1;
    }
    std::printf("load      %.0f ms (%.2f us/record, %.0f MiB/s)\n", loadMs,
                loadMs * 1000 / static_cast<double>(records),
                static_cast<double>(bytes) / (1 << 20) / (loadMs / 1000));

    start = std::chrono::steady_clock::now();
    HistoryStore::ChainSummary summary;
    windlass::Status st = store.verify("prod", &summary);
    double verifyMs = msSince(start);
    if (!st.ok() || static_cast<long>(summary.records) != records) {
      std::fprintf(stderr, "verify failed: %s\n", st.message().c_str());
      rc = 1;
    }
    std::printf("verify    %.0f ms (%.2f us/record, %.0f MiB/s)\n", verifyMs,
                verifyMs * 1000 / static_cast<double>(records),
                static_cast<double>(bytes) / (1 << 20) / (verifyMs / 1000));

    start = std::chrono::steady_clock::now();
    st = store.open("prod");
    double openMs = msSince(start);
    if (!st.ok()) {
      std::fprintf(stderr, "open failed: %s\n", st.message().c_str());
      rc = 1;
    }
    std::printf("open      %.0f ms (first open of a store: the whole chain checked once)\n",
                openMs);

    constexpr int kSynced = 200;
    start = std::chrono::steady_clock::now();
    for (int i = 0; i < kSynced; ++i) {
      SyncRecord r = makeRecord(records + i, objects);
      if (!store.append(r).ok()) rc = 1;
    }
    double syncedMs = msSince(start);
    std::printf("append    %d fsynced records onto the long history: %.2f ms/record\n", kSynced,
                syncedMs / kSynced);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
