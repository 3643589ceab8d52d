#include "sources/semver.h"

#include <algorithm>
#include <charconv>

namespace windlass::sources {
namespace {

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool isIdentChar(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), isDigit);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

// A version number part: digits without a leading zero, fitting in 64 bits. Returns
// "" on success, else why not.
std::string parseNumber(std::string_view part, const char* name, uint64_t* out) {
  if (part.empty()) return std::string(name) + ": empty";
  if (!allDigits(part)) return std::string(name) + ": " + quote(part) + " is not a number";
  if (part.size() > 1 && part[0] == '0') {
    return std::string(name) + ": " + quote(part) + " has a leading zero";
  }
  auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), *out);
  if (ec != std::errc() || ptr != part.data() + part.size()) {
    return std::string(name) + ": " + quote(part) + " is too large";
  }
  return "";
}

// Checks the prerelease (numeric identifiers without leading zeros) or build
// identifiers of `text`. Returns "" when valid, else why not.
std::string checkIdentifiers(std::string_view text, bool prerelease,
                             std::vector<std::string>* out) {
  const char* name = prerelease ? "prerelease" : "build metadata";
  for (std::string_view id : split(text, '.')) {
    if (id.empty()) return std::string(name) + ": empty identifier";
    if (!std::all_of(id.begin(), id.end(), isIdentChar)) {
      return std::string(name) + ": " + quote(id) + " has a character other than [0-9A-Za-z-]";
    }
    if (prerelease && allDigits(id) && id.size() > 1 && id[0] == '0') {
      return std::string(name) + ": " + quote(id) + " has a leading zero";
    }
    if (out != nullptr) out->emplace_back(id);
  }
  return "";
}

// Splits "CORE[-PRE][+BUILD]" and checks PRE and BUILD into `v`. Returns "" on
// success, else why not; `core` receives the part before them.
std::string splitSuffixes(std::string_view text, std::string_view* core, Version* v) {
  size_t plus = text.find('+');
  if (plus != std::string_view::npos) {
    std::string_view build = text.substr(plus + 1);
    std::string why = checkIdentifiers(build, false, nullptr);
    if (!why.empty()) return why;
    v->build = std::string(build);
    text = text.substr(0, plus);
  }
  size_t dash = text.find('-');
  if (dash != std::string_view::npos) {
    std::string why = checkIdentifiers(text.substr(dash + 1), true, &v->prerelease);
    if (!why.empty()) return why;
    text = text.substr(0, dash);
  }
  *core = text;
  return "";
}

