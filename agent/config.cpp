#include "agent/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <utility>

#include "core/json.h"
#include "overlays/yaml.h"
#include "sources/image_policy.h"
#include "sources/registry.h"
#include "sources/semver.h"

namespace windlass::agent {
namespace {

constexpr std::string_view kApiVersion = "windlass.dev/v1alpha1";
constexpr std::string_view kKind = "Agent";

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// ---- durations ----------------------------------------------------------------

Status durationError(std::string_view text, std::string_view why) {
  return Status::invalidArgument("invalid duration " + quote(text) + ": " + std::string(why));
}

}  // namespace

Result<Duration> parseDuration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return Duration(0);
  if (s.empty()) return durationError(text, "empty");
  // Nanoseconds, accumulated as unsigned to allow exactly 2^63 for a negative value.
  constexpr uint64_t kLimit = uint64_t{1} << 63;
  uint64_t total = 0;
  while (!s.empty()) {
    uint64_t whole = 0;
    bool pre = false;
    bool overflow = false;
    while (!s.empty() && isDigit(s[0])) {
      pre = true;
      if (whole > (kLimit - (s[0] - '0')) / 10) overflow = true;
      if (!overflow) whole = whole * 10 + static_cast<uint64_t>(s[0] - '0');
      s.remove_prefix(1);
    }
    if (overflow) return durationError(text, "too large");
    uint64_t fraction = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      while (!s.empty() && isDigit(s[0])) {
        post = true;
        if (scale < 1e18) {  // digits beyond nanosecond precision of an hour do not matter
          fraction = fraction * 10 + static_cast<uint64_t>(s[0] - '0');
          scale *= 10;
        }
        s.remove_prefix(1);
      }
    }
    if (!pre && !post) return durationError(text, "expected a number");
    size_t unitLen = 0;
    while (unitLen < s.size() && s[unitLen] != '.' && !isDigit(s[unitLen])) ++unitLen;
    if (unitLen == 0) return durationError(text, "missing unit (use h, m, s, ms, us or ns)");
    std::string_view unit = s.substr(0, unitLen);
    s.remove_prefix(unitLen);
    uint64_t perUnit = 0;
    if (unit == "ns")
      perUnit = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      perUnit = 1000;
    else if (unit == "ms")
      perUnit = 1000000;
    else if (unit == "s")
      perUnit = 1000000000;
    else if (unit == "m")
      perUnit = 60ull * 1000000000;
    else if (unit == "h")
      perUnit = 3600ull * 1000000000;
    else
      return durationError(text, "unknown unit " + quote(unit) + " (use h, m, s, ms, us or ns)");
    if (whole > kLimit / perUnit) return durationError(text, "too large");
    uint64_t value = whole * perUnit;
    if (fraction > 0) {
      value += static_cast<uint64_t>(
          std::llround(static_cast<double>(fraction) * (static_cast<double>(perUnit) / scale)));
    }
    if (value > kLimit - total) return durationError(text, "too large");
    total += value;
  }
  if (!negative && total == kLimit) return durationError(text, "too large");
  if (negative)
    return Duration(total == kLimit ? std::numeric_limits<int64_t>::min()
                                    : -static_cast<int64_t>(total));
  return Duration(static_cast<int64_t>(total));
}

namespace {

// Appends `value / unit` with the fraction's trailing zeros dropped.
void appendFraction(std::string& out, uint64_t value, uint64_t unit) {
  out += std::to_string(value / unit);
  uint64_t rest = value % unit;
  if (rest == 0) return;
  std::string digits;
  for (uint64_t u = unit / 10; u > 0; u /= 10) {
    digits += static_cast<char>('0' + rest / u);
    rest %= u;
  }
  while (!digits.empty() && digits.back() == '0') digits.pop_back();
  out += "." + digits;
}

}  // namespace

std::string formatDuration(Duration duration) {
  int64_t n = duration.count();
  if (n == 0) return "0s";
  std::string out = n < 0 ? "-" : "";
  uint64_t u = n < 0 ? uint64_t{0} - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  constexpr uint64_t kSecond = 1000000000;
  if (u < kSecond) {
    if (u < 1000) {
      appendFraction(out, u, 1);
      return out + "ns";
    }
    if (u < 1000000) {
      appendFraction(out, u, 1000);
      return out + "us";
    }
    appendFraction(out, u, 1000000);
    return out + "ms";
  }
  uint64_t hours = u / (3600 * kSecond);
  u %= 3600 * kSecond;
  uint64_t minutes = u / (60 * kSecond);
  u %= 60 * kSecond;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  appendFraction(out, u, kSecond);
  return out + "s";
}

// ---- cron -----------------------------------------------------------------------

namespace {

struct CronField {
  const char* name;
  int min;
  int max;
  const char* const* names;  // names[0] stands for `min`, or nullptr
  int nameCount;
  bool dayField;  // accepts "?" for "*"
};

const char* const kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
const char* const kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

const CronField kCronFields[] = {
    {"minute", 0, 59, nullptr, 0, false},      {"hour", 0, 23, nullptr, 0, false},
    {"day-of-month", 1, 31, nullptr, 0, true}, {"month", 1, 12, kMonthNames, 12, false},
    {"day-of-week", 0, 7, kDayNames, 7, true},
};

// Parses one value of a field: a number or a name. Returns false with `why`.
bool cronValue(const CronField& f, std::string_view text, int* out, std::string* why) {
  if (text.empty()) {
    *why = std::string(f.name) + ": empty value";
    return false;
  }
  bool digits = true;
  for (char c : text) digits = digits && isDigit(c);
  if (digits) {
    int v = 0;
    for (char c : text) {
      v = v * 10 + (c - '0');
      if (v > 1000) break;
    }
    if (v < f.min || v > f.max) {
      *why = std::string(f.name) + ": " + std::string(text) + " is out of range " +
             std::to_string(f.min) + "-" + std::to_string(f.max);
      return false;
    }
    *out = v;
    return true;
  }
  for (int i = 0; i < f.nameCount; ++i) {
    std::string_view name = f.names[i];
    if (text.size() != name.size()) continue;
    bool same = true;
    for (size_t k = 0; k < name.size(); ++k) {
      same = same && std::toupper(static_cast<unsigned char>(text[k])) == name[k];
    }
    if (same) {
      *out = f.min + i;
      return true;
    }
  }
  *why = std::string(f.name) + ": " + quote(text) +
         (f.nameCount > 0 ? " is not a number or a name" : " is not a number");
  return false;
}

// Parses one field into bits (index = value). Returns false with `why`.
bool cronField(const CronField& f, std::string_view text, std::vector<bool>* bits, bool* restricted,
               std::string* why) {
  bits->assign(static_cast<size_t>(f.max) + 1, false);
  *restricted = !(text.starts_with("*") || text.starts_with("?"));
  while (true) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    std::string_view range = item;
    int step = 1;
    size_t slash = item.find('/');
    if (slash != std::string_view::npos) {
      range = item.substr(0, slash);
      std::string_view stepText = item.substr(slash + 1);
      bool digits = !stepText.empty() && stepText.size() < 4;
      for (char c : stepText) digits = digits && isDigit(c);
      if (!digits) {
        *why = std::string(f.name) + ": step " + quote(stepText) + " is not a number";
        return false;
      }
      step = std::atoi(std::string(stepText).c_str());
      if (step == 0) {
        *why = std::string(f.name) + ": step must be positive in " + quote(item);
        return false;
      }
    }
    int lo = 0;
    int hi = 0;
    bool isDayOfWeek = f.max == 7;
    if (range == "*" || range == "?") {
      if (range == "?" && !f.dayField) {
        *why = std::string(f.name) + ": \"?\" is only allowed in the day fields";
        return false;
      }
      lo = f.min;
      hi = isDayOfWeek ? 6 : f.max;
    } else {
      size_t dash = range.find('-');
      if (!cronValue(f, range.substr(0, dash), &lo, why)) return false;
      if (dash != std::string_view::npos) {
        if (!cronValue(f, range.substr(dash + 1), &hi, why)) return false;
        if (hi < lo) {
          *why = std::string(f.name) + ": range " + quote(range) + " is backwards";
          return false;
        }
      } else {
        hi = slash != std::string_view::npos ? (isDayOfWeek ? 6 : f.max) : lo;
      }
    }
    for (int v = lo; v <= hi; v += step) (*bits)[static_cast<size_t>(v)] = true;
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return true;
}

Status cronError(std::string_view text, std::string_view why) {
  return Status::invalidArgument("invalid schedule " + quote(text) + ": " + std::string(why));
}

}  // namespace

