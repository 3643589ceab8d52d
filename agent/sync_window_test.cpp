#include "agent/sync_window.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace windlass::agent {
namespace {

using Clock = std::chrono::system_clock;

// "2026-12-06T11:00:00Z" → that instant.
Clock::time_point utc(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  REQUIRE(std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s) == 6);
  using namespace std::chrono;
  sys_days day{year(y) / month(static_cast<unsigned>(mo)) / static_cast<unsigned>(d)};
  return Clock::time_point(day) + hours(h) + minutes(mi) + seconds(s);
}

int64_t unix(const std::string& text) {
  return std::chrono::floor<std::chrono::seconds>(utc(text)).time_since_epoch().count();
}

SyncWindow window(SyncWindow::Kind kind, const std::string& schedule, const std::string& duration,
                  const std::string& zone = "UTC") {
  SyncWindow w;
  w.kind = kind;
  w.schedule = schedule;
  auto cron = parseCron(schedule);
  REQUIRE_MESSAGE(cron, cron.error().message());
  w.cron = *cron;
  auto d = parseDuration(duration);
  REQUIRE_MESSAGE(d, d.error().message());
  w.duration = *d;
  w.timeZone = zone;
  return w;
}

const SyncWindow::Kind kAllow = SyncWindow::Kind::kAllow;
const SyncWindow::Kind kDeny = SyncWindow::Kind::kDeny;

WindowVerdict evaluate(const std::vector<SyncWindow>& windows, const std::string& now,
                       const ZoneLookup& zones) {
  auto v = evaluateWindows(windows, utc(now), zones);
  REQUIRE_MESSAGE(v, v.error().message());
  return *v;
}

// A zone whose offset is fixed, or an error for every other zone name.
class FixedZones : public ZoneLookup {
 public:
  Result<int32_t> utcOffset(std::string_view zone, int64_t) const override {
    if (zone == "Fixed/Plus0530") return 5 * 3600 + 30 * 60;
    return Status::notFound("time zone \"" + std::string(zone) + "\": not in the fake");
  }
};

TEST_CASE("no windows: always allowed") {
  TzifZoneLookup zones;
  WindowVerdict v = evaluate({}, "2026-12-06T11:00:00Z", zones);
  CHECK(v.allowed);
  CHECK(v.reason == "no sync windows");
  CHECK(v.until == Clock::time_point::max());
}

TEST_CASE("a Friday 22:00 Europe/Berlin deny window of 60h covers the weekend") {
  TzifZoneLookup zones;
  std::vector<SyncWindow> w = {window(kDeny, "0 22 * * 5", "60h", "Europe/Berlin")};
  // Friday 2026-12-04 22:00 CET is 21:00Z; 60h later is Monday 09:00Z (10:00 CET).
  WindowVerdict sunday = evaluate(w, "2026-12-06T11:00:00Z", zones);  // Sunday noon CET
  CHECK(!sunday.allowed);
  CHECK(sunday.reason ==
        R"(deny window "0 22 * * 5" (60h, Europe/Berlin) is open until 2026-12-07T09:00:00Z)");
  CHECK(sunday.until == utc("2026-12-07T09:00:00Z"));
  CHECK(!evaluate(w, "2026-12-04T21:00:00Z", zones).allowed);  // the minute it opens
  CHECK(!evaluate(w, "2026-12-07T08:59:59Z", zones).allowed);

  WindowVerdict before = evaluate(w, "2026-12-04T20:59:59Z", zones);
  CHECK(before.allowed);
  CHECK(before.reason == "no deny window is open");
  CHECK(before.until == utc("2026-12-04T21:00:00Z"));  // when the deny window opens
  WindowVerdict after = evaluate(w, "2026-12-07T09:00:00Z", zones);
  CHECK(after.allowed);
  CHECK(after.until == utc("2026-12-11T21:00:00Z"));  // next Friday

  // In summer the same window opens at 20:00Z (22:00 CEST).
  CHECK(!evaluate(w, "2026-07-03T20:00:00Z", zones).allowed);
  CHECK(evaluate(w, "2026-07-03T19:59:00Z", zones).allowed);
}

TEST_CASE("an allow window 09:00-17:00 UTC on weekdays") {
  TzifZoneLookup zones;
  std::vector<SyncWindow> w = {window(kAllow, "0 9 * * 1-5", "8h")};
  WindowVerdict monday = evaluate(w, "2026-12-07T10:00:00Z", zones);
  CHECK(monday.allowed);
  CHECK(monday.reason ==
        R"(allow window "0 9 * * 1-5" (8h, UTC) is open until 2026-12-07T17:00:00Z)");
  CHECK(monday.until == utc("2026-12-07T17:00:00Z"));
  CHECK(evaluate(w, "2026-12-07T09:00:00Z", zones).allowed);

  WindowVerdict evening = evaluate(w, "2026-12-07T17:00:00Z", zones);
  CHECK(!evening.allowed);
  CHECK(
      evening.reason ==
      R"(outside every allow window; the next, "0 9 * * 1-5" (8h, UTC), opens at 2026-12-08T09:00:00Z)");
  CHECK(evening.until == utc("2026-12-08T09:00:00Z"));

  WindowVerdict saturday = evaluate(w, "2026-12-12T12:00:00Z", zones);
  CHECK(!saturday.allowed);
  CHECK(saturday.until == utc("2026-12-14T09:00:00Z"));  // Monday

  // A deny window wins over an open allow window.
  w.push_back(window(kDeny, "0 12 * * *", "30m"));
  WindowVerdict lunch = evaluate(w, "2026-12-07T12:10:00Z", zones);
  CHECK(!lunch.allowed);
  CHECK(lunch.reason ==
        R"(deny window "0 12 * * *" (30m, UTC) is open until 2026-12-07T12:30:00Z)");
  // Allowed until the deny window opens, before the allow window closes.
  CHECK(evaluate(w, "2026-12-07T10:00:00Z", zones).until == utc("2026-12-07T12:00:00Z"));
}

