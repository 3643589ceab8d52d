// Kubernetes Events (core/v1 Event) about an environment, so `kubectl get events` and
// `kubectl describe secret windlass-<env>` show what the agent did.
//
// Each Event's involvedObject is the environment's inventory Secret `windlass-<env>` in its
// namespace; reportingController and source.component are "windlass". Repeats of the same
// environment, type, reason and message update one Event (count + 1, lastTimestamp now),
// as client-go's EventCorrelator does, instead of creating another. A token bucket per
// environment and reason (burst 25, then one every 5 s by default) drops the rest, so a
// flapping environment cannot flood the API server.
//
// record() never blocks on the API: it queues, and one worker thread writes the Events
// (server-side apply). A full queue drops the event.
//
// Thread safety: every member function is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "reconcile/kube_api.h"

namespace windlass::agent {

// Reasons the agent records (the Event's `reason`).
inline constexpr char kReasonSyncSucceeded[] = "SyncSucceeded";
inline constexpr char kReasonSyncFailed[] = "SyncFailed";
inline constexpr char kReasonDriftCorrected[] = "DriftCorrected";
inline constexpr char kReasonFightDetected[] = "FightDetected";
inline constexpr char kReasonPruneRefused[] = "PruneRefused";

enum class EventType { kNormal, kWarning };

struct EventRecorderOptions {
  size_t burst = 25;                           // events per environment+reason at once
  std::chrono::milliseconds refill{5000};      // then one more token per this
  size_t queueCapacity = 1000;                 // record() drops beyond this
  std::chrono::minutes aggregationWindow{10};  // repeats within this bump one Event
  // The wall clock (for timestamps, the token buckets and the window; tests inject their
  // own: a FakeClock).
  const Clock* clock = &Clock::system();
  // Called from the worker when writing an Event fails, with a message naming the Event.
  // Default: nothing.
  std::function<void(const std::string&)> log;
};

class EventRecorder {
 public:
  // `kube` is borrowed and must outlive the recorder. Starts the worker thread.
  EventRecorder(reconcile::KubeApi& kube, EventRecorderOptions options = {});
  // Writes what is queued (see shutdown()) and joins the worker.
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Queues an Event about environment `env` whose inventory Secret lives in `ns`. Returns
  // false when it was dropped (rate limit or full queue), true when queued. Never blocks on
  // the API server.
  bool record(const std::string& env, const std::string& ns, EventType type,
              const std::string& reason, const std::string& message);

  // Blocks until every queued event has been written (or failed). For tests and shutdown.
  void flush();
  // Stops taking events, writes what is queued and joins the worker. Idempotent.
  void shutdown();

  // Events dropped by the rate limit or a full queue since construction.
  size_t dropped() const;

 private:
  struct Item {
    std::string env, ns, reason, message;
    EventType type;
    std::chrono::system_clock::time_point time;
  };
  struct Bucket {
    double tokens = 0;
    std::chrono::system_clock::time_point last;
  };
  struct Aggregate {
    std::string name;  // the Event's metadata.name
    int count = 0;
    std::string firstTimestamp;
    std::chrono::system_clock::time_point last;
  };
  void run();
  void write(const Item& item);
  std::chrono::system_clock::time_point now() const;

  reconcile::KubeApi& kube_;
  EventRecorderOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_;
  std::deque<Item> queue_;
  bool busy_ = false;
  bool stop_ = false;
  size_t dropped_ = 0;
  std::map<std::string, Bucket> buckets_;        // "ns/env/reason" → bucket; under mu_
  std::map<std::string, Aggregate> aggregates_;  // worker only
  std::thread thread_;
};

}  // namespace windlass::agent