Result<CronSchedule> parseCron(std::string_view text) {
  std::string spec(text);
  if (spec.starts_with("@")) {
    static const std::pair<const char*, const char*> kDescriptors[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
    };
    bool found = false;
    for (const auto& [name, expansion] : kDescriptors) {
      if (spec == name) {
        spec = expansion;
        found = true;
      }
    }
    if (!found)
      return cronError(text,
                       "unknown descriptor (use @yearly, @monthly, @weekly, "
                       "@daily or @hourly)");
  }
  std::vector<std::string> fields;
  std::istringstream in(spec);
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() != 5) {
    return cronError(text,
                     "expected 5 fields (minute hour day-of-month month day-of-week), "
                     "found " +
                         std::to_string(fields.size()));
  }
  CronSchedule out;
  std::vector<bool> bits;
  std::string why;
  for (size_t i = 0; i < 5; ++i) {
    bool restricted = false;
    if (!cronField(kCronFields[i], fields[i], &bits, &restricted, &why)) {
      return cronError(text, why);
    }
    for (size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (i) {
        case 0:
          out.minutes.set(v);
          break;
        case 1:
          out.hours.set(v);
          break;
        case 2:
          out.daysOfMonth.set(v);
          break;
        case 3:
          out.months.set(v);
          break;
        case 4:
          out.daysOfWeek.set(v % 7);
          break;
      }
    }
    if (i == 2) out.daysOfMonthRestricted = restricted;
    if (i == 4) out.daysOfWeekRestricted = restricted;
  }
  return out;
}

bool CronSchedule::matches(int minute, int hour, int dayOfMonth, int month, int dayOfWeek) const {
  if (minute < 0 || minute > 59 || hour < 0 || hour > 23 || dayOfMonth < 1 || dayOfMonth > 31 ||
      month < 1 || month > 12 || dayOfWeek < 0 || dayOfWeek > 6) {
    return false;
  }
  if (!minutes.test(minute) || !hours.test(hour) || !months.test(month)) return false;
  bool dom = daysOfMonth.test(dayOfMonth);
  bool dow = daysOfWeek.test(dayOfWeek);
  if (daysOfMonthRestricted && daysOfWeekRestricted) return dom || dow;
  return dom && dow;
}

// ---- config ---------------------------------------------------------------------

namespace {

const char* typeName(const JsonValue& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "a map";
    case rapidjson::kArrayType:
      return "a list";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return "a number";
  }
  return "a value";
}

std::string_view view(const JsonValue& v) { return {v.GetString(), v.GetStringLength()}; }

std::string formatNumber(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

std::string joinPath(std::string_view parent, std::string_view field) {
  if (parent.empty()) return std::string(field);
  return std::string(parent) + "." + std::string(field);
}

// A DNS label (RFC 1123): what Kubernetes allows for namespace names.
enum class LabelProblem { kNone, kEmpty, kTooLong, kCharacters, kEdges };
LabelProblem checkDnsLabel(std::string_view s) {
  if (s.empty()) return LabelProblem::kEmpty;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || isDigit(c) || c == '-')) return LabelProblem::kCharacters;
  }
  if (s.size() > 63) return LabelProblem::kTooLong;
  if (s.front() == '-' || s.back() == '-') return LabelProblem::kEdges;
  return LabelProblem::kNone;
}

// git check-ref-format rules for a branch or tag name.
bool validRefName(std::string_view s) {
  if (s.empty() || s == "@" || s.front() == '/' || s.back() == '/' || s.back() == '.' ||
      s.starts_with("-") || s.ends_with(".lock")) {
    return false;
  }
  if (s.find("..") != std::string_view::npos || s.find("//") != std::string_view::npos ||
      s.find("@{") != std::string_view::npos || s.find("/.") != std::string_view::npos ||
      s.front() == '.' || s.find(".lock/") != std::string_view::npos) {
    return false;
  }
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' ||
        c == '*' || c == '[' || c == '\\') {
      return false;
    }
  }
  return true;
}

bool validEnvName(std::string_view s) {
  if (s.empty() || isDigit(s[0])) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c == '_')) {
      return false;
    }
  }
  return true;
}

bool validTimeZoneName(std::string_view s) {
  if (s.empty() || s.front() == '/' || s.back() == '/' || s.find("..") != std::string_view::npos) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c == '/' || c == '_' ||
          c == '-' || c == '+')) {
      return false;
    }
  }
  return true;
}

// The path's problem as a short phrase, or "" when it is a readable file.
std::string fileProblem(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return "no such file";
    return std::strerror(errno);
  }
  if (S_ISDIR(st.st_mode)) return "is a directory, not a file";
  if (::access(path.c_str(), R_OK) != 0)
    return "cannot be read: " + std::string(std::strerror(errno));
  return "";
}

class Parser {
 public:
  Parser(std::string_view fileName, const ConfigOptions& options)
      : file_(fileName), options_(options) {}

  const std::vector<std::string>& problems() const { return problems_; }

  void problem(std::string_view path, std::string_view what) {
    std::string line = file_ + ": ";
    if (!path.empty()) line += std::string(path) + ": ";
    problems_.push_back(line + std::string(what));
  }

  // Reports each member of map `v` whose name is not in `known`.
  void unknownFields(const JsonValue& v, std::string_view path,
                     std::initializer_list<std::string_view> known) {
    for (const auto& m : v.GetObject()) {
      std::string_view name = view(m.name);
      bool ok = false;
      for (std::string_view k : known) ok = ok || k == name;
      if (!ok) problem(path, "unknown field " + quote(name));
    }
  }