TEST_CASE("an allow window that never opens within the horizon") {
  TzifZoneLookup zones;
  // 31 February never comes.
  std::vector<SyncWindow> w = {window(kAllow, "0 0 31 2 *", "1h")};
  WindowVerdict v = evaluate(w, "2026-12-07T10:00:00Z", zones);
  CHECK(!v.allowed);
  CHECK(v.reason == "outside every allow window; none opens within 366 days");
  CHECK(v.until == Clock::time_point::max());
}

TEST_CASE("DST boundaries in Europe/Berlin") {
  TzifZoneLookup zones;
  // Daily at 01:00 local for 2h. On 2026-03-29 clocks jump from 02:00 CET to 03:00 CEST
  // at 01:00Z: that day it opens at 00:00Z (01:00 CET), the next day at 23:00Z.
  std::vector<SyncWindow> daily = {window(kDeny, "0 1 * * *", "2h", "Europe/Berlin")};
  CHECK(evaluate(daily, "2026-03-29T01:30:00Z", zones).until == utc("2026-03-29T02:00:00Z"));
  CHECK(evaluate(daily, "2026-03-29T02:00:00Z", zones).allowed);
  CHECK(evaluate(daily, "2026-03-29T22:59:00Z", zones).allowed);
  CHECK(evaluate(daily, "2026-03-29T23:30:00Z", zones).until == utc("2026-03-30T01:00:00Z"));

  // 02:30 local does not exist on 2026-03-29 and happens twice on 2026-10-25 (00:30Z
  // in CEST, 01:30Z in CET): the window opens at neither, then at both.
  std::vector<SyncWindow> w = {window(kDeny, "30 2 * * *", "10m", "Europe/Berlin")};
  for (const char* t : {"2026-03-29T00:35:00Z", "2026-03-29T01:35:00Z", "2026-03-29T02:35:00Z"}) {
    INFO(t);
    CHECK(evaluate(w, t, zones).allowed);
  }
  CHECK(evaluate(w, "2026-03-28T01:35:00Z", zones).until == utc("2026-03-28T01:40:00Z"));  // CET
  CHECK(evaluate(w, "2026-03-30T00:35:00Z", zones).until == utc("2026-03-30T00:40:00Z"));  // CEST
  CHECK(evaluate(w, "2026-10-25T00:35:00Z", zones).until == utc("2026-10-25T00:40:00Z"));
  CHECK(evaluate(w, "2026-10-25T01:00:00Z", zones).allowed);
  CHECK(evaluate(w, "2026-10-25T01:35:00Z", zones).until == utc("2026-10-25T01:40:00Z"));
  // Allowed at 01:00Z, until the second 02:30.
  CHECK(evaluate(w, "2026-10-25T01:00:00Z", zones).until == utc("2026-10-25T01:30:00Z"));
}

TEST_CASE("a fake zone: windows follow the lookup; its errors name the window") {
  FixedZones zones;
  std::vector<SyncWindow> w = {window(kAllow, "0 9 * * *", "1h", "Fixed/Plus0530")};
  CHECK(evaluate(w, "2026-12-07T03:30:00Z", zones).allowed);  // 09:00 local
  CHECK(!evaluate(w, "2026-12-07T04:30:00Z", zones).allowed);
  w.push_back(window(kDeny, "0 0 * * *", "1h", "Mars/Olympus"));
  auto v = evaluateWindows(w, utc("2026-12-07T03:30:00Z"), zones);
  REQUIRE(!v);
  CHECK(v.error().code() == Code::kNotFound);
  CHECK(v.error().message() == R"(syncWindows[1]: time zone "Mars/Olympus": not in the fake)");
}

