#include "agent/sync_window.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

namespace windlass::agent {

using Clock = std::chrono::system_clock;

namespace {

constexpr int64_t kDay = 86400;

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// ---- POSIX TZ strings (the TZif footer) ----

struct Rule {
  enum class Kind { kMonth, kJulian1, kJulian0 };  // Mm.w.d, Jn (no Feb 29), n (0-365)
  Kind kind = Kind::kMonth;
  int month = 0, week = 0, weekday = 0, day = 0;
  int32_t time = 7200;  // local seconds after midnight; default 02:00
};

struct PosixTz {
  int32_t stdOffset = 0;  // seconds east of UTC
  bool hasDst = false;
  int32_t dstOffset = 0;
  Rule start, end;
};

class TzParser {
 public:
  explicit TzParser(std::string_view s) : s_(s) {}

  // Returns "" on success, else why not.
  std::string parse(PosixTz* out) {
    if (!name()) return "bad standard time name";
    int32_t off = 0;
    if (!offset(&off, 24)) return "bad standard time offset";
    out->stdOffset = -off;
    if (at_ == s_.size()) return "";
    if (!name()) return "bad DST name";
    out->hasDst = true;
    out->dstOffset = out->stdOffset + 3600;
    if (at_ < s_.size() && s_[at_] != ',') {
      if (!offset(&off, 24)) return "bad DST offset";
      out->dstOffset = -off;
    }
    if (at_ == s_.size()) {
      out->start = Rule{Rule::Kind::kMonth, 3, 2, 0, 0, 7200};
      out->end = Rule{Rule::Kind::kMonth, 11, 1, 0, 0, 7200};
      return "";
    }
    if (!eat(',') || !rule(&out->start)) return "bad DST start rule";
    if (!eat(',') || !rule(&out->end)) return "bad DST end rule";
    if (at_ != s_.size()) return "unexpected " + quote(s_.substr(at_));
    return "";
  }