int compareIdentifiers(const std::string& a, const std::string& b) {
  bool an = allDigits(a), bn = allDigits(b);
  if (an && bn) {
    // No leading zeros: the longer number is the larger.
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
  }
  if (an != bn) return an ? -1 : 1;  // numeric identifiers sort below alphanumeric ones
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int compareNumber(uint64_t a, uint64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

bool isWildcard(std::string_view part) { return part == "x" || part == "X" || part == "*"; }

// Parses the version of one comparison: "1.2.3", "v1.2", "1.x", "*", with optional
// prerelease and build. Returns "" on success, else why not.
std::string parseRangeVersion(std::string_view text, Comparator* c) {
  std::string_view rest = text;
  if (!rest.empty() && rest[0] == 'v') rest.remove_prefix(1);
  std::string_view core;
  std::string why = splitSuffixes(rest, &core, &c->version);
  if (!why.empty()) return quote(text) + ": " + why;
  std::vector<std::string_view> parts = split(core, '.');
  if (parts.size() > 3) return quote(text) + ": more than three parts";
  static const char* const kNames[] = {"major", "minor", "patch"};
  uint64_t* fields[] = {&c->version.major, &c->version.minor, &c->version.patch};
  c->wildcards = 3 - static_cast<int>(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    if (isWildcard(parts[i])) {
      // Parts after a wildcard are wildcards too ("1.x.3" is "1.x"), as in Masterminds.
      c->wildcards = 3 - static_cast<int>(i);
      break;
    }
    if (parts[i].empty()) return quote(text) + ": " + kNames[i] + ": empty";
    if (!allDigits(parts[i])) {
      return quote(text) + ": " + kNames[i] + ": " + quote(parts[i]) +
             " is not a number or wildcard";
    }
    why = parseNumber(parts[i], kNames[i], fields[i]);
    if (!why.empty()) return quote(text) + ": " + why;
  }
  for (int i = 3 - c->wildcards; i < 3; ++i) *fields[i] = 0;
  return "";
}

struct Token {
  std::string_view op;
  std::string_view version;
};

bool isOpChar(char c) {
  return c == '=' || c == '!' || c == '<' || c == '>' || c == '~' || c == '^';
}
bool isSeparator(char c) { return c == ' ' || c == '\t' || c == ','; }

std::optional<Comparator::Op> opFromText(std::string_view op) {
  using Op = Comparator::Op;
  if (op.empty() || op == "=") return Op::kEq;
  if (op == "!=") return Op::kNe;
  if (op == ">") return Op::kGt;
  if (op == "<") return Op::kLt;
  if (op == ">=" || op == "=>") return Op::kGe;
  if (op == "<=" || op == "=<") return Op::kLe;
  if (op == "~" || op == "~>") return Op::kTilde;
  if (op == "^") return Op::kCaret;
  return std::nullopt;
}

// Parses one AND group. Returns "" on success, else why not.
std::string parseGroup(std::string_view text, std::vector<Comparator>* out) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    if (isSeparator(text[i])) {
      ++i;
      continue;
    }
    Token t;
    size_t start = i;
    while (i < text.size() && isOpChar(text[i])) ++i;
    t.op = text.substr(start, i - start);
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    start = i;
    while (i < text.size() && !isSeparator(text[i]) && !isOpChar(text[i])) ++i;
    t.version = text.substr(start, i - start);
    if (t.version.empty()) {
      return t.op.empty() ? "unexpected " + quote(text.substr(i, 1))
                          : "operator " + quote(t.op) + " without a version";
    }
    tokens.push_back(t);
  }
  if (tokens.empty()) return "empty comparison group";

  for (size_t k = 0; k < tokens.size(); ++k) {
    if (tokens[k].op.empty() && tokens[k].version == "-") {
      return "\"-\" must stand between two versions (\"1.2 - 1.4.5\")";
    }
    bool hyphen = k + 2 < tokens.size() && tokens[k + 1].op.empty() && tokens[k + 1].version == "-";
    if (hyphen) {
      if (!tokens[k].op.empty() || !tokens[k + 2].op.empty()) {
        return "a hyphen range takes two plain versions (\"1.2 - 1.4.5\")";
      }
      Comparator low, high;
      low.op = Comparator::Op::kGe;
      high.op = Comparator::Op::kLe;
      std::string why = parseRangeVersion(tokens[k].version, &low);
      if (why.empty()) why = parseRangeVersion(tokens[k + 2].version, &high);
      if (!why.empty()) return why;
      out->push_back(std::move(low));
      out->push_back(std::move(high));
      k += 2;
      continue;
    }
    auto op = opFromText(tokens[k].op);
    if (!op) return "unknown operator " + quote(tokens[k].op);
    Comparator c;
    c.op = *op;
    std::string why = parseRangeVersion(tokens[k].version, &c);
    if (!why.empty()) return why;
    out->push_back(std::move(c));
  }
  return "";
}

}  // namespace

Result<Version> parseVersion(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return Status::invalidArgument("invalid version " + quote(text) + ": " + why);
  };
  if (text.empty()) return fail("empty");
  std::string_view rest = text;
  if (rest[0] == 'v') rest.remove_prefix(1);
  Version v;
  std::string_view core;
  std::string why = splitSuffixes(rest, &core, &v);
  if (!why.empty()) return fail(why);
  std::vector<std::string_view> parts = split(core, '.');
  if (parts.size() != 3) return fail("expected MAJOR.MINOR.PATCH");
  why = parseNumber(parts[0], "major", &v.major);
  if (why.empty()) why = parseNumber(parts[1], "minor", &v.minor);
  if (why.empty()) why = parseNumber(parts[2], "patch", &v.patch);
  if (!why.empty()) return fail(why);
  return v;
}

