// Leader election over a coordination.k8s.io/v1 Lease, as client-go's leaderelection does:
// one of several agents runs the reconciles, the others wait to take over.
//
// A candidate acquires the Lease when it is absent (POST), when it has expired
// (spec.renewTime + spec.leaseDurationSeconds < now), when its holderIdentity is empty (a
// released Lease) or when it already holds it. Every write is an optimistic-concurrency
// update (PUT carrying metadata.resourceVersion): a 409 means another candidate won the
// race, and the Lease is read again on the next round. spec.leaseTransitions grows by one
// on every takeover. The leader renews every retryPeriod; when no renewal has succeeded for
// renewDeadline, or at once when it finds another holder's valid Lease, it stops leading
// (and becomes a candidate again). stop(true) releases the
// Lease (holderIdentity "", leaseDurationSeconds 1, renewTime now, as client-go's
// ReleaseOnCancel) so a follower takes over on its next retry instead of after the lease
// duration.
//
// Expiry compares the Lease's renewTime with this machine's clock, so candidates need clocks
// in step to well under the lease duration.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/status.h"
#include "reconcile/kube_api.h"

namespace windlass::agent {

struct LeaderElectionOptions {
  std::string leaseNamespace;  // required
  std::string leaseName;       // required, e.g. "windlass-leader"
  // Who we are in spec.holderIdentity. Empty: makeHolderIdentity().
  std::string identity;
  std::chrono::milliseconds leaseDuration{15000};  // non-leaders wait this long to take over
  std::chrono::milliseconds renewDeadline{10000};  // leader gives up after this without renewal
  std::chrono::milliseconds retryPeriod{2000};     // between tries (acquire and renew)
  // The wall clock (tests pass a FakeClock).
  const Clock* clock = &Clock::system();
  // Called (from the elector's thread) when a try fails other than by losing a race, with
  // a message naming the Lease. Never holds a secret. Default: nothing.
  std::function<void(const std::string&)> log;
};

// "<hostname>_<pid>_<16 random hex digits>": unique per process. Thread-safe.
std::string makeHolderIdentity();

// A Lease's times in Kubernetes MicroTime form, "2026-12-02T17:57:36.123456Z" (UTC), and
// back. parseMicroTime accepts RFC 3339 with or without a fraction, "Z" only; InvalidArgument
// otherwise. Pure; thread-safe.
std::string formatMicroTime(std::chrono::system_clock::time_point t);
Result<std::chrono::system_clock::time_point> parseMicroTime(std::string_view text);

class LeaderElector {
 public:
  // `kube` is borrowed and must outlive the elector. `cancel`, when not null, is borrowed
  // too: tripping it ends the loop as stop(true) does.
  LeaderElector(reconcile::KubeApi& kube, LeaderElectionOptions options,
                const CancelToken* cancel = nullptr);
  // Calls stop(true).
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Starts the election loop on its own thread. onStartedLeading runs (on that thread) each
  // time this elector becomes the leader, onStoppedLeading each time it stops being the
  // leader (renew deadline passed, or stop while leading). They must return promptly and
  // must not call stop(). InvalidArgument when the options lack the Lease's namespace or
  // name; FailedPrecondition when already started.
  [[nodiscard]] Status start(std::function<void()> onStartedLeading,
                             std::function<void()> onStoppedLeading);

  // Ends the loop and joins its thread. When leading and `release`, writes the released
  // Lease first (a failure is only logged). Idempotent. Must not be called from the
  // callbacks.
  void stop(bool release = true);

  // True while this elector holds the Lease (last renewal within renewDeadline).
  bool isLeader() const { return leader_.load(); }
  const std::string& identity() const { return options_.identity; }

  // One round, on the caller's thread: reads the Lease and creates, takes over or renews it
  // when allowed. Ok(true) when we hold the Lease afterwards, ok(false) when another holder
  // has a valid Lease or won the race (409), an error when the API failed. Does not change
  // isLeader() or call the callbacks. For tests and for the loop; not to be mixed with a
  // running loop.
  [[nodiscard]] Result<bool> tryAcquireOrRenew();
  // Writes the released Lease when we hold it. Ok when released or not ours. For tests and
  // for stop().
  [[nodiscard]] Status release();

 private:
  void run();
  // Waits for `d` or until stopped/cancelled; false when stopped/cancelled.
  bool sleep(std::chrono::milliseconds d);
  bool stopping() const;
  std::chrono::system_clock::time_point now() const;

  reconcile::KubeApi& kube_;
  LeaderElectionOptions options_;
  const CancelToken* cancel_;
  std::function<void()> onStarted_;
  std::function<void()> onStopped_;
  std::atomic<bool> leader_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool releaseOnStop_ = true;
  std::thread thread_;
};

}  // namespace windlass::agent