 private:
  bool eat(char c) {
    if (at_ < s_.size() && s_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool name() {
    if (eat('<')) {
      size_t close = s_.find('>', at_);
      if (close == std::string_view::npos || close == at_) return false;
      at_ = close + 1;
      return true;
    }
    size_t start = at_;
    while (at_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[at_]))) ++at_;
    return at_ - start >= 3;
  }
  bool number(int* out, int max) {
    size_t start = at_;
    int n = 0;
    while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9' && at_ - start < 4) {
      n = n * 10 + (s_[at_++] - '0');
    }
    *out = n;
    return at_ > start && n <= max;
  }
  // [+-]hh[:mm[:ss]]; hours at most maxHours.
  bool offset(int32_t* out, int maxHours) {
    int sign = 1;
    if (eat('-')) {
      sign = -1;
    } else {
      eat('+');
    }
    int h = 0, m = 0, sec = 0;
    if (!number(&h, maxHours)) return false;
    if (eat(':')) {
      if (!number(&m, 59)) return false;
      if (eat(':') && !number(&sec, 59)) return false;
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
  }
  bool rule(Rule* r) {
    if (eat('M')) {
      r->kind = Rule::Kind::kMonth;
      if (!number(&r->month, 12) || r->month < 1 || !eat('.')) return false;
      if (!number(&r->week, 5) || r->week < 1 || !eat('.')) return false;
      if (!number(&r->weekday, 6)) return false;
    } else if (eat('J')) {
      r->kind = Rule::Kind::kJulian1;
      if (!number(&r->day, 365) || r->day < 1) return false;
    } else {
      r->kind = Rule::Kind::kJulian0;
      if (!number(&r->day, 365)) return false;
    }
    r->time = 7200;
    if (eat('/')) return offset(&r->time, 167);
    return true;
  }

  std::string_view s_;
  size_t at_ = 0;
};

// Local midnight (in days since the epoch) of the day `r` names in `year`.
int64_t ruleDay(const Rule& r, int year) {
  using namespace std::chrono;
  sys_days jan1{std::chrono::year(year) / January / 1};
  switch (r.kind) {
    case Rule::Kind::kJulian1: {
      bool leap = std::chrono::year(year).is_leap();
      return jan1.time_since_epoch().count() + r.day - 1 + (leap && r.day >= 60 ? 1 : 0);
    }
    case Rule::Kind::kJulian0:
      return jan1.time_since_epoch().count() + r.day;
    case Rule::Kind::kMonth:
      break;
  }
  auto ym = std::chrono::year(year) / month(static_cast<unsigned>(r.month));
  sys_days first{ym / 1};
  int firstWeekday = static_cast<int>(weekday(first).c_encoding());
  int dayOfMonth = 1 + (r.weekday - firstWeekday + 7) % 7 + (r.week - 1) * 7;
  int lastDay = static_cast<int>(static_cast<unsigned>(year_month_day_last(ym / last).day()));
  while (dayOfMonth > lastDay) dayOfMonth -= 7;
  return first.time_since_epoch().count() + dayOfMonth - 1;
}

int32_t posixOffset(const PosixTz& tz, int64_t t) {
  if (!tz.hasDst) return tz.stdOffset;
  using namespace std::chrono;
  int64_t localDays = floorDiv(t + tz.stdOffset, kDay);
  int year = static_cast<int>(year_month_day(sys_days(days(localDays))).year());
  int64_t start = ruleDay(tz.start, year) * kDay + tz.start.time - tz.stdOffset;
  int64_t end = ruleDay(tz.end, year) * kDay + tz.end.time - tz.dstOffset;
  bool dst = start < end ? (start <= t && t < end) : !(end <= t && t < start);
  return dst ? tz.dstOffset : tz.stdOffset;
}

// ---- TZif ----

class Reader {
 public:
  explicit Reader(std::string_view data) : d_(data) {}
  bool has(size_t n) const { return d_.size() - at_ >= n; }
  int64_t be(size_t n) {  // n = 4 or 8, signed
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(d_[at_ + i]);
    at_ += n;
    if (n == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
    return static_cast<int64_t>(v);
  }
  uint8_t byte() { return static_cast<unsigned char>(d_[at_++]); }
  void skip(size_t n) { at_ += n; }
  size_t at() const { return at_; }
  std::string_view rest() const { return d_.substr(at_); }

 private:
  std::string_view d_;
  size_t at_ = 0;
};

}  // namespace

struct TzifZoneLookup::Zone {
  std::vector<int64_t> times;     // transition instants, ascending
  std::vector<uint8_t> types;     // index into offsets, one per transition
  std::vector<int32_t> offsets;   // ttinfo utoff, seconds east of UTC
  std::optional<PosixTz> footer;  // for instants after the last transition
};

namespace {

// Parses the TZif data of `bytes`. Returns "" on success, else why not.
std::string parseTzif(std::string_view bytes, TzifZoneLookup::Zone* zone) {
  Reader r(bytes);
  auto header = [&](char* version, int64_t counts[6]) {
    if (!r.has(44) || r.rest().substr(0, 4) != "TZif") return false;
    r.skip(4);
    *version = static_cast<char>(r.byte());
    r.skip(15);
    for (int i = 0; i < 6; ++i) counts[i] = r.be(4);
    return true;
  };
  char version = 0;
  int64_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  if (!header(&version, c)) return "not a TZif file";
  auto blockSize = [&](size_t timeSize) {
    return static_cast<size_t>(c[3]) * (timeSize + 1) + static_cast<size_t>(c[4]) * 6 +
           static_cast<size_t>(c[5]) + static_cast<size_t>(c[2]) * (timeSize + 4) +
           static_cast<size_t>(c[1]) + static_cast<size_t>(c[0]);
  };
  size_t timeSize = 4;
  if (version >= '2') {
    // Skip the version 1 block; the second header describes the 64-bit block.
    if (!r.has(blockSize(4))) return "truncated";
    r.skip(blockSize(4));
    if (!header(&version, c)) return "missing the second header";
    timeSize = 8;
  }
  for (int64_t n : c) {
    if (n < 0 || n > 100000) return "implausible counts";
  }
  if (c[4] < 1) return "no local time types";
  if (!r.has(blockSize(timeSize))) return "truncated";
  for (int64_t i = 0; i < c[3]; ++i) zone->times.push_back(r.be(timeSize));
  for (int64_t i = 0; i < c[3]; ++i) {
    uint8_t type = r.byte();
    if (type >= c[4]) return "transition type out of range";
    zone->types.push_back(type);
  }
  for (int64_t i = 0; i < c[4]; ++i) {
    zone->offsets.push_back(static_cast<int32_t>(r.be(4)));
    r.skip(2);  // isdst, desigidx
  }
  r.skip(blockSize(timeSize) - static_cast<size_t>(c[3]) * (timeSize + 1) -
         static_cast<size_t>(c[4]) * 6);
  if (version >= '2') {
    std::string_view rest = r.rest();
    if (rest.size() >= 2 && rest[0] == '\n') {
      size_t end = rest.find('\n', 1);
      std::string_view tz = rest.substr(1, end == std::string_view::npos ? end : end - 1);
      if (!tz.empty()) {
        PosixTz posix;
        std::string why = TzParser(tz).parse(&posix);
        if (!why.empty()) return "footer " + quote(tz) + ": " + why;
        zone->footer = posix;
      }
    }
  }
  return "";
}

int32_t zoneOffset(const TzifZoneLookup::Zone& z, int64_t t) {
  if (z.times.empty() || t < z.times.front()) {
    if (z.times.empty() && z.footer) return posixOffset(*z.footer, t);
    return z.offsets[0];
  }
  if (t >= z.times.back() && z.footer) return posixOffset(*z.footer, t);
  size_t i = std::upper_bound(z.times.begin(), z.times.end(), t) - z.times.begin();
  return z.offsets[z.types[i - 1]];
}

}  // namespace

Result<int32_t> posixTzOffset(std::string_view tz, int64_t unixSeconds) {
  PosixTz posix;
  std::string why = TzParser(tz).parse(&posix);
  if (!why.empty()) return Status::invalidArgument("invalid TZ string " + quote(tz) + ": " + why);
  return posixOffset(posix, unixSeconds);
}

TzifZoneLookup::TzifZoneLookup(std::string zoneinfoDir) : dir_(std::move(zoneinfoDir)) {}
TzifZoneLookup::~TzifZoneLookup() = default;

Result<int32_t> TzifZoneLookup::utcOffset(std::string_view zone, int64_t unixSeconds) const {
  if (zone == "UTC") return 0;
  std::shared_ptr<const Zone> parsed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = zones_.find(zone); it != zones_.end()) parsed = it->second;
  }
  if (!parsed) {
    std::string prefix = "time zone " + quote(zone);
    if (zone.empty() || zone.front() == '/' || zone.find("..") != std::string_view::npos) {
      return Status::notFound(prefix + ": not a zone name");
    }
    std::string path = dir_ + "/" + std::string(zone);
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::notFound(prefix + ": cannot open " + path);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    auto z = std::make_shared<Zone>();
    std::string why = parseTzif(bytes.str(), z.get());
    if (!why.empty()) return Status::failedPrecondition(prefix + ": " + path + ": " + why);
    parsed = z;
    std::lock_guard<std::mutex> lock(mu_);
    zones_.emplace(std::string(zone), parsed);
  }
  return zoneOffset(*parsed, unixSeconds);
}