  // The member `name` of map `v`, or nullptr when absent or null.
  static const JsonValue* get(const JsonValue& v, std::string_view name) {
    auto it = v.FindMember(JsonValue(rapidjson::StringRef(name.data(), name.size())));
    if (it == v.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  bool isMap(const JsonValue& v, std::string_view path) {
    if (v.IsObject()) return true;
    problem(path, std::string("must be a map, not ") + typeName(v));
    return false;
  }

  // Reads an optional string member into `out`; false when absent or wrong.
  bool string(const JsonValue& parent, std::string_view parentPath, std::string_view name,
              std::string* out, bool required = false) {
    const JsonValue* v = get(parent, name);
    std::string path = joinPath(parentPath, name);
    if (v == nullptr) {
      if (required) problem(path, "is required");
      return false;
    }
    if (!v->IsString()) {
      problem(path, std::string("must be a string, not ") + typeName(*v));
      return false;
    }
    if (v->GetStringLength() == 0) {
      problem(path, "must not be empty");
      return false;
    }
    *out = std::string(view(*v));
    return true;
  }

  void boolean(const JsonValue& parent, std::string_view parentPath, std::string_view name,
               bool* out) {
    const JsonValue* v = get(parent, name);
    if (v == nullptr) return;
    if (!v->IsBool()) {
      problem(joinPath(parentPath, name),
              std::string("must be true or false, not ") + typeName(*v));
      return;
    }
    *out = v->GetBool();
  }

  // A positive duration; `out` is unchanged when absent or wrong. Returns true
  // when a valid value was read.
  bool duration(const JsonValue& parent, std::string_view parentPath, std::string_view name,
                Duration* out, bool required = false) {
    std::string text;
    std::string path = joinPath(parentPath, name);
    const JsonValue* v = get(parent, name);
    if (v != nullptr && !v->IsString()) {
      problem(path,
              std::string("must be a duration such as 30s, 5m or 1h30m, not ") + typeName(*v));
      return false;
    }
    if (!string(parent, parentPath, name, &text, required)) return false;
    auto d = parseDuration(text);
    if (!d) {
      problem(path, d.error().message());
      return false;
    }
    if (d->count() <= 0) {
      problem(path, quote(text) + " must be positive");
      return false;
    }
    *out = *d;
    return true;
  }

  // A path from the config: "~" expanded, then made absolute against baseDir.
  std::string resolvePath(std::string_view path, std::string_view fieldPath) {
    std::string p(path);
    if (p == "~" || p.starts_with("~/")) {
      std::string home = options_.home;
      if (home.empty()) {
        const char* h = std::getenv("HOME");
        if (h != nullptr) home = h;
      }
      if (home.empty()) {
        problem(fieldPath, quote(path) + ": \"~\" cannot be expanded: HOME is not set");
        return p;
      }
      p = home + p.substr(1);
    } else if (p.starts_with("~")) {
      problem(fieldPath, quote(path) + ": only \"~\" and \"~/\" are expanded, not ~user");
      return p;
    }
    if (!options_.baseDir.empty() && !p.starts_with("/")) p = options_.baseDir + "/" + p;
    return p;
  }

  // An optional file path member: resolved, and checked when checkFiles is on.
  void file(const JsonValue& parent, std::string_view parentPath, std::string_view name,
            std::string* out) {
    std::string raw;
    if (!string(parent, parentPath, name, &raw)) return;
    std::string path = joinPath(parentPath, name);
    *out = resolvePath(raw, path);
    if (!options_.checkFiles) return;
    std::string why = fileProblem(*out);
    if (!why.empty()) problem(path, *out + ": " + why);
  }

  // An optional environment variable name member.
  void envName(const JsonValue& parent, std::string_view parentPath, std::string_view name,
               std::string* out) {
    std::string raw;
    if (!string(parent, parentPath, name, &raw)) return;
    std::string path = joinPath(parentPath, name);
    if (!validEnvName(raw)) {
      problem(path, quote(raw) +
                        " is not a valid environment variable name (letters, digits "
                        "and '_', not starting with a digit)");
      return;
    }
    *out = raw;
    if (options_.checkEnvironment && std::getenv(raw.c_str()) == nullptr) {
      problem(path, raw + " is not set");
    }
  }

  void repository(const JsonValue& v, const std::string& path, bool named, Repository* out);
  void verify(const JsonValue& v, const std::string& path, sources::VerifyConfig* out);
  void credentials(const JsonValue& v, const std::string& repoPath, const Repository& repo,
                   Credentials* out);
  void cluster(const JsonValue& v, Cluster* out);
  void environment(const JsonValue& v, const std::string& path, Environment* out);
  void syncWindow(const JsonValue& v, const std::string& path, SyncWindow* out);
  void server(const JsonValue& v, Server* out);
  void leaderElection(const JsonValue& v, LeaderElection* out);
  void notification(const JsonValue& v, const std::string& path, Notification* out);
  void imagePolicy(const JsonValue& v, const std::string& path, ImagePolicyConfig* out);
  void environmentImages(const JsonValue& v, const std::string& path,
                         std::vector<EnvironmentImage>* out);
  void dnsLabel(const JsonValue& v, const std::string& parentPath, std::string_view name,
                std::string* out);
  void top(const JsonValue& doc, AgentConfig* out);

 private:
  std::string file_;
  const ConfigOptions& options_;
  std::vector<std::string> problems_;
  bool urlOk_ = false;  // repository.url was read and classified
};

// Classifies `url` the way Git does; returns false with `why` when it cannot work.
bool classifyUrl(std::string_view url, UrlScheme* scheme, std::string* why) {
  for (char c : url) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      *why = "must not contain whitespace";
      return false;
    }
  }
  size_t sep = url.find("://");
  if (sep != std::string_view::npos) {
    std::string_view name = url.substr(0, sep);
    std::string_view rest = url.substr(sep + 3);
    if (name == "https")
      *scheme = UrlScheme::kHttps;
    else if (name == "http")
      *scheme = UrlScheme::kHttp;
    else if (name == "ssh")
      *scheme = UrlScheme::kSsh;
    else if (name == "git")
      *scheme = UrlScheme::kGit;
    else if (name == "file")
      *scheme = UrlScheme::kFile;
    else {
      *why = "unsupported scheme " + quote(name) +
             " (use https://, http://, ssh://, git://, file:// or a local path)";
      return false;
    }
    if (*scheme == UrlScheme::kFile) {
      if (!rest.starts_with("/")) {
        *why = "a file:// URL needs an absolute path (file:///path)";
        return false;
      }
      return true;
    }
    size_t slash = rest.find('/');
    std::string_view host = rest.substr(0, slash);
    size_t at = host.rfind('@');
    if (at != std::string_view::npos) host.remove_prefix(at + 1);
    if (host.empty() || host.front() == ':') {
      *why = "no host";
      return false;
    }
    if (slash == std::string_view::npos || slash + 1 == rest.size()) {
      *why = "no repository path after the host";
      return false;
    }
    return true;
  }
  // scp-like "user@host:path": a colon before the first slash.
  size_t colon = url.find(':');
  size_t slash = url.find('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash)) {
    std::string_view host = url.substr(0, colon);
    size_t at = host.rfind('@');
    if (at != std::string_view::npos) host.remove_prefix(at + 1);
    if (host.empty()) {
      *why = "no host before ':'";
      return false;
    }
    if (colon + 1 == url.size()) {
      *why = "no repository path after ':'";
      return false;
    }
    *scheme = UrlScheme::kSsh;
    return true;
  }
  *scheme = UrlScheme::kLocal;
  return true;
}

void Parser::repository(const JsonValue& v, const std::string& path, bool named, Repository* out) {
  if (!isMap(v, path)) return;
  if (named) {
    unknownFields(v, path, {"name", "url", "credentials", "interval", "timeout", "verify"});
    if (string(v, path, "name", &out->name, true) &&
        checkDnsLabel(out->name) != LabelProblem::kNone) {
      problem(path + ".name",
              quote(out->name) + " is not a valid name (lowercase letters, digits and '-')");
    }
  } else {
    unknownFields(v, path, {"url", "credentials", "interval", "timeout", "verify"});
  }
  urlOk_ = false;
  if (string(v, path, "url", &out->url, true)) {
    std::string why;
    urlOk_ = classifyUrl(out->url, &out->scheme, &why);
    if (!urlOk_) {
      problem(path + ".url", quote(out->url) + ": " + why);
    } else if (out->scheme == UrlScheme::kLocal) {
      out->url = resolvePath(out->url, path + ".url");
    }
  }
  duration(v, path, "interval", &out->interval);
  if (duration(v, path, "timeout", &out->timeout) && out->timeout.count() <= 0) {
    problem(path + ".timeout", "must be greater than 0");
  }
  if (const JsonValue* c = get(v, "credentials")) credentials(*c, path, *out, &out->credentials);
  if (const JsonValue* check = get(v, "verify")) verify(*check, path + ".verify", &out->verify);
}

// `verify: {ssh: {allowedSignersFile: F}, openpgp: {keyringFile: F}}`, at least one.
void Parser::verify(const JsonValue& v, const std::string& path, sources::VerifyConfig* out) {
  if (!isMap(v, path)) return;
  unknownFields(v, path, {"ssh", "openpgp"});
  const JsonValue* ssh = get(v, "ssh");
  const JsonValue* openpgp = get(v, "openpgp");
  if (ssh == nullptr && openpgp == nullptr) {
    problem(path, "needs ssh: {allowedSignersFile: ...} or openpgp: {keyringFile: ...}");
    return;
  }
  if (ssh != nullptr && isMap(*ssh, path + ".ssh")) {
    unknownFields(*ssh, path + ".ssh", {"allowedSignersFile"});
    if (get(*ssh, "allowedSignersFile") == nullptr) {
      problem(path + ".ssh.allowedSignersFile", "is required");
    }
    file(*ssh, path + ".ssh", "allowedSignersFile", &out->allowedSignersFile);
  }
  if (openpgp != nullptr && isMap(*openpgp, path + ".openpgp")) {
    unknownFields(*openpgp, path + ".openpgp", {"keyringFile"});
    if (get(*openpgp, "keyringFile") == nullptr) {
      problem(path + ".openpgp.keyringFile", "is required");
    }
    file(*openpgp, path + ".openpgp", "keyringFile", &out->keyringFile);
  }
}

void Parser::credentials(const JsonValue& v, const std::string& repoPath, const Repository& repo,
                         Credentials* out) {
  const std::string path = repoPath + ".credentials";
  if (!isMap(v, path)) return;
  unknownFields(v, path,
                {"tokenFile", "tokenEnv", "usernameFile", "usernameEnv", "passwordFile",
                 "passwordEnv", "sshKeyFile", "knownHostsFile", "caFile"});
  file(v, path, "tokenFile", &out->tokenFile);
  envName(v, path, "tokenEnv", &out->tokenEnv);
  file(v, path, "usernameFile", &out->usernameFile);
  envName(v, path, "usernameEnv", &out->usernameEnv);
  file(v, path, "passwordFile", &out->passwordFile);
  envName(v, path, "passwordEnv", &out->passwordEnv);
  file(v, path, "sshKeyFile", &out->sshKeyFile);
  file(v, path, "knownHostsFile", &out->knownHostsFile);
  file(v, path, "caFile", &out->caFile);

  auto has = [&](std::string_view name) { return get(v, name) != nullptr; };
  bool token = has("tokenFile") || has("tokenEnv");
  bool user = has("usernameFile") || has("usernameEnv");
  bool password = has("passwordFile") || has("passwordEnv");
  bool ssh = has("sshKeyFile") || has("knownHostsFile");
  if (has("tokenFile") && has("tokenEnv")) {
    problem(path, "only one of tokenFile, tokenEnv may be set");
  }
  if (has("usernameFile") && has("usernameEnv")) {
    problem(path, "only one of usernameFile, usernameEnv may be set");
  }
  if (has("passwordFile") && has("passwordEnv")) {
    problem(path, "only one of passwordFile, passwordEnv may be set");
  }
  if (user != password) {
    problem(path, user ? "a username (usernameFile or usernameEnv) needs a password "
                         "(passwordFile or passwordEnv)"
                       : "a password (passwordFile or passwordEnv) needs a username "
                         "(usernameFile or usernameEnv)");
  }
  if (has("sshKeyFile") != has("knownHostsFile")) {
    problem(path, has("sshKeyFile")
                      ? "sshKeyFile needs knownHostsFile (host keys are always verified)"
                      : "knownHostsFile needs sshKeyFile");
  }
  int methods = (token ? 1 : 0) + (user || password ? 1 : 0) + (ssh ? 1 : 0);
  if (methods > 1) {
    problem(path,
            "only one of a token (tokenFile, tokenEnv), a username and password, or an "
            "SSH key (sshKeyFile) may be set");
  }
  // Does each method suit the URL? Nothing to say when the URL itself is wrong.
  if (!urlOk_) return;
  auto firstSet = [&](std::initializer_list<std::string_view> names) {
    for (std::string_view n : names) {
      if (has(n)) return std::string(n);
    }
    return std::string();
  };
  std::string secret = firstSet(
      {"tokenFile", "tokenEnv", "usernameFile", "usernameEnv", "passwordFile", "passwordEnv"});
  if (!secret.empty() && repo.scheme == UrlScheme::kHttp) {
    problem(path + "." + secret, "would be sent in clear text over http://; use an https:// URL");
  } else if (!secret.empty() && repo.scheme != UrlScheme::kHttps) {
    problem(path + "." + secret,
            std::string("needs an https:// URL, not ") + schemeName(repo.scheme));
  }
  std::string key = firstSet({"sshKeyFile", "knownHostsFile"});
  if (!key.empty() && repo.scheme != UrlScheme::kSsh) {
    problem(path + "." + key,
            std::string("needs an ssh:// or user@host:path URL, not ") + schemeName(repo.scheme));
  }
  if (has("caFile") && repo.scheme != UrlScheme::kHttps) {
    problem(path + ".caFile", std::string("needs an https:// URL, not ") + schemeName(repo.scheme));
  }
}

