#include "agent/leader.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "tests/support/fake_clock.h"
#include "tests/support/fake_kube.h"

namespace windlass::agent {
namespace {

using reconcile::FakeKube;
using reconcile::Gvk;
using SysTime = std::chrono::system_clock::time_point;
using namespace std::chrono_literals;

const Gvk kLease{"coordination.k8s.io", "v1", "Lease"};

// A fake with the Lease kind and the namespace "sys".
void prepare(FakeKube& kube) {
  kube.addResource(reconcile::ResourceInfo{kLease, "leases", true});
  REQUIRE(kube.seed(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"sys"}})").ok());
}

LeaderElectionOptions options(const std::string& id, const Clock& clock) {
  LeaderElectionOptions o;
  o.leaseNamespace = "sys";
  o.leaseName = "windlass-leader";
  o.identity = id;
  o.clock = &clock;
  return o;
}

std::string leaseJson(FakeKube& kube) { return kube.object(kLease, "sys", "windlass-leader"); }

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

template <class F>
bool eventually(F f, std::chrono::milliseconds limit = 5000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return f();
}

TEST_CASE("micro time formats and parses") {
  SysTime t = SysTime(std::chrono::seconds(1800000000)) + 123456us;
  CHECK(formatMicroTime(t) == "2027-01-15T08:00:00.123456Z");
  auto back = parseMicroTime("2027-01-15T08:00:00.123456Z");
  REQUIRE(back);
  CHECK(*back == t);
  auto whole = parseMicroTime("2027-01-15T08:00:00Z");
  REQUIRE(whole);
  CHECK(*whole == SysTime(std::chrono::seconds(1800000000)));
  auto bad = parseMicroTime("yesterday");
  REQUIRE(!bad);
  CHECK(bad.error().message() == "time \"yesterday\": not RFC 3339 UTC");
}

TEST_CASE("holder identity is host_pid_random and unique") {
  std::string a = makeHolderIdentity(), b = makeHolderIdentity();
  CHECK(a != b);
  CHECK(contains(a, "_" + std::to_string(::getpid()) + "_"));
}

TEST_CASE("an absent Lease is created; a valid one is not taken; an expired one is") {
  FakeKube kube;
  prepare(kube);
  FakeClock clock(SysTime(std::chrono::seconds(1800000000)));
  LeaderElector a(kube, options("a", clock));
  LeaderElector b(kube, options("b", clock));

  auto got = a.tryAcquireOrRenew();
  REQUIRE(got);
  CHECK(*got);
  CHECK(kube.count("create") == 1);
  std::string lease = leaseJson(kube);
  CHECK(contains(lease, R"("holderIdentity":"a")"));
  CHECK(contains(lease, R"("leaseDurationSeconds":15)"));
  CHECK(contains(lease, R"("leaseTransitions":0)"));
  CHECK(contains(lease, R"("renewTime":"2027-01-15T08:00:00.000000Z")"));

  auto other = b.tryAcquireOrRenew();
  REQUIRE(other);
  CHECK_FALSE(*other);

  clock.advance(10s);  // a renews: same holder, no transition, renewTime moves
  REQUIRE(*a.tryAcquireOrRenew());
  lease = leaseJson(kube);
  CHECK(contains(lease, R"("renewTime":"2027-01-15T08:00:10.000000Z")"));
  CHECK(contains(lease, R"("acquireTime":"2027-01-15T08:00:00.000000Z")"));
  CHECK(contains(lease, R"("leaseTransitions":0)"));

  clock.advance(15s);  // exactly at expiry: still valid
  CHECK_FALSE(*b.tryAcquireOrRenew());
  clock.advance(1s);  // past renewTime + 15 s: b takes over
  REQUIRE(*b.tryAcquireOrRenew());
  lease = leaseJson(kube);
  CHECK(contains(lease, R"("holderIdentity":"b")"));
  CHECK(contains(lease, R"("leaseTransitions":1)"));
  CHECK(contains(lease, R"("acquireTime":"2027-01-15T08:00:26.000000Z")"));
  CHECK_FALSE(*a.tryAcquireOrRenew());
}

TEST_CASE("a released Lease is taken at once") {
  FakeKube kube;
  prepare(kube);
  FakeClock clock(SysTime(std::chrono::seconds(1800000000)));
  LeaderElector a(kube, options("a", clock));
  LeaderElector b(kube, options("b", clock));
  REQUIRE(*a.tryAcquireOrRenew());
  CHECK(b.release().ok());  // not b's: nothing written
  CHECK(contains(leaseJson(kube), R"("holderIdentity":"a")"));
  REQUIRE(a.release().ok());
  std::string lease = leaseJson(kube);
  CHECK(contains(lease, R"("holderIdentity":"")"));
  CHECK(contains(lease, R"("leaseDurationSeconds":1)"));
  REQUIRE(*b.tryAcquireOrRenew());
  CHECK(contains(leaseJson(kube), R"("holderIdentity":"b")"));
  CHECK(contains(leaseJson(kube), R"("leaseTransitions":1)"));
}

TEST_CASE("a write that loses the race (409) is not leadership; other errors are errors") {
  FakeKube kube;
  prepare(kube);
  FakeClock clock(SysTime(std::chrono::seconds(1800000000)));
  LeaderElector a(kube, options("a", clock));
  REQUIRE(*a.tryAcquireOrRenew());
  kube.failMethod("PUT", 409, "the object has been modified");
  auto lost = a.tryAcquireOrRenew();
  REQUIRE(lost);
  CHECK_FALSE(*lost);
  kube.failMethod("PUT", 500, "etcd is down");
  auto failed = a.tryAcquireOrRenew();
  REQUIRE(!failed);
  CHECK(failed.error().code() == Code::kUnavailable);
  CHECK(contains(failed.error().message(), "coordination.k8s.io/Lease sys/windlass-leader"));
  kube.failMethod("PUT", 0);
  CHECK(*a.tryAcquireOrRenew());
}

TEST_CASE("the fake's PUT checks resourceVersion and POST refuses an existing object") {
  FakeKube kube;
  prepare(kube);
  FakeClock clock(SysTime(std::chrono::seconds(1800000000)));
  LeaderElector a(kube, options("a", clock));
  REQUIRE(*a.tryAcquireOrRenew());
  auto r = kube.sendBatch(
      {reconcile::Request{.method = "PUT",
                          .path = "/apis/coordination.k8s.io/v1/namespaces/sys/leases/"
                                  "windlass-leader",
                          .body = R"({"metadata":{"name":"windlass-leader",)"
                                  R"("resourceVersion":"999"},"spec":{}})",
                          .contentType = "application/json"},
       reconcile::Request{.method = "POST",
                          .path = "/apis/coordination.k8s.io/v1/namespaces/sys/leases",
                          .body = R"({"metadata":{"name":"windlass-leader"}})",
                          .contentType = "application/json"}});
  CHECK(r[0]->httpStatus == 409);
  CHECK(r[1]->httpStatus == 409);
}

TEST_CASE("the loop leads, stops leading past the renew deadline, and releases on stop") {
  FakeKube kube;
  prepare(kube);
  LeaderElectionOptions o;
  o.leaseNamespace = "sys";
  o.leaseName = "windlass-leader";
  o.identity = "loop";
  o.leaseDuration = 60s;
  o.renewDeadline = 100ms;
  o.retryPeriod = 10ms;
  std::atomic<int> started{0}, stopped{0};
  LeaderElector e(kube, o);
  REQUIRE(e.start([&] { ++started; }, [&] { ++stopped; }).ok());
  CHECK(e.start({}, {}).code() == Code::kFailedPrecondition);
  REQUIRE(eventually([&] { return e.isLeader(); }));
  CHECK(started == 1);

  kube.failMethod("PUT", 500);
  REQUIRE(eventually([&] { return !e.isLeader(); }));
  CHECK(stopped == 1);
  kube.failMethod("PUT", 0);
  REQUIRE(eventually([&] { return e.isLeader(); }));
  CHECK(started == 2);

  e.stop(true);
  CHECK_FALSE(e.isLeader());
  CHECK(stopped == 2);
  CHECK(contains(leaseJson(kube), R"("holderIdentity":"")"));
}

TEST_CASE("a cancelled token ends the loop and releases") {
  FakeKube kube;
  prepare(kube);
  LeaderElectionOptions o;
  o.leaseNamespace = "sys";
  o.leaseName = "windlass-leader";
  o.identity = "c";
  o.retryPeriod = 10ms;
  CancelToken cancel;
  LeaderElector e(kube, o, &cancel);
  REQUIRE(e.start({}, {}).ok());
  REQUIRE(eventually([&] { return e.isLeader(); }));
  cancel.cancel();
  REQUIRE(eventually([&] { return !e.isLeader(); }));
  CHECK(contains(leaseJson(kube), R"("holderIdentity":"")"));
}

TEST_CASE("start needs the Lease's namespace and name") {
  FakeKube kube;
  LeaderElector e(kube, LeaderElectionOptions{});
  CHECK(e.start({}, {}).message() == "leader election: the Lease needs a namespace and a name");
}

}  // namespace
}  // namespace windlass::agent