// ---- Windows ----

namespace {

struct LocalMinute {
  int minute, hour, day, month, weekday;
};

LocalMinute breakDown(int64_t local) {
  using namespace std::chrono;
  int64_t d = floorDiv(local, kDay);
  int64_t secs = local - d * kDay;
  sys_days day{days(d)};
  year_month_day ymd(day);
  return {static_cast<int>(secs % 3600 / 60), static_cast<int>(secs / 3600),
          static_cast<int>(static_cast<unsigned>(ymd.day())),
          static_cast<int>(static_cast<unsigned>(ymd.month())),
          static_cast<int>(weekday(day).c_encoding())};
}

// Walks UTC minutes, skipping local hours in which the schedule cannot fire.
class Scanner {
 public:
  Scanner(const SyncWindow& w, const ZoneLookup& zones) : w_(w), zones_(zones) {
    while (!w.cron.minutes[firstMinute_] && firstMinute_ < 59) ++firstMinute_;
  }

  // The latest minute m (unix seconds) with from >= m >= stop at which the schedule
  // fires, or nullopt. `from` is a minute boundary.
  Result<std::optional<int64_t>> latest(int64_t from, int64_t stop) const {
    for (int64_t m = from; m >= stop;) {
      auto local = at(m);
      if (!local) return local.error();
      if (!hourMatches(*local)) {
        m -= (local->minute + 1) * 60;  // to the last minute of the previous local hour
      } else if (w_.cron.minutes[local->minute]) {
        return std::optional<int64_t>(m);
      } else {
        m -= 60;
      }
    }
    return std::optional<int64_t>();
  }

  // The earliest minute m with from <= m <= stop at which the schedule fires.
  Result<std::optional<int64_t>> earliest(int64_t from, int64_t stop) const {
    for (int64_t m = from; m <= stop;) {
      auto local = at(m);
      if (!local) return local.error();
      if (!hourMatches(*local)) {
        m += (60 - local->minute) * 60;  // to the first minute of the next local hour
      } else if (w_.cron.minutes[local->minute]) {
        return std::optional<int64_t>(m);
      } else {
        m += 60;
      }
    }
    return std::optional<int64_t>();
  }

 private:
  Result<LocalMinute> at(int64_t m) const {
    auto off = zones_.utcOffset(w_.timeZone, m);
    if (!off) return off.error();
    return breakDown(m + *off);
  }
  bool hourMatches(const LocalMinute& l) const {
    return w_.cron.matches(firstMinute_, l.hour, l.day, l.month, l.weekday);
  }

  const SyncWindow& w_;
  const ZoneLookup& zones_;
  int firstMinute_ = 0;
};

std::string shortDuration(Duration d) {
  std::string s = formatDuration(d);
  if (s.ends_with("m0s")) s.resize(s.size() - 2);
  if (s.ends_with("h0m")) s.resize(s.size() - 2);
  return s;
}

std::string describe(const SyncWindow& w) {
  return std::string(windowKindName(w.kind)) + " window " + quote(w.schedule) + " (" +
         shortDuration(w.duration) + ", " + w.timeZone + ")";
}

Clock::time_point fromSeconds(int64_t s) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(s)));
}