void Parser::cluster(const JsonValue& v, Cluster* out) {
  const std::string path = "cluster";
  if (!isMap(v, path)) return;
  unknownFields(v, path, {"kubeconfig", "context"});
  file(v, path, "kubeconfig", &out->kubeconfig);
  if (string(v, path, "context", &out->context) && get(v, "kubeconfig") == nullptr) {
    problem("cluster.context",
            "needs cluster.kubeconfig (the in-cluster service account has "
            "no contexts)");
  }
}

void Parser::syncWindow(const JsonValue& v, const std::string& path, SyncWindow* out) {
  if (!isMap(v, path)) return;
  unknownFields(v, path, {"kind", "schedule", "duration", "timeZone"});
  std::string kind;
  if (string(v, path, "kind", &kind, true)) {
    if (kind == "allow")
      out->kind = SyncWindow::Kind::kAllow;
    else if (kind == "deny")
      out->kind = SyncWindow::Kind::kDeny;
    else
      problem(path + ".kind", quote(kind) + " must be allow or deny");
  }
  if (string(v, path, "schedule", &out->schedule, true)) {
    auto cron = parseCron(out->schedule);
    if (cron)
      out->cron = *cron;
    else
      problem(path + ".schedule", cron.error().message());
  }
  duration(v, path, "duration", &out->duration, true);
  if (string(v, path, "timeZone", &out->timeZone)) {
    if (!validTimeZoneName(out->timeZone)) {
      problem(path + ".timeZone", quote(out->timeZone) + " is not a valid time zone name");
    } else if (options_.checkFiles && out->timeZone != "UTC") {
      struct stat st;
      std::string zone = options_.zoneinfoDir + "/" + out->timeZone;
      if (::stat(zone.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        problem(path + ".timeZone", quote(out->timeZone) + " is not a known time zone");
      }
    }
  }
}

void Parser::environment(const JsonValue& v, const std::string& path, Environment* out) {
  if (!isMap(v, path)) return;
  unknownFields(v, path, {"name",      "repository",     "branch",
                          "tag",       "commit",         "semver",
                          "path",      "namespace",      "prune",
                          "selfHeal",  "healthTimeout",  "maxPruneShare",
                          "interval",  "syncWindows",    "images",
                          "suspend",   "resyncInterval", "serviceAccountName",
                          "force",     "follows",        "rollbackOnFailure",
                          "promotion", "verify",         "remoteBases"});
  if (string(v, path, "name", &out->name, true)) {
    switch (checkDnsLabel(out->name)) {
      case LabelProblem::kNone:
      case LabelProblem::kEmpty:
        break;
      case LabelProblem::kCharacters:
        problem(path + ".name",
                quote(out->name) + " is not a valid name (lowercase letters, digits and '-')");
        break;
      case LabelProblem::kTooLong:
        problem(path + ".name", quote(out->name) + " is too long (at most 63 characters)");
        break;
      case LabelProblem::kEdges:
        problem(path + ".name",
                quote(out->name) + " must start and end with a lowercase letter or digit");
        break;
    }
  }

  string(v, path, "repository", &out->repository);

  int revisions = 0;
  for (const char* kind : {"branch", "tag", "commit", "semver"}) {
    revisions += get(v, kind) != nullptr ? 1 : 0;
  }
  if (revisions > 1) {
    problem(path, "exactly one of branch, tag, commit, semver may be set");
  } else if (string(v, path, "branch", &out->revision)) {
    out->revisionKind = RevisionKind::kBranch;
    if (!validRefName(out->revision)) {
      problem(path + ".branch", quote(out->revision) + " is not a valid branch name");
    }
  } else if (string(v, path, "tag", &out->revision)) {
    out->revisionKind = RevisionKind::kTag;
    if (!validRefName(out->revision)) {
      problem(path + ".tag", quote(out->revision) + " is not a valid tag name");
    }
  } else if (string(v, path, "commit", &out->revision)) {
    out->revisionKind = RevisionKind::kCommit;
    bool hex = out->revision.size() == 40 || out->revision.size() == 64;
    for (char c : out->revision) hex = hex && (isDigit(c) || (c >= 'a' && c <= 'f'));
    if (!hex) {
      problem(path + ".commit",
              quote(out->revision) + " is not a full commit id (40 or 64 lowercase hex digits)");
    }
  } else if (string(v, path, "semver", &out->revision)) {
    out->revisionKind = RevisionKind::kSemver;
    if (auto range = sources::parseRange(out->revision); !range) {
      problem(path + ".semver", range.error().message());
    }
  }

  if (string(v, path, "path", &out->path)) {
    const std::string& p = out->path;
    bool escapes = p == ".." || p.starts_with("../") || p.ends_with("/..") ||
                   p.find("/../") != std::string::npos;
    if (p.starts_with("/")) {
      problem(path + ".path", quote(p) + " must be relative to the repository root");
    } else if (escapes) {
      problem(path + ".path", quote(p) + " must stay inside the repository (no \"..\")");
    }
  }
  if (string(v, path, "namespace", &out->targetNamespace)) {
    LabelProblem lp = checkDnsLabel(out->targetNamespace);
    if (lp == LabelProblem::kTooLong) {
      problem(path + ".namespace",
              quote(out->targetNamespace) + " is too long (at most 63 characters)");
    } else if (lp != LabelProblem::kNone) {
      problem(path + ".namespace", quote(out->targetNamespace) +
                                       " is not a valid namespace (lowercase letters, digits "
                                       "and '-', starting and ending with a letter or digit)");
    }
  }
  boolean(v, path, "prune", &out->prune);
  boolean(v, path, "selfHeal", &out->selfHeal);
  boolean(v, path, "suspend", &out->suspend);
  boolean(v, path, "force", &out->force);
  boolean(v, path, "rollbackOnFailure", &out->rollbackOnFailure);
  if (string(v, path, "follows", &out->follows) && revisions > 0) {
    problem(path + ".follows", "cannot be combined with branch, tag, commit or semver");
  }
  if (const JsonValue* remote = get(v, "remoteBases")) {
    std::string p = path + ".remoteBases";
    if (isMap(*remote, p)) {
      unknownFields(*remote, p, {"allow"});
      const JsonValue* allow = get(*remote, "allow");
      if (allow == nullptr || !allow->IsArray()) {
        problem(p + ".allow", "must be a list of hosts");
      } else {
        for (rapidjson::SizeType i = 0; i < allow->Size(); ++i) {
          const JsonValue& h = (*allow)[i];
          std::string hp = p + ".allow[" + std::to_string(i) + "]";
          if (!h.IsString() || h.GetStringLength() == 0) {
            problem(hp, "must be a host name (or host:port)");
            continue;
          }
          std::string host(h.GetString(), h.GetStringLength());
          if (host.find_first_of("/@ ") != std::string::npos) {
            problem(hp, quote(host) + " is not a host name (or host:port)");
            continue;
          }
          out->remoteBasesAllow.push_back(std::move(host));
        }
      }
    }
  }
  if (const JsonValue* promo = get(v, "promotion")) {
    std::string p = path + ".promotion";
    if (isMap(*promo, p)) {
      unknownFields(*promo, p, {"from", "soak", "auto"});
      string(*promo, p, "from", &out->promotion.from, true);
      duration(*promo, p, "soak", &out->promotion.soak);
      boolean(*promo, p, "auto", &out->promotion.automatic);
    }
  }
  if (string(v, path, "serviceAccountName", &out->serviceAccountName)) {
    if (checkDnsLabel(out->serviceAccountName) != LabelProblem::kNone &&
        out->serviceAccountName.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") !=
            std::string::npos) {
      problem(path + ".serviceAccountName",
              quote(out->serviceAccountName) + " is not a valid ServiceAccount name");
    } else if (get(v, "namespace") == nullptr) {
      problem(path + ".serviceAccountName", "needs the environment's namespace");
    }
  }
  duration(v, path, "healthTimeout", &out->healthTimeout);
  if (duration(v, path, "resyncInterval", &out->resyncInterval) &&
      out->resyncInterval.count() <= 0) {
    problem(path + ".resyncInterval", "must be greater than 0");
  }
  if (const JsonValue* share = get(v, "maxPruneShare")) {
    if (!share->IsNumber()) {
      problem(path + ".maxPruneShare",
              std::string("must be a number between 0 and 1, not ") + typeName(*share));
    } else if (double d = share->GetDouble(); !(d >= 0 && d <= 1)) {
      problem(path + ".maxPruneShare",
              formatNumber(d) + " is out of range (a share between 0 and 1, e.g. 0.5)");
    } else {
      out->maxPruneShare = d;
    }
  }
  duration(v, path, "interval", &out->interval);
  if (const JsonValue* windows = get(v, "syncWindows")) {
    if (!windows->IsArray()) {
      problem(path + ".syncWindows", std::string("must be a list, not ") + typeName(*windows));
    } else {
      for (rapidjson::SizeType i = 0; i < windows->Size(); ++i) {
        SyncWindow w;
        syncWindow((*windows)[i], path + ".syncWindows[" + std::to_string(i) + "]", &w);
        out->syncWindows.push_back(std::move(w));
      }
    }
  }
  if (const JsonValue* check = get(v, "verify")) verify(*check, path + ".verify", &out->verify);
  if (const JsonValue* images = get(v, "images")) {
    environmentImages(*images, path + ".images", &out->images);
  }
}

void Parser::environmentImages(const JsonValue& v, const std::string& path,
                               std::vector<EnvironmentImage>* out) {
  if (!v.IsArray()) {
    problem(path, std::string("must be a list, not ") + typeName(v));
    return;
  }
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    if (!isMap(v[i], p)) continue;
    unknownFields(v[i], p, {"policy", "update"});
    EnvironmentImage img;
    string(v[i], p, "policy", &img.policy, true);
    std::string update;
    if (string(v[i], p, "update", &update)) {
      if (update == "render") {
        img.update = ImageUpdateMode::kRender;
      } else if (update == "git") {
        img.update = ImageUpdateMode::kGit;
      } else {
        problem(p + ".update", quote(update) + ": want render or git");
      }
    }
    for (size_t j = 0; j < out->size(); ++j) {
      if (!img.policy.empty() && (*out)[j].policy == img.policy) {
        problem(p + ".policy", quote(img.policy) + " is already listed at " + path + "[" +
                                   std::to_string(j) + "]");
      }
    }
    out->push_back(std::move(img));
  }
}

