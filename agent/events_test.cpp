#include "agent/events.h"

#include <doctest/doctest.h>

#include "core/json.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_kube.h"

namespace windlass::agent {
namespace {

using reconcile::FakeKube;
using reconcile::Gvk;
using SysTime = std::chrono::system_clock::time_point;
using namespace std::chrono_literals;

const Gvk kEvent{"", "v1", "Event"};

void prepare(FakeKube& kube) {
  kube.addResource(reconcile::ResourceInfo{kEvent, "events", true});
  REQUIRE(kube.seed(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}})").ok());
}

std::string toJson(const JsonValue& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// Every Event in "prod" as JSON, in name order.
std::vector<std::string> events(FakeKube& kube) {
  JsonAllocator alloc;
  auto items = kube.list(kEvent, "prod", alloc);
  REQUIRE(items);
  std::vector<std::string> out;
  for (const JsonValue& v : *items) out.push_back(toJson(v));
  return out;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_CASE("an Event names the inventory Secret, the reason, the type and windlass") {
  FakeKube kube;
  prepare(kube);
  FakeClock clock(SysTime(std::chrono::seconds(1800000000)));
  EventRecorder rec(kube, EventRecorderOptions{.clock = &clock});
  CHECK(rec.record("prod", "prod", EventType::kWarning, kReasonSyncFailed, "apply failed: boom"));
  rec.flush();
  auto all = events(kube);
  REQUIRE(all.size() == 1);
  const std::string& e = all[0];
  CHECK(contains(e, R"("name":"windlass-prod.)"));
  CHECK(contains(e, R"("involvedObject":{"apiVersion":"v1","kind":"Secret",)"
                    R"("name":"windlass-prod","namespace":"prod"})"));
  CHECK(contains(e, R"("reason":"SyncFailed","message":"apply failed: boom","type":"Warning")"));
  CHECK(contains(e, R"("source":{"component":"windlass"},"reportingComponent":"windlass")"));
  CHECK(contains(e, R"("firstTimestamp":"2027-01-15T08:00:00Z")"));
  CHECK(contains(e, R"("count":1)"));
}

TEST_CASE("repeats of one reason and message bump one Event's count") {
  FakeKube kube;
  prepare(kube);
  FakeClock clock(SysTime(std::chrono::seconds(1800000000)));
  EventRecorder rec(kube, EventRecorderOptions{.clock = &clock});
  for (int i = 0; i < 3; ++i) {
    CHECK(rec.record("prod", "prod", EventType::kNormal, kReasonDriftCorrected, "1 object"));
    clock.advance(1s);
  }
  rec.record("prod", "prod", EventType::kNormal, kReasonDriftCorrected, "2 objects");
  rec.flush();
  auto all = events(kube);
  REQUIRE(all.size() == 2);
  int counted = 0;
  for (const std::string& e : all) {
    if (contains(e, R"("message":"1 object")")) {
      ++counted;
      CHECK(contains(e, R"("count":3)"));
      CHECK(contains(e, R"("firstTimestamp":"2027-01-15T08:00:00Z")"));
      CHECK(contains(e, R"("lastTimestamp":"2027-01-15T08:00:02Z")"));
    } else {
      CHECK(contains(e, R"("count":1)"));
    }
  }
  CHECK(counted == 1);
}

TEST_CASE("the token bucket drops a flood per environment and reason") {
  FakeKube kube;
  prepare(kube);
  FakeClock clock(SysTime(std::chrono::seconds(1800000000)));
  EventRecorder rec(kube, EventRecorderOptions{.burst = 3, .refill = 5000ms, .clock = &clock});
  int accepted = 0;
  for (int i = 0; i < 10; ++i) {
    accepted +=
        rec.record("prod", "prod", EventType::kWarning, kReasonSyncFailed, "x" + std::to_string(i));
  }
  CHECK(accepted == 3);
  CHECK(rec.dropped() == 7);
  CHECK(rec.record("prod", "prod", EventType::kWarning, kReasonFightDetected, "other reason"));
  clock.advance(4s);
  CHECK_FALSE(rec.record("prod", "prod", EventType::kWarning, kReasonSyncFailed, "too soon"));
  clock.advance(6s);  // 0.8 + 6/5 tokens: one to spend
  CHECK(rec.record("prod", "prod", EventType::kWarning, kReasonSyncFailed, "later"));
  rec.flush();
  CHECK(events(kube).size() == 5);
  CHECK(kube.count("apply") == 5);
}

TEST_CASE("a full queue drops; a failed write is logged with the Event's name") {
  FakeKube kube;  // no Event kind: every write fails
  std::vector<std::string> logs;
  std::mutex mu;
  {
    EventRecorder rec(kube, EventRecorderOptions{.log = [&](const std::string& m) {
                        std::lock_guard<std::mutex> lock(mu);
                        logs.push_back(m);
                      }});
    CHECK(rec.record("dev", "dev", EventType::kNormal, kReasonSyncSucceeded, "ok"));
    rec.flush();
  }
  REQUIRE(logs.size() == 1);
  CHECK(contains(logs[0], "Event dev/windlass-dev."));
  EventRecorder none(kube, EventRecorderOptions{.queueCapacity = 0});
  CHECK_FALSE(none.record("dev", "dev", EventType::kNormal, kReasonSyncSucceeded, "ok"));
  CHECK(none.dropped() == 1);
}

}  // namespace
}  // namespace windlass::agent