TEST_CASE("TZif files: transitions, the footer after them, unknown zones") {
  TzifZoneLookup zones;
  struct Case {
    const char* zone;
    const char* when;
    int32_t offset;
  };
  const Case cases[] = {
      {"UTC", "2026-07-01T00:00:00Z", 0},
      {"Europe/Berlin", "2026-01-15T12:00:00Z", 3600},
      {"Europe/Berlin", "2026-07-15T12:00:00Z", 7200},
      {"Europe/Berlin", "2026-03-29T00:59:59Z", 3600},
      {"Europe/Berlin", "2026-03-29T01:00:00Z", 7200},
      {"Europe/Berlin", "1975-07-01T00:00:00Z", 3600},  // no DST in Germany then
      // 2040 lies after the last transition of a fat file (2037): the footer answers.
      {"Europe/Berlin", "2040-03-25T00:59:59Z", 3600},
      {"Europe/Berlin", "2040-03-25T01:00:00Z", 7200},
      {"Europe/Berlin", "2040-10-28T00:59:59Z", 7200},
      {"Europe/Berlin", "2040-10-28T01:00:00Z", 3600},
      {"Australia/Sydney", "2040-01-15T00:00:00Z", 39600},
      {"Australia/Sydney", "2040-07-15T00:00:00Z", 36000},
      {"America/New_York", "2040-03-11T06:59:59Z", -18000},
      {"America/New_York", "2040-03-11T07:00:00Z", -14400},
      {"Asia/Kolkata", "2026-07-01T00:00:00Z", 19800},
  };
  for (const Case& c : cases) {
    INFO(c.zone << " at " << c.when);
    auto off = zones.utcOffset(c.zone, unix(c.when));
    REQUIRE_MESSAGE(off, off.error().message());
    CHECK(*off == c.offset);
  }
  auto missing = zones.utcOffset("Mars/Olympus", 0);
  REQUIRE(!missing);
  CHECK(missing.error().code() == Code::kNotFound);
  CHECK(missing.error().message() ==
        R"(time zone "Mars/Olympus": cannot open /usr/share/zoneinfo/Mars/Olympus)");
  CHECK(zones.utcOffset("../etc/passwd", 0).error().message() ==
        R"(time zone "../etc/passwd": not a zone name)");
  std::string dir = (std::filesystem::temp_directory_path() / "windlass-zone-test.XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  std::filesystem::create_directories(dir + "/Bad");
  std::ofstream(dir + "/Bad/Zone") << "hello\n";
  auto notTzif = TzifZoneLookup(dir).utcOffset("Bad/Zone", 0);
  std::filesystem::remove_all(dir);
  REQUIRE(!notTzif);
  CHECK(notTzif.error().code() == Code::kFailedPrecondition);
  CHECK(notTzif.error().message() ==
        "time zone \"Bad/Zone\": " + dir + "/Bad/Zone: not a TZif file");
}

TEST_CASE("POSIX TZ strings") {
  struct Case {
    const char* tz;
    const char* when;
    int32_t offset;
  };
  const Case cases[] = {
      {"CET-1CEST,M3.5.0,M10.5.0/3", "2040-03-25T00:59:59Z", 3600},
      {"CET-1CEST,M3.5.0,M10.5.0/3", "2040-03-25T01:00:00Z", 7200},
      {"CET-1CEST,M3.5.0,M10.5.0/3", "2040-10-28T00:59:59Z", 7200},
      {"CET-1CEST,M3.5.0,M10.5.0/3", "2040-10-28T01:00:00Z", 3600},
      {"AEST-10AEDT,M10.1.0,M4.1.0/3", "2040-01-15T00:00:00Z", 39600},  // southern summer
      {"AEST-10AEDT,M10.1.0,M4.1.0/3", "2040-07-15T00:00:00Z", 36000},
      {"EST5EDT", "2040-03-11T06:59:59Z", -18000},  // default US rules
      {"EST5EDT", "2040-03-11T07:00:00Z", -14400},
      {"<+0330>-3:30", "2040-03-11T07:00:00Z", 12600},
      {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", "2040-07-01T00:00:00Z", -7200},
      {"XST8XDT,J60,J300", "2040-03-01T09:59:59Z", -28800},  // J60 is 1 March, even in leap years
      {"XST8XDT,J60,J300", "2040-03-01T10:00:00Z", -25200},
      {"XST8XDT,59,300", "2040-02-29T10:00:00Z", -25200},  // day 59 counts 29 February
  };
  for (const Case& c : cases) {
    INFO(c.tz << " at " << c.when);
    auto off = posixTzOffset(c.tz, unix(c.when));
    REQUIRE_MESSAGE(off, off.error().message());
    CHECK(*off == c.offset);
  }
  CHECK(posixTzOffset("CET", 0).error().message() ==
        R"(invalid TZ string "CET": bad standard time offset)");
  CHECK(posixTzOffset("CET-1CEST,M13.5.0,M10.5.0", 0).error().message() ==
        R"(invalid TZ string "CET-1CEST,M13.5.0,M10.5.0": bad DST start rule)");
  CHECK(posixTzOffset("CET-1CEST,M3.5.0", 0).error().message() ==
        R"(invalid TZ string "CET-1CEST,M3.5.0": bad DST end rule)");
}

TEST_CASE("formatUtc") {
  CHECK(formatUtc(utc("2026-12-07T09:00:00Z")) == "2026-12-07T09:00:00Z");
  CHECK(formatUtc(utc("1969-12-31T23:59:59Z")) == "1969-12-31T23:59:59Z");
}

}  // namespace
}  // namespace windlass::agent