void Parser::imagePolicy(const JsonValue& v, const std::string& path, ImagePolicyConfig* out) {
  if (!isMap(v, path)) return;
  unknownFields(v, path,
                {"name", "image", "interval", "credentials", "caFile", "insecure", "policy",
                 "filterTags", "digest"});
  dnsLabel(v, path, "name", &out->name);
  if (string(v, path, "image", &out->image, true)) {
    auto repo = sources::parseImageRepository(out->image);
    if (!repo) problem(path + ".image", repo.error().message());
  }
  duration(v, path, "interval", &out->interval);
  if (const JsonValue* c = get(v, "credentials")) {
    std::string cp = path + ".credentials";
    if (isMap(*c, cp)) {
      unknownFields(*c, cp, {"usernameFile", "passwordFile", "dockerConfigFile"});
      ImagePolicyCredentials& cr = out->credentials;
      file(*c, cp, "usernameFile", &cr.usernameFile);
      file(*c, cp, "passwordFile", &cr.passwordFile);
      file(*c, cp, "dockerConfigFile", &cr.dockerConfigFile);
      if (cr.usernameFile.empty() != cr.passwordFile.empty()) {
        problem(cp, "usernameFile and passwordFile go together");
      }
      if (!cr.dockerConfigFile.empty() && !cr.usernameFile.empty()) {
        problem(cp, "only one of usernameFile/passwordFile, dockerConfigFile may be set");
      }
    }
  }
  file(v, path, "caFile", &out->caFile);
  boolean(v, path, "insecure", &out->insecure);
  if (out->insecure && !out->caFile.empty()) {
    problem(path + ".caFile", "has no use with insecure: true (plain HTTP)");
  }
  boolean(v, path, "digest", &out->digest);
  bool policyOk = false;
  const JsonValue* pol = get(v, "policy");
  std::string pp = path + ".policy";
  if (pol == nullptr) {
    problem(pp, "is required (one of semver, alphabetical, numerical)");
  } else if (isMap(*pol, pp)) {
    unknownFields(*pol, pp, {"semver", "alphabetical", "numerical"});
    if (pol->MemberCount() != 1) {
      problem(pp, "must have exactly one of semver, alphabetical, numerical");
    } else {
      std::string kind(view(pol->MemberBegin()->name));
      const JsonValue& body = pol->MemberBegin()->value;
      std::string kp = pp + "." + kind;
      if (isMap(body, kp)) {
        if (kind == "semver") {
          out->policy.kind = sources::TagPolicySpec::Kind::kSemver;
          unknownFields(body, kp, {"range"});
          policyOk = string(body, kp, "range", &out->policy.range, true);
        } else if (kind == "alphabetical" || kind == "numerical") {
          out->policy.kind = kind == "numerical" ? sources::TagPolicySpec::Kind::kNumerical
                                                 : sources::TagPolicySpec::Kind::kAlphabetical;
          unknownFields(body, kp, {"order"});
          std::string order = "asc";
          string(body, kp, "order", &order);
          policyOk = true;
          if (order == "asc") {
            out->policy.order = sources::TagPolicySpec::Order::kAsc;
          } else if (order == "desc") {
            out->policy.order = sources::TagPolicySpec::Order::kDesc;
          } else {
            problem(kp + ".order", quote(order) + ": want asc or desc");
            policyOk = false;
          }
        }
      }
    }
  }
  bool filterOk = true;
  if (const JsonValue* f = get(v, "filterTags")) {
    std::string fp = path + ".filterTags";
    if (isMap(*f, fp)) {
      unknownFields(*f, fp, {"pattern", "extract"});
      filterOk = string(*f, fp, "pattern", &out->policy.pattern, true);
      string(*f, fp, "extract", &out->policy.extract);
    } else {
      filterOk = false;
    }
  }
  if (policyOk && filterOk) {
    auto compiled = sources::TagPolicy::compile(out->policy, path);
    if (!compiled) problem("", compiled.error().message());
  }
}

const NotificationEvent kNotificationEvents[] = {
    NotificationEvent::kSyncFailed,     NotificationEvent::kSyncSucceeded,
    NotificationEvent::kHealthDegraded, NotificationEvent::kDrift,
    NotificationEvent::kFight,          NotificationEvent::kPruneRefused,
};

void Parser::server(const JsonValue& v, Server* out) {
  const std::string path = "server";
  if (!isMap(v, path)) return;
  unknownFields(v, path, {"address", "tokenFile", "webhooks"});
  if (string(v, path, "address", &out->address)) {
    if (auto a = parseListenAddress(out->address); !a)
      problem(path + ".address", a.error().message());
  }
  file(v, path, "tokenFile", &out->tokenFile);
  if (const JsonValue* hooks = get(v, "webhooks")) {
    if (isMap(*hooks, path + ".webhooks")) {
      unknownFields(*hooks, path + ".webhooks", {"secretFile"});
      file(*hooks, path + ".webhooks", "secretFile", &out->webhooks.secretFile);
    }
  }
}

void Parser::dnsLabel(const JsonValue& v, const std::string& parentPath, std::string_view name,
                      std::string* out) {
  if (!string(v, parentPath, name, out, true)) return;
  std::string path = joinPath(parentPath, name);
  switch (checkDnsLabel(*out)) {
    case LabelProblem::kNone:
    case LabelProblem::kEmpty:
      break;
    case LabelProblem::kTooLong:
      problem(path, quote(*out) + " is too long (at most 63 characters)");
      break;
    case LabelProblem::kCharacters:
    case LabelProblem::kEdges:
      problem(path, quote(*out) +
                        " is not a valid DNS label (lowercase letters, digits and '-', starting "
                        "and ending with a letter or digit)");
      break;
  }
}