constexpr int64_t kHorizon = 366 * kDay;

}  // namespace

std::string formatUtc(Clock::time_point t) {
  using namespace std::chrono;
  auto s = floor<seconds>(t).time_since_epoch().count();
  int64_t d = floorDiv(s, kDay);
  int64_t secs = s - d * kDay;
  year_month_day ymd{sys_days(days(d))};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(secs / 3600), static_cast<int>(secs % 3600 / 60),
                static_cast<int>(secs % 60));
  return buf;
}

Result<WindowVerdict> evaluateWindows(const std::vector<SyncWindow>& windows, Clock::time_point now,
                                      const ZoneLookup& zones) {
  WindowVerdict v;
  if (windows.empty()) {
    v.reason = "no sync windows";
    return v;
  }
  int64_t nowS = std::chrono::floor<std::chrono::seconds>(now).time_since_epoch().count();
  Clock::time_point nowTp = fromSeconds(nowS);
  int64_t nowMinute = floorDiv(nowS, 60) * 60;

  // Per window: the end of its current opening, if open.
  const SyncWindow* lastDeny = nullptr;
  const SyncWindow* lastAllow = nullptr;
  Clock::time_point denyEnd = Clock::time_point::min(), allowEnd = Clock::time_point::min();
  bool anyAllow = false;
  for (size_t i = 0; i < windows.size(); ++i) {
    const SyncWindow& w = windows[i];
    std::string where = "syncWindows[" + std::to_string(i) + "]";
    anyAllow = anyAllow || w.kind == SyncWindow::Kind::kAllow;
    if (w.duration.count() <= 0) continue;
    auto durS = std::chrono::ceil<std::chrono::seconds>(w.duration).count();
    // Fired at m with m <= now < m + duration: m > now - duration.
    auto fired = Scanner(w, zones).latest(nowMinute, nowS - durS + 1);
    if (!fired) return fired.error().withContext(where);
    if (!*fired) continue;
    Clock::time_point end =
        fromSeconds(**fired) + std::chrono::duration_cast<Clock::duration>(w.duration);
    if (end <= nowTp) continue;
    if (w.kind == SyncWindow::Kind::kDeny && end > denyEnd) {
      denyEnd = end;
      lastDeny = &w;
    } else if (w.kind == SyncWindow::Kind::kAllow && end > allowEnd) {
      allowEnd = end;
      lastAllow = &w;
    }
  }

  if (lastDeny != nullptr) {
    v.allowed = false;
    v.until = denyEnd;
    v.reason = describe(*lastDeny) + " is open until " + formatUtc(denyEnd);
    return v;
  }

  // The next opening of a window of `kind` after now, within the horizon.
  auto nextOpening = [&](SyncWindow::Kind kind,
                         const SyncWindow** which) -> Result<std::optional<int64_t>> {
    std::optional<int64_t> best;
    for (size_t i = 0; i < windows.size(); ++i) {
      const SyncWindow& w = windows[i];
      if (w.kind != kind || w.duration.count() <= 0) continue;
      int64_t stop = best ? *best - 60 : nowMinute + kHorizon;
      auto next = Scanner(w, zones).earliest(nowMinute + 60, stop);
      if (!next) return next.error().withContext("syncWindows[" + std::to_string(i) + "]");
      if (*next) {
        best = **next;
        *which = &w;
      }
    }
    return best;
  };

  if (anyAllow && lastAllow == nullptr) {
    v.allowed = false;
    const SyncWindow* which = nullptr;
    auto next = nextOpening(SyncWindow::Kind::kAllow, &which);
    if (!next) return next.error();
    v.reason = "outside every allow window";
    if (*next) {
      v.until = fromSeconds(**next);
      v.reason += "; the next, " + quote(which->schedule) + " (" + shortDuration(which->duration) +
                  ", " + which->timeZone + "), opens at " + formatUtc(v.until);
    } else {
      v.reason += "; none opens within 366 days";
    }
    return v;
  }

  v.allowed = true;
  v.reason = lastAllow != nullptr ? describe(*lastAllow) + " is open until " + formatUtc(allowEnd)
                                  : "no deny window is open";
  if (lastAllow != nullptr) v.until = allowEnd;
  const SyncWindow* which = nullptr;
  auto nextDeny = nextOpening(SyncWindow::Kind::kDeny, &which);
  if (!nextDeny) return nextDeny.error();
  if (*nextDeny) v.until = std::min(v.until, fromSeconds(**nextDeny));
  return v;
}

}  // namespace windlass::agent
