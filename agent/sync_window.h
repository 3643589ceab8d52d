// Sync windows: whether an environment may sync at a given moment, as Argo CD's sync
// windows decide it.
//
// A window is open at `now` when its cron schedule, read in the window's time zone,
// fired at some minute t with t <= now < t + duration. With no windows every sync is
// allowed. If any deny window is open, sync is denied. Otherwise, if there are allow
// windows and none is open, sync is denied ("outside every allow window"). Otherwise
// it is allowed.
//
// Time zones: g++ 12 has no std::chrono::tzdb, so TzifZoneLookup reads the TZif files
// under /usr/share/zoneinfo itself (RFC 8536: the 64-bit data block of version 2+
// files, else the version 1 block; after the last transition, the POSIX TZ footer with
// its DST rules, e.g. "CET-1CEST,M3.5.0,M10.5.0/3"). It was preferred to setenv("TZ")
// + tzset() + localtime_r because that changes process-wide state under every other
// thread's feet (a mutex only guards our own callers, not spdlog or libgit2 calling
// localtime), and the reader is about 250 lines.
//
// Thread safety: evaluateWindows() is a pure function; TzifZoneLookup is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"
#include "core/status.h"

namespace windlass::agent {

// Maps a UTC instant to a zone's offset. The seam for tests (a fake zone with a fixed
// offset or hand-made transitions).
class ZoneLookup {
 public:
  virtual ~ZoneLookup() = default;

  // The offset of local time in `zone` from UTC, in seconds east of UTC (+3600 for
  // CET), at the instant `unixSeconds`. NotFound when the zone is unknown;
  // FailedPrecondition when its data cannot be read or is malformed; messages name the
  // zone: `time zone "Europe/Berlinn": ...`.
  virtual Result<int32_t> utcOffset(std::string_view zone, int64_t unixSeconds) const = 0;
};

// Reads TZif files `<zoneinfoDir>/<zone>` (default /usr/share/zoneinfo). "UTC" needs
// no file. Each zone is read once and kept for the object's life. Thread-safe.
class TzifZoneLookup : public ZoneLookup {
 public:
  explicit TzifZoneLookup(std::string zoneinfoDir = "/usr/share/zoneinfo");
  ~TzifZoneLookup() override;

  Result<int32_t> utcOffset(std::string_view zone, int64_t unixSeconds) const override;

  struct Zone;  // parsed TZif data; defined in sync_window.cpp

 private:
  std::string dir_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<const Zone>, std::less<>> zones_;  // by mu_
};

// The offset (seconds east of UTC) that the POSIX TZ string `tz` (a TZif footer such
// as "CET-1CEST,M3.5.0,M10.5.0/3", "<+0330>-3:30", "EST5EDT") gives at `unixSeconds`.
// Rules may be Mm.w.d, Jn or n, with times from -167 to 167 hours; without rules a DST
// zone uses the US rules "M3.2.0,M11.1.0". InvalidArgument `invalid TZ string "TZ":
// WHY` when malformed. Exposed for tests.
[[nodiscard]] Result<int32_t> posixTzOffset(std::string_view tz, int64_t unixSeconds);

// The verdict on one instant.
struct WindowVerdict {
  bool allowed = true;
  // Why, for logs and status:
  //   "no sync windows"
  //   `deny window "0 22 * * 5" (60h, Europe/Berlin) is open until 2026-12-07T10:00:00Z`
  //   `outside every allow window; the next, "0 9 * * 1-5" (8h, UTC), opens at
  //    2026-12-07T09:00:00Z` (or "...; none opens within 366 days")
  //   `allow window "0 9 * * 1-5" (8h, UTC) is open until 2026-12-07T17:00:00Z`
  //   "no deny window is open"
  std::string reason;
  // When the verdict may change next, as far as these windows tell: denied by deny
  // windows, the end of the open deny window that closes last; outside the allow
  // windows, the next opening of one (looked for up to 366 days ahead); allowed, the
  // earlier of the next opening of a deny window (up to 366 days ahead) and the end of
  // the open allow window that closes last. time_point::max() when nothing changes
  // within that horizon (always, with no windows). Another window may still keep the
  // verdict unchanged at that moment: evaluate again then.
  std::chrono::system_clock::time_point until = std::chrono::system_clock::time_point::max();
};

// Evaluates `windows` at `now` (rounded down to whole seconds). A window's schedule is
// matched minute by minute in its time zone, looking back at most its duration (hours
// in which the schedule cannot fire are skipped whole). On failure (a time zone that
// `zones` cannot resolve) returns that status with `syncWindows[i]: ` in front; the
// caller should treat it as denied. `zones` is borrowed for the call.
[[nodiscard]] Result<WindowVerdict> evaluateWindows(const std::vector<SyncWindow>& windows,
                                                    std::chrono::system_clock::time_point now,
                                                    const ZoneLookup& zones);

// "2026-12-07T10:00:00Z" (UTC, whole seconds).
std::string formatUtc(std::chrono::system_clock::time_point t);

}  // namespace windlass::agent