void Parser::leaderElection(const JsonValue& v, LeaderElection* out) {
  const std::string path = "leaderElection";
  if (!isMap(v, path)) return;
  unknownFields(v, path, {"namespace", "name"});
  dnsLabel(v, path, "namespace", &out->leaseNamespace);
  dnsLabel(v, path, "name", &out->name);
}

void Parser::notification(const JsonValue& v, const std::string& path, Notification* out) {
  if (!isMap(v, path)) return;
  unknownFields(v, path, {"url", "events", "format", "secretFile"});
  if (string(v, path, "url", &out->url, true)) {
    std::string_view url = out->url;
    bool https = url.starts_with("https://");
    bool http = url.starts_with("http://");
    std::string_view rest = url.substr(https ? 8 : (http ? 7 : 0));
    std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
    if (size_t at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
    if (size_t colon = host.rfind(':'); colon != std::string_view::npos && !host.ends_with("]")) {
      host = host.substr(0, colon);
    }
    bool space = url.find_first_of(" \t\r\n") != std::string_view::npos;
    if ((!https && !http) || host.empty() || space) {
      problem(path + ".url", quote(url) + " is not an https:// URL");
    } else if (http && host != "127.0.0.1" && host != "localhost") {
      problem(path + ".url", quote(url) +
                                 " must use https:// (http:// is allowed only to 127.0.0.1 or "
                                 "localhost)");
    }
  }
  const JsonValue* events = get(v, "events");
  if (events == nullptr) {
    problem(path + ".events", "is required");
  } else if (!events->IsArray() || events->Size() == 0) {
    problem(path + ".events",
            "must be a list of at least one event (sync-failed, "
            "sync-succeeded, health-degraded, drift, fight, prune-refused)");
  } else {
    for (rapidjson::SizeType i = 0; i < events->Size(); ++i) {
      std::string itemPath = path + ".events[" + std::to_string(i) + "]";
      const JsonValue& e = (*events)[i];
      if (!e.IsString()) {
        problem(itemPath, std::string("must be a string, not ") + typeName(e));
        continue;
      }
      std::optional<NotificationEvent> found;
      for (NotificationEvent k : kNotificationEvents) {
        if (view(e) == notificationEventName(k)) found = k;
      }
      if (!found) {
        problem(itemPath, quote(view(e)) +
                              " is not an event (sync-failed, sync-succeeded, health-degraded, "
                              "drift, fight, prune-refused)");
      } else if (std::find(out->events.begin(), out->events.end(), *found) != out->events.end()) {
        problem(itemPath, quote(view(e)) + " is listed twice");
      } else {
        out->events.push_back(*found);
      }
    }
  }
  std::string format;
  if (string(v, path, "format", &format)) {
    if (format == "json")
      out->format = NotificationFormat::kJson;
    else if (format == "slack")
      out->format = NotificationFormat::kSlack;
    else
      problem(path + ".format", quote(format) + " must be json or slack");
  }
  file(v, path, "secretFile", &out->secretFile);
}

void Parser::top(const JsonValue& doc, AgentConfig* out) {
  if (!doc.IsObject()) {
    problem("", std::string("must be a map with apiVersion, kind, repository and environments, "
                            "not ") +
                    typeName(doc));
    return;
  }
  unknownFields(
      doc, "",
      {"apiVersion", "kind", "repository", "repositories", "cluster", "stateDir", "environments",
       "server", "leaderElection", "notifications", "imagePolicies", "imageCommit"});
  std::string apiVersion;
  if (string(doc, "", "apiVersion", &apiVersion, true) && apiVersion != kApiVersion) {
    problem("apiVersion",
            quote(apiVersion) + " is not supported (expected " + std::string(kApiVersion) + ")");
  }
  std::string kind;
  if (string(doc, "", "kind", &kind, true) && kind != kKind) {
    problem("kind", quote(kind) + " is not supported (expected " + std::string(kKind) + ")");
  }
  const JsonValue* one = get(doc, "repository");
  const JsonValue* many = get(doc, "repositories");
  if (one != nullptr && many != nullptr) {
    problem("repositories", "only one of repository, repositories may be set");
  } else if (one != nullptr) {
    out->repositories.emplace_back();
    repository(*one, "repository", false, &out->repositories.back());
  } else if (many == nullptr) {
    problem("repository", "is required");
  } else if (!many->IsArray() || many->Size() == 0) {
    problem("repositories", "must be a list of at least one repository");
  } else {
    for (rapidjson::SizeType i = 0; i < many->Size(); ++i) {
      std::string path = "repositories[" + std::to_string(i) + "]";
      Repository r;
      repository((*many)[i], path, true, &r);
      for (size_t j = 0; j < out->repositories.size(); ++j) {
        if (!r.name.empty() && out->repositories[j].name == r.name) {
          problem(path + ".name",
                  quote(r.name) + " is already used by repositories[" + std::to_string(j) + "]");
          break;
        }
      }
      out->repositories.push_back(std::move(r));
    }
  }
  if (const JsonValue* c = get(doc, "cluster")) cluster(*c, &out->cluster);
  if (string(doc, "", "stateDir", &out->stateDir)) {
    out->stateDir = resolvePath(out->stateDir, "stateDir");
  }
  if (const JsonValue* ips = get(doc, "imagePolicies")) {
    if (!ips->IsArray()) {
      problem("imagePolicies", std::string("must be a list, not ") + typeName(*ips));
    } else {
      for (rapidjson::SizeType i = 0; i < ips->Size(); ++i) {
        std::string path = "imagePolicies[" + std::to_string(i) + "]";
        ImagePolicyConfig ip;
        imagePolicy((*ips)[i], path, &ip);
        for (size_t j = 0; j < out->imagePolicies.size(); ++j) {
          if (!ip.name.empty() && out->imagePolicies[j].name == ip.name) {
            problem(path + ".name", quote(ip.name) + " is already used by imagePolicies[" +
                                        std::to_string(j) + "]");
            break;
          }
        }
        out->imagePolicies.push_back(std::move(ip));
      }
    }
  }
  if (const JsonValue* ic = get(doc, "imageCommit")) {
    if (isMap(*ic, "imageCommit")) {
      unknownFields(*ic, "imageCommit", {"authorName", "authorEmail", "messageTemplate"});
      string(*ic, "imageCommit", "authorName", &out->imageCommit.authorName);
      string(*ic, "imageCommit", "authorEmail", &out->imageCommit.authorEmail);
      string(*ic, "imageCommit", "messageTemplate", &out->imageCommit.messageTemplate);
    }
  }
  const JsonValue* envs = get(doc, "environments");
  if (envs == nullptr) {
    problem("environments", "is required");
  } else if (!envs->IsArray()) {
    problem("environments", std::string("must be a list, not ") + typeName(*envs));
  } else if (envs->Size() == 0) {
    problem("environments", "at least one environment is required");
  } else {
    for (rapidjson::SizeType i = 0; i < envs->Size(); ++i) {
      std::string path = "environments[" + std::to_string(i) + "]";
      Environment e;
      bool namedRepo = (*envs)[i].IsObject() && get((*envs)[i], "repository") != nullptr;
      environment((*envs)[i], path, &e);
      if (!namedRepo && out->repositories.size() == 1) e.repository = out->repositories[0].name;
      if (!namedRepo && out->repositories.size() > 1) {
        problem(path + ".repository", "is required when there are several repositories");
      }
      const Repository* repo = findRepository(*out, e.repository);
      if (repo == nullptr && namedRepo && !out->repositories.empty()) {
        problem(path + ".repository", quote(e.repository) + " names no repository");
      }
      if (e.interval.count() == 0 && repo != nullptr) e.interval = repo->interval;
      if (!e.verify.enabled() && repo != nullptr) e.verify = repo->verify;
      for (size_t k = 0; k < e.images.size(); ++k) {
        if (!e.images[k].policy.empty() && findImagePolicy(*out, e.images[k].policy) == nullptr) {
          problem(path + ".images[" + std::to_string(k) + "].policy",
                  quote(e.images[k].policy) + " names no entry of imagePolicies");
        }
        if (e.images[k].update == ImageUpdateMode::kGit &&
            e.revisionKind != RevisionKind::kBranch) {
          problem(path + ".images[" + std::to_string(k) + "].update",
                  "git needs the environment to track a branch");
        }
      }
      for (size_t j = 0; j < out->environments.size(); ++j) {
        if (!e.name.empty() && out->environments[j].name == e.name) {
          problem(path + ".name",
                  quote(e.name) + " is already used by environments[" + std::to_string(j) + "]");
          break;
        }
      }
      out->environments.push_back(std::move(e));
    }
    // Names another environment may refer to, checked once all are known.
    for (size_t i = 0; i < out->environments.size(); ++i) {
      Environment& e = out->environments[i];
      std::string path = "environments[" + std::to_string(i) + "]";
      auto named = [&](const std::string& name) -> Environment* {
        for (Environment& other : out->environments) {
          if (other.name == name) return &other;
        }
        return nullptr;
      };
      if (!e.follows.empty()) {
        Environment* followed = named(e.follows);
        if (followed == nullptr || followed == &e) {
          problem(path + ".follows", quote(e.follows) + " names no other environment");
        } else if (!followed->follows.empty()) {
          problem(
              path + ".follows",
              quote(e.follows) + " follows another environment itself (chains are not allowed)");
        } else if (get((*envs)[static_cast<rapidjson::SizeType>(i)], "repository") != nullptr &&
                   followed->repository != e.repository) {
          problem(path + ".repository",
                  "must be the repository of " + quote(e.follows) + ", which it follows");
        } else {
          e.repository = followed->repository;
          e.revisionKind = followed->revisionKind;
          e.revision = followed->revision;
        }
      }
      if (!e.promotion.from.empty()) {
        Environment* source = named(e.promotion.from);
        if (source == nullptr || source == &e) {
          problem(path + ".promotion.from",
                  quote(e.promotion.from) + " names no other environment");
        } else if (source->repository != e.repository) {
          problem(path + ".promotion.from",
                  quote(e.promotion.from) + " uses another repository (promotion stays in one)");
        }
      }
    }
  }
  if (const JsonValue* srv = get(doc, "server")) server(*srv, &out->server);
  if (const JsonValue* le = get(doc, "leaderElection")) {
    out->leaderElection.emplace();
    leaderElection(*le, &*out->leaderElection);
  }
  if (const JsonValue* ns = get(doc, "notifications")) {
    if (!ns->IsArray()) {
      problem("notifications", std::string("must be a list, not ") + typeName(*ns));
    } else {
      for (rapidjson::SizeType i = 0; i < ns->Size(); ++i) {
        Notification n;
        notification((*ns)[i], "notifications[" + std::to_string(i) + "]", &n);
        out->notifications.push_back(std::move(n));
      }
    }
  }
}

}  // namespace