int compare(const Version& a, const Version& b) {
  if (int c = compareNumber(a.major, b.major)) return c;
  if (int c = compareNumber(a.minor, b.minor)) return c;
  if (int c = compareNumber(a.patch, b.patch)) return c;
  // A release is higher than any of its prereleases.
  if (a.prerelease.empty() != b.prerelease.empty()) return a.prerelease.empty() ? 1 : -1;
  size_t n = std::min(a.prerelease.size(), b.prerelease.size());
  for (size_t i = 0; i < n; ++i) {
    if (int c = compareIdentifiers(a.prerelease[i], b.prerelease[i])) return c;
  }
  return compareNumber(a.prerelease.size(), b.prerelease.size());
}

std::string formatVersion(const Version& v) {
  std::string out =
      std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
  for (size_t i = 0; i < v.prerelease.size(); ++i) {
    out += (i == 0 ? "-" : ".") + v.prerelease[i];
  }
  if (!v.build.empty()) out += "+" + v.build;
  return out;
}

bool Comparator::matches(const Version& v) const {
  const Version& c = version;
  bool plainNe = op == Op::kNe && wildcards == 0;
  if (!v.prerelease.empty() && c.prerelease.empty() && !plainNe) return false;
  int cmp = compare(v, c);
  switch (op) {
    case Op::kEq:
      if (wildcards == 0) return cmp == 0;
      [[fallthrough]];  // 1.2.x: the versions the wildcard covers, as ~1.2
    case Op::kTilde:
      if (cmp < 0) return false;
      if (wildcards == 3) return true;
      if (op == Op::kTilde && wildcards == 0 && c.major == 0 && c.minor == 0 && c.patch == 0) {
        return true;  // ~0.0.0 is >=0.0.0, as in Masterminds
      }
      if (v.major != c.major) return false;
      return wildcards == 2 || v.minor == c.minor;
    case Op::kNe:
      if (wildcards == 0) return cmp != 0;
      if (wildcards == 3) return false;
      if (v.major != c.major) return true;
      return wildcards == 1 && v.minor != c.minor;
    case Op::kGt:
      if (wildcards == 0) return cmp > 0;
      if (wildcards == 3) return false;
      if (v.major != c.major) return v.major > c.major;
      return wildcards == 1 && v.minor > c.minor;
    case Op::kGe:
      return cmp >= 0;
    case Op::kLt:
      return cmp < 0;
    case Op::kLe:
      if (wildcards == 0) return cmp <= 0;
      if (wildcards == 3) return true;
      if (v.major != c.major) return v.major < c.major;
      return wildcards == 2 || v.minor <= c.minor;
    case Op::kCaret:
      if (cmp < 0) return false;
      if (wildcards == 3) return true;
      if (c.major > 0 || wildcards == 2) return v.major == c.major;
      if (v.major > 0) return false;
      if (c.minor > 0 || wildcards == 1) return v.minor == c.minor;
      if (v.minor > 0) return false;
      return v.patch == c.patch;
  }
  return false;
}

bool Range::matches(const Version& v) const {
  for (const std::vector<Comparator>& group : alternatives) {
    bool all = true;
    for (const Comparator& c : group) all = all && c.matches(v);
    if (all) return true;
  }
  return false;
}

Result<Range> parseRange(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return Status::invalidArgument("invalid range " + quote(text) + ": " + why);
  };
  Range range;
  range.text = std::string(text);
  if (text.find_first_not_of(" \t") == std::string_view::npos) return fail("empty");
  size_t start = 0;
  for (;;) {
    size_t bar = text.find("||", start);
    std::string_view group = text.substr(start, bar == std::string_view::npos ? bar : bar - start);
    std::vector<Comparator> comparators;
    std::string why = parseGroup(group, &comparators);
    if (!why.empty()) return fail(why);
    range.alternatives.push_back(std::move(comparators));
    if (bar == std::string_view::npos) break;
    start = bar + 2;
  }
  return range;
}

std::optional<std::string> newestMatching(const Range& range,
                                          const std::vector<std::string>& tags) {
  std::optional<std::string> best;
  Version bestVersion;
  for (const std::string& tag : tags) {
    auto v = parseVersion(tag);
    if (!v || !range.matches(*v)) continue;
    int cmp = best ? compare(*v, bestVersion) : 1;
    if (cmp > 0 || (cmp == 0 && tag < *best)) {
      best = tag;
      bestVersion = std::move(*v);
    }
  }
  return best;
}

}  // namespace windlass::sources
