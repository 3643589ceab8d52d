// Leader election and Events against the harness's real kube-apiserver: two electors on one
// Lease (exactly one leads; a released Lease is taken within about one retry period; a
// Lease whose holder vanished without releasing is taken once it expires), and an Event
// recorded by EventRecorder read back as `kubectl get events` would list it.
//
// Needs the harness environment (tests/harness/up ENVFILE; source ENVFILE). A missing
// variable fails the test: integration tests never skip.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "agent/events.h"
#include "agent/leader.h"
#include "reconcile/kube_client.h"

namespace windlass::agent {
namespace {

using reconcile::Gvk;
using reconcile::KubeClient;
using namespace std::chrono_literals;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  REQUIRE_MESSAGE((v != nullptr && *v != '\0'),
                  std::string(name)
                      << " is not set: start the harness (tests/harness/up ENVFILE) and source "
                         "ENVFILE before running the integration suite");
  return v;
}

std::unique_ptr<KubeClient> connect() {
  auto cfg = reconcile::loadKubeconfig(env("KUBECONFIG"));
  REQUIRE_MESSAGE(cfg.has_value(), cfg.error().message());
  auto client = KubeClient::create(std::move(*cfg), {});
  REQUIRE_MESSAGE(client.has_value(), client.error().message());
  return std::move(*client);
}

const Gvk kNamespace{"", "v1", "Namespace"};
const Gvk kLease{"coordination.k8s.io", "v1", "Lease"};
const Gvk kEvent{"", "v1", "Event"};

struct TestNamespace {
  KubeClient& client;
  std::string name;
  TestNamespace(KubeClient& c, const std::string& suffix)
      : client(c), name("windlass-leader-it-" + std::to_string(::getpid()) + "-" + suffix) {
    JsonAllocator alloc;
    auto ns = reconcile::parseJsonBody(
        R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + name + R"("}})", alloc,
        "test");
    REQUIRE(ns.has_value());
    auto applied = client.apply(*ns, alloc);
    REQUIRE_MESSAGE(applied.has_value(), applied.error().message());
  }
  ~TestNamespace() { (void)client.remove(kNamespace, "", name); }
};

template <class F>
bool eventually(F f, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return f();
}

LeaderElectionOptions fast(const std::string& ns, const std::string& id) {
  LeaderElectionOptions o;
  o.leaseNamespace = ns;
  o.leaseName = "windlass-leader";
  o.identity = id;
  o.leaseDuration = 3s;
  o.renewDeadline = 2s;
  o.retryPeriod = 500ms;
  return o;
}

std::string holder(KubeClient& client, const std::string& ns) {
  JsonAllocator alloc;
  auto lease = client.get(kLease, ns, "windlass-leader", alloc);
  if (!lease) return "<" + lease.error().message() + ">";
  const JsonValue& spec = (*lease)["spec"];
  auto it = spec.FindMember("holderIdentity");
  return it != spec.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

int64_t transitions(KubeClient& client, const std::string& ns) {
  JsonAllocator alloc;
  auto lease = client.get(kLease, ns, "windlass-leader", alloc);
  REQUIRE(lease.has_value());
  const JsonValue& spec = (*lease)["spec"];
  auto it = spec.FindMember("leaseTransitions");
  return it != spec.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : -1;
}

TEST_CASE("two electors: one leads; release hands over within a retry period") {
  auto client = connect();
  TestNamespace ns(*client, "release");
  LeaderElector a(*client, fast(ns.name, "elector-a"));
  LeaderElector b(*client, fast(ns.name, "elector-b"));
  REQUIRE(a.start({}, {}).ok());
  REQUIRE(eventually([&] { return a.isLeader(); }, 5s));
  REQUIRE(b.start({}, {}).ok());
  std::this_thread::sleep_for(1500ms);  // three retry periods: b must stay a follower
  CHECK(a.isLeader());
  CHECK_FALSE(b.isLeader());
  CHECK(holder(*client, ns.name) == "elector-a");

  auto stopped = std::chrono::steady_clock::now();
  a.stop(true);
  REQUIRE(eventually([&] { return b.isLeader(); }, 3s));
  auto took = std::chrono::steady_clock::now() - stopped;
  CHECK(took < 1500ms);  // one retry period (500 ms) plus the round trip, well under 3 s
  CHECK(holder(*client, ns.name) == "elector-b");
  CHECK(transitions(*client, ns.name) == 1);
  b.stop(true);
  CHECK(holder(*client, ns.name) == "");
}

TEST_CASE("a leader that vanishes without releasing is replaced after the lease expires") {
  auto client = connect();
  TestNamespace ns(*client, "expire");
  LeaderElector a(*client, fast(ns.name, "elector-a"));
  LeaderElector b(*client, fast(ns.name, "elector-b"));
  REQUIRE(a.start({}, {}).ok());
  REQUIRE(eventually([&] { return a.isLeader(); }, 5s));
  REQUIRE(b.start({}, {}).ok());
  std::this_thread::sleep_for(1s);
  REQUIRE_FALSE(b.isLeader());

  auto stopped = std::chrono::steady_clock::now();
  a.stop(false);  // as kill -9: the Lease still names a
  CHECK(holder(*client, ns.name) == "elector-a");
  REQUIRE(eventually([&] { return b.isLeader(); }, 8s));
  auto took = std::chrono::steady_clock::now() - stopped;
  CHECK(took >= 2s);  // not before the 3 s lease ran out (less the last renewal's age)
  CHECK(took < 5s);
  CHECK(holder(*client, ns.name) == "elector-b");
  CHECK(transitions(*client, ns.name) == 1);
}

TEST_CASE("an Event recorded twice is one Event with count 2, listed in its namespace") {
  auto client = connect();
  TestNamespace ns(*client, "events");
  std::string failure;
  EventRecorder rec(*client,
                    EventRecorderOptions{.log = [&](const std::string& m) { failure = m; }});
  REQUIRE(rec.record("prod", ns.name, EventType::kWarning, kReasonSyncFailed, "apply failed: x"));
  REQUIRE(rec.record("prod", ns.name, EventType::kWarning, kReasonSyncFailed, "apply failed: x"));
  rec.flush();
  CHECK(failure == "");

  JsonAllocator alloc;
  auto events = client->list(kEvent, ns.name, alloc);
  REQUIRE_MESSAGE(events.has_value(), events.error().message());
  REQUIRE(events->size() == 1);
  const JsonValue& e = (*events)[0];
  CHECK(std::string(e["reason"].GetString()) == "SyncFailed");
  CHECK(std::string(e["type"].GetString()) == "Warning");
  CHECK(std::string(e["message"].GetString()) == "apply failed: x");
  CHECK(e["count"].GetInt() == 2);
  CHECK(std::string(e["involvedObject"]["kind"].GetString()) == "Secret");
  CHECK(std::string(e["involvedObject"]["name"].GetString()) == "windlass-prod");
  CHECK(std::string(e["source"]["component"].GetString()) == "windlass");
  CHECK(std::string(e["reportingComponent"].GetString()) == "windlass");
  // And by name, as `kubectl get event <name>` would.
  auto one = client->get(kEvent, ns.name, e["metadata"]["name"].GetString(), alloc);
  REQUIRE_MESSAGE(one.has_value(), one.error().message());
}

}  // namespace
}  // namespace windlass::agent