Result<AgentConfig> parseConfig(std::string_view text, std::string_view fileName,
                                const ConfigOptions& options) {
  JsonAllocator alloc;
  auto docs = overlays::parseYaml(text, fileName, overlays::YamlDialect::kKustomization, alloc);
  if (!docs) return docs.error();
  Parser parser(fileName, options);
  AgentConfig config;
  if (docs->empty()) {
    parser.problem("", "is empty (expected apiVersion: windlass.dev/v1alpha1, kind: Agent)");
  } else if (docs->size() > 1) {
    parser.problem("", "holds " + std::to_string(docs->size()) + " YAML documents; expected one");
  } else {
    try {
      parser.top((*docs)[0], &config);
    } catch (const JsonAssertion& e) {
      return Status::internal(std::string(fileName) + ": " + e.what());
    }
  }
  if (!parser.problems().empty()) {
    std::string message;
    for (const std::string& p : parser.problems()) {
      if (!message.empty()) message += "\n";
      message += p;
    }
    return Status::invalidArgument(std::move(message));
  }
  return config;
}

Result<AgentConfig> loadConfig(const std::string& path, ConfigOptions options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string why = std::strerror(err);
    if (err == ENOENT) return Status::notFound(path + ": cannot read the config: " + why);
    return Status::failedPrecondition(path + ": cannot read the config: " + why);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (options.baseDir.empty()) {
    size_t slash = path.rfind('/');
    options.baseDir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  }
  return parseConfig(text.str(), path, options);
}

namespace {

JsonValue str(std::string_view s, JsonAllocator& a) {
  return JsonValue(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

// Adds `verify:` to `parent` when `verify` is set.
void addVerify(JsonValue& parent, const sources::VerifyConfig& verify, JsonAllocator& a) {
  if (!verify.enabled()) return;
  JsonValue v(rapidjson::kObjectType);
  if (!verify.allowedSignersFile.empty()) {
    JsonValue ssh(rapidjson::kObjectType);
    ssh.AddMember("allowedSignersFile", str(verify.allowedSignersFile, a), a);
    v.AddMember("ssh", ssh, a);
  }
  if (!verify.keyringFile.empty()) {
    JsonValue openpgp(rapidjson::kObjectType);
    openpgp.AddMember("keyringFile", str(verify.keyringFile, a), a);
    v.AddMember("openpgp", openpgp, a);
  }
  parent.AddMember("verify", v, a);
}

}  // namespace

std::string formatConfig(const AgentConfig& config) {
  JsonAllocator a;
  JsonValue doc(rapidjson::kObjectType);
  doc.AddMember("apiVersion", str(kApiVersion, a), a);
  doc.AddMember("kind", str(kKind, a), a);

  JsonValue repos(rapidjson::kArrayType);
  bool single = config.repositories.size() == 1 && config.repositories[0].name == "default";
  for (const Repository& r : config.repositories) {
    JsonValue repo(rapidjson::kObjectType);
    if (!single) repo.AddMember("name", str(r.name, a), a);
    repo.AddMember("url", str(r.url, a), a);
    JsonValue creds(rapidjson::kObjectType);
    const Credentials& c = r.credentials;
    const std::pair<const char*, const std::string*> fields[] = {
        {"tokenFile", &c.tokenFile},
        {"tokenEnv", &c.tokenEnv},
        {"usernameFile", &c.usernameFile},
        {"usernameEnv", &c.usernameEnv},
        {"passwordFile", &c.passwordFile},
        {"passwordEnv", &c.passwordEnv},
        {"sshKeyFile", &c.sshKeyFile},
        {"knownHostsFile", &c.knownHostsFile},
        {"caFile", &c.caFile},
    };
    for (const auto& [name, value] : fields) {
      if (!value->empty())
        creds.AddMember(JsonValue(rapidjson::StringRef(name)), str(*value, a), a);
    }
    if (creds.MemberCount() > 0) repo.AddMember("credentials", creds, a);
    repo.AddMember("interval", str(formatDuration(r.interval), a), a);
    repo.AddMember("timeout", str(formatDuration(r.timeout), a), a);
    addVerify(repo, r.verify, a);
    if (single) {
      doc.AddMember("repository", repo, a);
    } else {
      repos.PushBack(repo, a);
    }
  }
  if (!single) doc.AddMember("repositories", repos, a);

  if (!config.cluster.inCluster()) {
    JsonValue cluster(rapidjson::kObjectType);
    cluster.AddMember("kubeconfig", str(config.cluster.kubeconfig, a), a);
    if (!config.cluster.context.empty()) {
      cluster.AddMember("context", str(config.cluster.context, a), a);
    }
    doc.AddMember("cluster", cluster, a);
  }
  doc.AddMember("stateDir", str(config.stateDir, a), a);

  JsonValue envs(rapidjson::kArrayType);
  for (const Environment& e : config.environments) {
    JsonValue env(rapidjson::kObjectType);
    env.AddMember("name", str(e.name, a), a);
    if (!single) env.AddMember("repository", str(e.repository, a), a);
    if (e.follows.empty()) {
      env.AddMember(JsonValue(rapidjson::StringRef(revisionKindName(e.revisionKind))),
                    str(e.revision, a), a);
    }
    env.AddMember("path", str(e.path, a), a);
    if (!e.targetNamespace.empty()) env.AddMember("namespace", str(e.targetNamespace, a), a);
    env.AddMember("prune", e.prune, a);
    env.AddMember("selfHeal", e.selfHeal, a);
    env.AddMember("suspend", e.suspend, a);
    env.AddMember("force", e.force, a);
    if (!e.serviceAccountName.empty()) {
      env.AddMember("serviceAccountName", str(e.serviceAccountName, a), a);
    }
    env.AddMember("resyncInterval", str(formatDuration(e.resyncInterval), a), a);
    env.AddMember("healthTimeout", str(formatDuration(e.healthTimeout), a), a);
    env.AddMember("maxPruneShare", e.maxPruneShare, a);
    env.AddMember("interval", str(formatDuration(e.interval), a), a);
    if (!e.syncWindows.empty()) {
      JsonValue windows(rapidjson::kArrayType);
      for (const SyncWindow& w : e.syncWindows) {
        JsonValue window(rapidjson::kObjectType);
        window.AddMember("kind", JsonValue(rapidjson::StringRef(windowKindName(w.kind))), a);
        window.AddMember("schedule", str(w.schedule, a), a);
        window.AddMember("duration", str(formatDuration(w.duration), a), a);
        window.AddMember("timeZone", str(w.timeZone, a), a);
        windows.PushBack(window, a);
      }
      env.AddMember("syncWindows", windows, a);
    }
    if (!e.follows.empty()) env.AddMember("follows", str(e.follows, a), a);
    if (e.rollbackOnFailure) env.AddMember("rollbackOnFailure", true, a);
    if (!e.promotion.from.empty()) {
      JsonValue promo(rapidjson::kObjectType);
      promo.AddMember("from", str(e.promotion.from, a), a);
      if (e.promotion.soak.count() > 0) {
        promo.AddMember("soak", str(formatDuration(e.promotion.soak), a), a);
      }
      promo.AddMember("auto", e.promotion.automatic, a);
      env.AddMember("promotion", promo, a);
    }
    addVerify(env, e.verify, a);
    if (!e.remoteBasesAllow.empty()) {
      JsonValue allow(rapidjson::kArrayType);
      for (const std::string& h : e.remoteBasesAllow) allow.PushBack(str(h, a), a);
      JsonValue remote(rapidjson::kObjectType);
      remote.AddMember("allow", allow, a);
      env.AddMember("remoteBases", remote, a);
    }
    if (!e.images.empty()) {
      JsonValue images(rapidjson::kArrayType);
      for (const EnvironmentImage& img : e.images) {
        JsonValue item(rapidjson::kObjectType);
        item.AddMember("policy", str(img.policy, a), a);
        item.AddMember("update", JsonValue(rapidjson::StringRef(imageUpdateModeName(img.update))),
                       a);
        images.PushBack(item, a);
      }
      env.AddMember("images", images, a);
    }
    envs.PushBack(env, a);
  }
  doc.AddMember("environments", envs, a);

  JsonValue server(rapidjson::kObjectType);
  server.AddMember("address", str(config.server.address, a), a);
  if (!config.server.tokenFile.empty()) {
    server.AddMember("tokenFile", str(config.server.tokenFile, a), a);
  }
  if (!config.server.webhooks.secretFile.empty()) {
    JsonValue hooks(rapidjson::kObjectType);
    hooks.AddMember("secretFile", str(config.server.webhooks.secretFile, a), a);
    server.AddMember("webhooks", hooks, a);
  }
  doc.AddMember("server", server, a);
  if (config.leaderElection) {
    JsonValue le(rapidjson::kObjectType);
    le.AddMember("namespace", str(config.leaderElection->leaseNamespace, a), a);
    le.AddMember("name", str(config.leaderElection->name, a), a);
    doc.AddMember("leaderElection", le, a);
  }
  if (!config.notifications.empty()) {
    JsonValue list(rapidjson::kArrayType);
    for (const Notification& n : config.notifications) {
      JsonValue item(rapidjson::kObjectType);
      item.AddMember("url", str(n.url, a), a);
      JsonValue events(rapidjson::kArrayType);
      for (NotificationEvent e : n.events) {
        events.PushBack(JsonValue(rapidjson::StringRef(notificationEventName(e))), a);
      }
      item.AddMember("events", events, a);
      item.AddMember("format", JsonValue(rapidjson::StringRef(notificationFormatName(n.format))),
                     a);
      if (!n.secretFile.empty()) item.AddMember("secretFile", str(n.secretFile, a), a);
      list.PushBack(item, a);
    }
    doc.AddMember("notifications", list, a);
  }

  if (!config.imagePolicies.empty()) {
    JsonValue list(rapidjson::kArrayType);
    for (const ImagePolicyConfig& p : config.imagePolicies) {
      JsonValue item(rapidjson::kObjectType);
      item.AddMember("name", str(p.name, a), a);
      item.AddMember("image", str(p.image, a), a);
      item.AddMember("interval", str(formatDuration(p.interval), a), a);
      JsonValue creds(rapidjson::kObjectType);
      const std::pair<const char*, const std::string*> fields[] = {
          {"usernameFile", &p.credentials.usernameFile},
          {"passwordFile", &p.credentials.passwordFile},
          {"dockerConfigFile", &p.credentials.dockerConfigFile},
      };
      for (const auto& [name, value] : fields) {
        if (!value->empty()) {
          creds.AddMember(JsonValue(rapidjson::StringRef(name)), str(*value, a), a);
        }
      }
      if (creds.MemberCount() > 0) item.AddMember("credentials", creds, a);
      if (!p.caFile.empty()) item.AddMember("caFile", str(p.caFile, a), a);
      item.AddMember("insecure", p.insecure, a);
      JsonValue policy(rapidjson::kObjectType);
      JsonValue body(rapidjson::kObjectType);
      using Kind = sources::TagPolicySpec::Kind;
      if (p.policy.kind == Kind::kSemver) {
        body.AddMember("range", str(p.policy.range, a), a);
        policy.AddMember("semver", body, a);
      } else {
        const char* order = p.policy.order == sources::TagPolicySpec::Order::kAsc ? "asc" : "desc";
        body.AddMember("order", JsonValue(rapidjson::StringRef(order)), a);
        const char* kind = p.policy.kind == Kind::kNumerical ? "numerical" : "alphabetical";
        policy.AddMember(JsonValue(rapidjson::StringRef(kind)), body, a);
      }
      item.AddMember("policy", policy, a);
      if (!p.policy.pattern.empty()) {
        JsonValue filter(rapidjson::kObjectType);
        filter.AddMember("pattern", str(p.policy.pattern, a), a);
        if (!p.policy.extract.empty()) filter.AddMember("extract", str(p.policy.extract, a), a);
        item.AddMember("filterTags", filter, a);
      }
      item.AddMember("digest", p.digest, a);
      list.PushBack(item, a);
    }
    doc.AddMember("imagePolicies", list, a);
  }
  JsonValue ic(rapidjson::kObjectType);
  ic.AddMember("authorName", str(config.imageCommit.authorName, a), a);
  ic.AddMember("authorEmail", str(config.imageCommit.authorEmail, a), a);
  ic.AddMember("messageTemplate", str(config.imageCommit.messageTemplate, a), a);
  doc.AddMember("imageCommit", ic, a);

  std::string out;
  overlays::emitYaml(doc, out);
  return out;
}

const ImagePolicyConfig* findImagePolicy(const AgentConfig& config, std::string_view name) {
  for (const ImagePolicyConfig& p : config.imagePolicies) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const char* imageUpdateModeName(ImageUpdateMode mode) {
  return mode == ImageUpdateMode::kGit ? "git" : "render";
}

const Repository* findRepository(const AgentConfig& config, std::string_view name) {
  for (const Repository& r : config.repositories) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const Environment* findEnvironment(const AgentConfig& config, std::string_view name) {
  for (const Environment& e : config.environments) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const char* schemeName(UrlScheme scheme) {
  switch (scheme) {
    case UrlScheme::kHttps:
      return "https";
    case UrlScheme::kHttp:
      return "http";
    case UrlScheme::kSsh:
      return "ssh";
    case UrlScheme::kGit:
      return "git";
    case UrlScheme::kFile:
      return "file";
    case UrlScheme::kLocal:
      return "local";
  }
  return "local";
}

const char* revisionKindName(RevisionKind kind) {
  switch (kind) {
    case RevisionKind::kBranch:
      return "branch";
    case RevisionKind::kTag:
      return "tag";
    case RevisionKind::kCommit:
      return "commit";
    case RevisionKind::kSemver:
      return "semver";
  }
  return "branch";
}

const char* windowKindName(SyncWindow::Kind kind) {
  return kind == SyncWindow::Kind::kAllow ? "allow" : "deny";
}

const char* notificationEventName(NotificationEvent event) {
  switch (event) {
    case NotificationEvent::kSyncFailed:
      return "sync-failed";
    case NotificationEvent::kSyncSucceeded:
      return "sync-succeeded";
    case NotificationEvent::kHealthDegraded:
      return "health-degraded";
    case NotificationEvent::kDrift:
      return "drift";
    case NotificationEvent::kFight:
      return "fight";
    case NotificationEvent::kPruneRefused:
      return "prune-refused";
  }
  return "sync-failed";
}

const char* notificationFormatName(NotificationFormat format) {
  return format == NotificationFormat::kSlack ? "slack" : "json";
}

Result<ListenAddress> parseListenAddress(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::invalidArgument(quote(text) + " is not host:port (" + std::string(why) + ")");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("missing \":port\"");
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.starts_with("[")) {
    if (!host.ends_with("]") || host.size() < 3) return bad("unclosed \"[\"");
    host = host.substr(1, host.size() - 2);
    for (char c : host) {
      if (!(isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
            c == '.')) {
        return bad("bad IPv6 address");
      }
    }
  } else {
    if (host.empty()) return bad("missing host; use 0.0.0.0 for every interface");
    for (char c : host) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c == '-' ||
            c == '.')) {
        return bad("bad host name");
      }
    }
  }
  if (port.empty() || port.size() > 5) return bad("port must be a number 0-65535");
  unsigned value = 0;
  for (char c : port) {
    if (!isDigit(c)) return bad("port must be a number 0-65535");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return bad("port must be a number 0-65535");
  return ListenAddress{std::string(host), static_cast<uint16_t>(value)};
}

}  // namespace windlass::agent
