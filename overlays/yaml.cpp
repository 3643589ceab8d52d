#include "overlays/yaml.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <istream>
#include <limits>
#include <streambuf>
#include <unordered_set>
#include <utility>

#include "overlays/yaml_fast.h"

namespace windlass::overlays {
namespace {

// ---------------------------------------------------------------------------
// Scalar typing: go-yaml's resolve(), v2 (YAML 1.1 bools) and v3 flavours.
// ---------------------------------------------------------------------------

enum class ScalarKind { kString, kNull, kBool, kInt, kUint, kFloat, kTimestamp, kInfNan };

struct Resolved {
  ScalarKind kind = ScalarKind::kString;
  bool boolValue = false;
  int64_t intValue = 0;
  uint64_t uintValue = 0;
  double floatValue = 0;
};

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, go-yaml's yamlStyleFloat.
bool matchesYamlFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t start = i;
    while (i < s.size() && isDigit(s[i])) ++i;
    if (i == start) return false;
  } else {
    size_t start = i;
    while (i < s.size() && isDigit(s[i])) ++i;
    if (i == start) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && isDigit(s[i])) ++i;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t start = i;
    while (i < s.size() && isDigit(s[i])) ++i;
    if (i == start) return false;
  }
  return i == s.size();
}

// Go's strconv.ParseFloat for strings that matchesYamlFloat accepted. Overflow is
// an error (Go returns ErrRange); underflow rounds to zero without error.
bool parseGoFloat(std::string_view s, double& out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ptr != s.data() + s.size()) return false;
  if (ec == std::errc::result_out_of_range) {
    size_t e = s.find_first_of("eE");
    if (e == std::string_view::npos || e + 1 >= s.size() || s[e + 1] != '-') return false;
    v = 0;  // underflow
  } else if (ec != std::errc()) {
    return false;
  }
  out = negative ? -v : v;
  return true;
}

// Go's strconv.ParseUint(s, 0, 64): prefixes 0x, 0o, 0b and a leading 0 (octal).
// Returns 0 on success, 1 on a syntax error, 2 on overflow.
int parseGoUint(std::string_view s, uint64_t& out) {
  if (s.empty()) return 1;
  unsigned base = 10;
  if (s[0] == '0' && s.size() > 1) {
    char p = s[1];
    if (p == 'x' || p == 'X') {
      base = 16, s.remove_prefix(2);
    } else if (p == 'o' || p == 'O') {
      base = 8, s.remove_prefix(2);
    } else if (p == 'b' || p == 'B') {
      base = 2, s.remove_prefix(2);
    } else {
      base = 8, s.remove_prefix(1);
    }
    if (s.empty()) return 1;
  }
  uint64_t v = 0;
  bool overflow = false;
  for (char c : s) {
    unsigned d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return 1;
    }
    if (d >= base) return 1;
    if (v > (std::numeric_limits<uint64_t>::max() - d) / base) overflow = true;
    v = v * base + d;
  }
  if (overflow) return 2;
  out = v;
  return 0;
}

// Go's strconv.ParseInt(s, 0, 64). Same return codes as parseGoUint.
int parseGoInt(std::string_view s, int64_t& out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  uint64_t mag = 0;
  int rc = parseGoUint(s, mag);
  if (rc != 0) return rc;
  constexpr uint64_t kLimit = uint64_t{1} << 63;
  if (negative) {
    if (mag > kLimit) return 2;
    out = mag == kLimit ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(mag);
  } else {
    if (mag >= kLimit) return 2;
    out = static_cast<int64_t>(mag);
  }
  return 0;
}

// Reads 1 or 2 digits (Go's getnum with fixed=false).
bool readNum12(std::string_view s, size_t& i, int& out) {
  if (i >= s.size() || !isDigit(s[i])) return false;
  out = s[i++] - '0';
  if (i < s.size() && isDigit(s[i])) out = out * 10 + (s[i++] - '0');
  return true;
}

int daysIn(int month, int year) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) return 29;
  return kDays[month - 1];
}

void appendTwo(std::string& out, int v) {
  out += static_cast<char>('0' + v / 10);
  out += static_cast<char>('0' + v % 10);
}

// go-yaml's parseTimestamp (layouts "2006-1-2T15:4:5.999999999Z07:00", the same with
// 't', "2006-1-2 15:4:5.999999999" and "2006-1-2"). On success and when `rfc3339`
// is given, stores the value as Go's time.Time marshals to JSON (RFC 3339 with
// nanoseconds, trailing zeros dropped).
bool parseTimestamp(std::string_view s, std::string* rfc3339) {
  if (s.size() < 5) return false;
  for (int k = 0; k < 4; ++k) {
    if (!isDigit(s[k])) return false;
  }
  if (s[4] != '-') return false;
  int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  size_t i = 5;
  int month = 0, day = 0;
  if (!readNum12(s, i, month) || i >= s.size() || s[i] != '-') return false;
  ++i;
  if (!readNum12(s, i, day)) return false;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(month, year)) return false;
  int hour = 0, minute = 0, second = 0;
  std::string_view frac;
  bool hasZone = false;
  int offsetMinutes = 0;
  if (i != s.size()) {
    char sep = s[i];
    if (sep != 'T' && sep != 't' && sep != ' ') return false;
    ++i;
    if (!readNum12(s, i, hour) || i >= s.size() || s[i] != ':') return false;
    ++i;
    if (!readNum12(s, i, minute) || i >= s.size() || s[i] != ':') return false;
    ++i;
    if (!readNum12(s, i, second)) return false;
    if (hour > 23 || minute > 59 || second > 59) return false;
    if (i + 1 < s.size() && (s[i] == '.' || s[i] == ',') && isDigit(s[i + 1])) {
      size_t start = ++i;
      while (i < s.size() && isDigit(s[i])) ++i;
      frac = s.substr(start, std::min<size_t>(i - start, 9));
    }
    if (sep == ' ') {
      if (i != s.size()) return false;
    } else {
      if (i >= s.size()) return false;
      if (s[i] == 'Z') {
        ++i;
      } else if (s[i] == '+' || s[i] == '-') {
        if (s.size() - i != 6 || s[i + 3] != ':' || !isDigit(s[i + 1]) || !isDigit(s[i + 2]) ||
            !isDigit(s[i + 4]) || !isDigit(s[i + 5])) {
          return false;
        }
        int hh = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
        int mm = (s[i + 4] - '0') * 10 + (s[i + 5] - '0');
        if (hh > 24 || mm > 59) return false;
        offsetMinutes = (hh * 60 + mm) * (s[i] == '-' ? -1 : 1);
        hasZone = true;
        i += 6;
      } else {
        return false;
      }
      if (i != s.size()) return false;
    }
  }
  if (rfc3339 == nullptr) return true;
  std::string& out = *rfc3339;
  out.clear();
  out.append(s.substr(0, 4));
  out += '-';
  appendTwo(out, month);
  out += '-';
  appendTwo(out, day);
  out += 'T';
  appendTwo(out, hour);
  out += ':';
  appendTwo(out, minute);
  out += ':';
  appendTwo(out, second);
  while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
  if (!frac.empty()) {
    out += '.';
    out.append(frac);
  }
  if (!hasZone || offsetMinutes == 0) {
    out += 'Z';
  } else {
    int m = offsetMinutes < 0 ? -offsetMinutes : offsetMinutes;
    out += offsetMinutes < 0 ? '-' : '+';
    appendTwo(out, m / 60);
    out += ':';
    appendTwo(out, m % 60);
  }
  return true;
}

// go-yaml's resolveTable hint for the first byte.
char hintOf(std::string_view s) {
  if (s.empty()) return 'N';
  char c = s[0];
  if (c == '+' || c == '-') return 'S';
  if (isDigit(c)) return 'D';
  if (c == '.') return '.';
  switch (c) {
    case 'y':
    case 'Y':
    case 'n':
    case 'N':
    case 't':
    case 'T':
    case 'f':
    case 'F':
    case 'o':
    case 'O':
    case '~':
      return 'M';
    default:
      return 0;
  }
}

bool isYaml11Bool(std::string_view s, bool& value) {
  static constexpr std::string_view kTrue[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"};
  static constexpr std::string_view kFalse[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF"};
  for (auto t : kTrue) {
    if (s == t) return value = true, true;
  }
  for (auto f : kFalse) {
    if (s == f) return value = false, true;
  }
  return false;
}

// go-yaml resolve("", s) for a plain scalar. `yaml11` selects v2's extra bools.
// `timestamps` asks for timestamp detection (v3 decodes them to time.Time).
Resolved resolvePlain(std::string_view s, bool yaml11, bool timestamps, std::string* stamp) {
  Resolved r;
  char hint = hintOf(s);
  if (hint == 0) return r;
  // The map: bools, nulls, .inf, .nan.
  if (s == "true" || s == "True" || s == "TRUE") {
    r.kind = ScalarKind::kBool, r.boolValue = true;
    return r;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    r.kind = ScalarKind::kBool;
    return r;
  }
  if (yaml11 && isYaml11Bool(s, r.boolValue)) {
    r.kind = ScalarKind::kBool;
    return r;
  }
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    r.kind = ScalarKind::kNull;
    return r;
  }
  static constexpr std::string_view kSpecial[] = {".nan",  ".NaN",  ".NAN",  ".inf",
                                                  ".Inf",  ".INF",  "+.inf", "+.Inf",
                                                  "+.INF", "-.inf", "-.Inf", "-.INF"};
  for (auto sp : kSpecial) {
    if (s == sp) {
      r.kind = ScalarKind::kInfNan;
      return r;
    }
  }
  if (hint == 'M') return r;
  if (hint == '.') {
    if (matchesYamlFloat(s) && parseGoFloat(s, r.floatValue)) r.kind = ScalarKind::kFloat;
    return r;
  }
  // 'D' or 'S'.
  if (timestamps && hint == 'D' && parseTimestamp(s, stamp)) {
    r.kind = ScalarKind::kTimestamp;
    return r;
  }
  std::string plainBuf;
  std::string_view plain = s;
  if (s.find('_') != std::string_view::npos) {
    plainBuf.reserve(s.size());
    for (char c : s) {
      if (c != '_') plainBuf += c;
    }
    plain = plainBuf;
  }
  if (parseGoInt(plain, r.intValue) == 0) {
    r.kind = ScalarKind::kInt;
    return r;
  }
  if (parseGoUint(plain, r.uintValue) == 0) {
    r.kind = ScalarKind::kUint;
    return r;
  }
  if (matchesYamlFloat(plain) && parseGoFloat(plain, r.floatValue)) {
    r.kind = ScalarKind::kFloat;
    return r;
  }
  return r;  // (0b and 0o prefixes are already covered by parseGoInt.)
}

// isBase60Float from go-yaml v2's encoder:
// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
bool isBase60Float(std::string_view s) {
  if (s.empty()) return false;
  char c = s[0];
  if (!(c == '+' || c == '-' || isDigit(c)) || s.find(':') == std::string_view::npos) return false;
  size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  if (i >= s.size() || !isDigit(s[i])) return false;
  while (i < s.size() && (isDigit(s[i]) || s[i] == '_')) ++i;
  int groups = 0;
  while (i < s.size() && s[i] == ':') {
    ++i;
    // [0-5]?[0-9]
    if (i + 1 < s.size() && s[i] >= '0' && s[i] <= '5' && isDigit(s[i + 1])) {
      i += 2;
    } else if (i < s.size() && isDigit(s[i])) {
      ++i;
    } else {
      return false;
    }
    ++groups;
  }
  if (groups == 0) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && (isDigit(s[i]) || s[i] == '_')) ++i;
  }
  return i == s.size();
}

// True when go-yaml v2 would not write `s` as a plain scalar because it reads
// back as something other than a string.
bool resolvesToNonString(std::string_view s) {
  if (s.empty()) return true;
  char hint = hintOf(s);
  if (hint != 0) {
    Resolved r = resolvePlain(s, /*yaml11=*/true, /*timestamps=*/false, nullptr);
    if (r.kind != ScalarKind::kString) return true;
    if ((hint == 'D' || hint == 'S') && parseTimestamp(s, nullptr)) return true;
  }
  return isBase60Float(s);
}

// ---------------------------------------------------------------------------
// Parsing: yaml-cpp events → JsonValue.
// ---------------------------------------------------------------------------

// A read-only streambuf over borrowed memory, so yaml-cpp reads without a copy.
class MemoryBuf : public std::streambuf {
 public:
  explicit MemoryBuf(std::string_view text) {
    char* p = const_cast<char*>(text.data());  // never written: get area only
    setg(p, p, p + text.size());
  }
};

// Thrown by the event handler to stop yaml-cpp; caught in parseYaml only.
struct ParseAbort {
  YAML::Mark mark;
  std::string message;
};

std::string quoteKey(std::string_view key) {
  std::string out = "\"";
  out.append(key.substr(0, 80));
  if (key.size() > 80) out += "...";
  out += '"';
  return out;
}

// The value go-yaml v3 gives a folded (>) scalar after kyaml writes the node back
// out and reads it again, as Kustomize does before its JSON round trip. The v3
// folded writer looks for following line breaks from the start of the value
// instead of the current position, so it doubles line breaks that a reader then
// keeps: "a\nb\n" comes back as "a\nb\n", but "a\n  b\n" as "a\n\n  b\n".
// Reads the folded block scalar whose '>' indicator is at text[pos], following the
// YAML spec (yaml-cpp drops a line break of ">+" scalars that end in empty lines).
// An explicit indentation indicator needs the parent's indentation: without
// `parentIndent` this returns false and the caller keeps yaml-cpp's value.
// The indentation of the block collection holding the node that starts at
// text[pos], as go-yaml counts it for an explicit indentation indicator: the
// column of the mapping key on that line ("  key: >2"), or of the sequence dash
// when the node is a sequence entry itself ("  - >2"). npos when the line does
// not look like either (a flow collection, a node on a line of its own).
size_t blockIndentAt(std::string_view text, size_t pos) {
  size_t start = text.rfind('\n', pos == 0 ? 0 : pos - 1);
  start = start == std::string_view::npos ? 0 : start + 1;
  size_t col = start;
  while (col < pos && text[col] == ' ') ++col;
  size_t dash = std::string_view::npos;
  while (col + 1 < pos && text[col] == '-' && text[col + 1] == ' ') {
    dash = col;
    col += 2;
    while (col < pos && text[col] == ' ') ++col;
  }
  if (col == pos) return dash == std::string_view::npos ? dash : dash - start;
  std::string_view rest = text.substr(col, pos - col);
  size_t colon = rest.find(": ");
  if (colon == std::string_view::npos || rest.find_first_of("{}[],") != std::string_view::npos) {
    return std::string_view::npos;
  }
  for (size_t k = colon + 1; k < rest.size(); ++k) {
    if (rest[k] != ' ') return std::string_view::npos;  // `key: !tag >2`, anchors: leave them
  }
  return col - start;
}

bool readFolded(std::string_view text, size_t pos, std::string& out,
                size_t parentIndent = std::string_view::npos) {
  size_t i = pos + 1;
  char chomp = 0;
  size_t indent = std::string_view::npos;
  while (i < text.size() && (text[i] == '+' || text[i] == '-' || isDigit(text[i]))) {
    if (isDigit(text[i])) {
      if (parentIndent == std::string_view::npos || text[i] == '0') return false;
      indent = parentIndent + static_cast<size_t>(text[i++] - '0');
      continue;
    }
    chomp = text[i++];
  }
  size_t nl = text.find('\n', i);
  if (nl == std::string_view::npos) {
    out.clear();
    return true;
  }
  // Split the following lines until one with content is indented less.
  std::vector<std::string_view> lines;  // content lines, empty ones as ""
  std::vector<bool> isContent;
  size_t p = nl + 1;
  while (p < text.size()) {
    size_t e = text.find('\n', p);
    size_t next = e == std::string_view::npos ? text.size() : e + 1;
    std::string_view line = text.substr(p, (e == std::string_view::npos ? text.size() : e) - p);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t spaces = 0;
    while (spaces < line.size() && line[spaces] == ' ') ++spaces;
    bool blank = spaces == line.size();
    if (indent == std::string_view::npos) {
      if (!blank) {
        if (spaces == 0) break;  // no content at all
        indent = spaces;
      }
    } else if (!blank && spaces < indent) {
      break;
    }
    if (blank && (indent == std::string_view::npos || spaces <= indent)) {
      lines.push_back(std::string_view());
      isContent.push_back(false);
    } else {
      lines.push_back(line.substr(indent));
      isContent.push_back(true);
    }
    p = next;
    if (e == std::string_view::npos) break;
  }
  out.clear();
  size_t last = lines.size();
  while (last > 0 && !isContent[last - 1]) --last;
  size_t trailing = lines.size() - last;
  bool prevContent = false;
  bool prevMore = false;
  size_t empties = 0;
  for (size_t k = 0; k < last; ++k) {
    if (!isContent[k]) {
      ++empties;
      continue;
    }
    bool more = !lines[k].empty() && (lines[k][0] == ' ' || lines[k][0] == '\t');
    if (!prevContent) {
      out.append(empties, '\n');
    } else if (!prevMore && !more && empties == 0) {
      out += ' ';
    } else {
      out.append(empties + ((prevMore || more) ? 1 : 0), '\n');
    }
    out.append(lines[k]);
    empties = 0;
    prevContent = true;
    prevMore = more;
  }
  if (chomp == '-') return true;
  if (last == 0) {
    if (chomp == '+') out.append(trailing, '\n');
    return true;
  }
  out += '\n';
  if (chomp == '+') out.append(trailing, '\n');
  return true;
}

std::string refoldLikeKyaml(const std::string& value);

class Builder : public YAML::EventHandler {
 public:
  // `emptyNulls` (may be null): where the empty nulls of each document go, as
  // parseYaml describes.
  Builder(std::string_view text, YamlDialect dialect, JsonAllocator& alloc,
          const YamlLimits& limits, std::vector<JsonValue>& docs,
          std::vector<EmptyNullPaths>* emptyNulls)
      : text_(text),
        dialect_(dialect == YamlDialect::kPatch ? YamlDialect::kResource : dialect),
        patch_(dialect == YamlDialect::kPatch),
        alloc_(alloc),
        limits_(limits),
        docs_(docs),
        emptyNulls_(emptyNulls) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    countEvent(mark);
    depth_ = 0;
    anchors_.clear();
    anchorNulls_.clear();
    root_.SetNull();
    rootNulls_.clear();
    haveRoot_ = false;
  }

  void OnDocumentEnd() override {
    if (haveRoot_ && !root_.IsNull()) {
      docs_.push_back(std::move(root_));
      if (!rootNulls_.empty()) {
        emptyNulls_->resize(docs_.size());
        emptyNulls_->back() = std::move(rootNulls_);
      }
    }
    root_.SetNull();
    rootNulls_.clear();
    haveRoot_ = false;
  }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    countNode(mark);
    if (expectingKey()) {
      // yaml-cpp reports ~, null, Null, NULL and an empty node alike; a key keeps
      // its text.
      std::string_view key;
      if (mark.pos >= 0 && static_cast<size_t>(mark.pos) < text_.size()) {
        std::string_view rest = text_.substr(mark.pos);
        if (rest.substr(0, 1) == "~") {
          key = "~";
        } else if (rest.substr(0, 4) == "null" || rest.substr(0, 4) == "Null" ||
                   rest.substr(0, 4) == "NULL") {
          key = rest.substr(0, 4);
        }
      }
      if (dialect_ == YamlDialect::kResource && depth_ > 1) {
        fail(mark, "mapping key " + quoteKey(key.empty() ? "null" : key) +
                       " is not a string: Kustomize cannot encode it as JSON");
      }
      setKey(mark, dialect_ == YamlDialect::kKustomization ? std::string_view("null") : key, false);
      return;
    }
    JsonValue v;
    if (annotationValue() && !patch_) {
      // A written-out null keeps its text; an empty one stays an empty null, which a
      // strategic merge drops and the renderer otherwise prints as "".
      std::string text(nullText(mark, anchor != 0));
      if (!text.empty()) {
        v.SetString(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), alloc_);
        deliver(std::move(v), mark, anchor);
        return;
      }
    }
    if (emptyNulls_ != nullptr && !writtenNull(mark, anchor != 0)) {
      EmptyNullPaths self(1);  // the node itself
      deliverWithNulls(std::move(v), mark, anchor, self);
      return;
    }
    deliver(std::move(v), mark, anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    countEvent(mark);
    if (anchor >= anchors_.size() || !anchors_[anchor].defined) {
      fail(mark, "unknown anchor referenced by an alias");
    }
    Anchor& a = anchors_[anchor];
    aliasNodes_ += a.nodes;
    if (aliasNodes_ > limits_.maxAliasExpansion) {
      fail(mark, "aliases expand to more than " + std::to_string(limits_.maxAliasExpansion) +
                     " nodes (YamlLimits::maxAliasExpansion); is this an alias bomb?");
    }
    nodes_ += a.nodes;
    if (nodes_ > limits_.maxNodes) tooManyNodes(mark);
    if (expectingKey()) {
      if (!a.value.IsString()) fail(mark, "a mapping key must be a scalar");
      setKey(mark, std::string_view(a.value.GetString(), a.value.GetStringLength()), false);
      return;
    }
    JsonValue copy(a.value, alloc_);
    if (anchor < anchorNulls_.size() && !anchorNulls_[anchor].empty()) {
      EmptyNullPaths nulls = anchorNulls_[anchor];
      deliverWithNulls(std::move(copy), mark, 0, nulls);
      return;
    }
    deliver(std::move(copy), mark, 0);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    countNode(mark);
    bool plain = tag == "?";
    bool quoted = tag == "!";
    if (quoted) checkQuoteClosed(mark);
    if (expectingKey()) {
      onKey(mark, tag, plain, anchor, value);
      return;
    }
    JsonValue v;
    if (!quoted && annotationValue()) {
      v.SetString(value.data(), static_cast<rapidjson::SizeType>(value.size()), alloc_);
    } else if (quoted || !plain) {
      if (!quoted && !plain) {
        typeTagged(mark, tag, value, v);
      } else if (mark.pos >= 0 && static_cast<size_t>(mark.pos) < text_.size() &&
                 text_[mark.pos] == '>') {
        std::string folded;
        size_t at = static_cast<size_t>(mark.pos);
        if (!readFolded(text_, at, folded, blockIndentAt(text_, at))) folded = value;
        if (dialect_ == YamlDialect::kResource) folded = refoldLikeKyaml(folded);
        v.SetString(folded.data(), static_cast<rapidjson::SizeType>(folded.size()), alloc_);
      } else {
        v.SetString(value.data(), static_cast<rapidjson::SizeType>(value.size()), alloc_);
      }
    } else {
      typePlain(mark, value, v);
    }
    if (emptyNulls_ != nullptr && v.IsNull() && value.empty()) {  // `key: !!null`
      EmptyNullPaths self(1);
      deliverWithNulls(std::move(v), mark, anchor, self);
      return;
    }
    deliver(std::move(v), mark, anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    countNode(mark);
    if (expectingKey()) fail(mark, "a mapping key must be a scalar, not a sequence");
    push(mark, anchor, /*isMap=*/false);
  }

  void OnSequenceEnd() override { pop(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    countNode(mark);
    if (expectingKey()) fail(mark, "a mapping key must be a scalar, not a map");
    push(mark, anchor, /*isMap=*/true);
  }

  void OnMapEnd() override { pop(); }

 private:
  struct Frame {
    bool isMap = false;
    YAML::anchor_t anchor = 0;
    YAML::Mark mark;
    JsonValue value;
    bool haveKey = false;
    bool keyIsMerge = false;
    bool sawMerge = false;
    YAML::Mark keyMark;
    JsonValue key;
    std::vector<JsonValue> merges;
    std::vector<int> keyLines;  // line of each member's key, for duplicate errors
    // Hashes of the member names once a map grows large (names themselves may sit
    // inline in members that move when the object grows, so no views are kept).
    std::unordered_set<size_t> keySet;
  };
  struct Anchor {
    bool defined = false;
    size_t nodes = 0;
    JsonValue value;
  };
  // The empty nulls inside an open map or list (relative to it) and inside each
  // of its `<<` sources (shorter than the sources when the last have none).
  // Kept beside the frames rather than in them: documents without empty nulls
  // never touch them, and the frames, reset for every map and list, stay small.
  struct FrameNulls {
    EmptyNullPaths inside;
    std::vector<EmptyNullPaths> merges;
  };

  [[noreturn]] void fail(const YAML::Mark& mark, std::string message) {
    throw ParseAbort{mark, std::move(message)};
  }

  [[noreturn]] void tooManyNodes(const YAML::Mark& mark) {
    fail(mark, "document has more than " + std::to_string(limits_.maxNodes) +
                   " nodes (YamlLimits::maxNodes)");
  }

  void countNode(const YAML::Mark& mark) {
    countEvent(mark);
    if (++nodes_ > limits_.maxNodes) tooManyNodes(mark);
  }

  // Every node and document takes at least a byte of YAML, and no construct makes
  // more than a few events per byte; more means yaml-cpp is looping on malformed
  // input (0.7 can report empty documents without end), so stop at once.
  void countEvent(const YAML::Mark& mark) {
    if (++events_ > 4 * text_.size() + 64) {
      fail(mark, "malformed YAML: the parser reports more nodes than " +
                     std::to_string(text_.size()) + " bytes can hold");
    }
  }

  bool expectingKey() const { return depth_ > 0 && top().isMap && !top().haveKey; }
  Frame& top() { return stack_[depth_ - 1]; }
  const Frame& top() const { return stack_[depth_ - 1]; }

  // yaml-cpp reports `key: null`, `key: ~` and `key:` alike through OnNull, and
  // marks an empty node at the token after it (the next key, a `,`, `}` or `-`,
  // the end), an anchored one at its `&`. True when the mark shows ~, null, Null
  // or NULL written for this node: a whole token, and not a key `null:` that
  // follows an empty node.
  // The text of a null value: "~", "null", "Null" or "NULL", or "" for an empty node.
  std::string_view nullText(const YAML::Mark& mark, bool anchored) const {
    if (mark.pos < 0) return "null";  // no position: take it as written out
    auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    size_t i = static_cast<size_t>(mark.pos);
    if (anchored && i < text_.size() && text_[i] == '&') {
      while (i < text_.size() && !isSpace(text_[i]) &&
             std::string_view(",[]{}").find(text_[i]) == std::string_view::npos) {
        ++i;
      }
      while (i < text_.size() && isSpace(text_[i])) ++i;
    }
    std::string_view rest = i < text_.size() ? text_.substr(i) : std::string_view();
    size_t n = 0;
    if (rest.substr(0, 1) == "~") {
      n = 1;
    } else if (rest.substr(0, 4) == "null" || rest.substr(0, 4) == "Null" ||
               rest.substr(0, 4) == "NULL") {
      n = 4;
    } else {
      return {};
    }
    std::string_view token = rest.substr(0, n);
    rest.remove_prefix(n);
    if (!rest.empty() && !isSpace(rest[0]) &&
        std::string_view(",]}:").find(rest[0]) == std::string_view::npos) {
      return {};  // "nullable", "~x": another token
    }
    while (!rest.empty() && (rest[0] == ' ' || rest[0] == '\t')) rest.remove_prefix(1);
    return rest.substr(0, 1) != ":" ? token : std::string_view();
  }

  bool writtenNull(const YAML::Mark& mark, bool anchored) const {
    return !nullText(mark, anchored).empty();
  }

  // True while the value of a member of a resource's metadata.annotations is read.
  // Kustomize reads annotations as map[string]string from each scalar's text, so
  // `n: 1.50`, `b: true`, `t: ~` come out as "1.50", "true", "~" (and `e:` as "",
  // which the renderer does: see EmptyNullPaths).
  bool annotationValue() const {
    if (dialect_ != YamlDialect::kResource || depth_ != 3) return false;
    auto pendingKey = [&](size_t i, std::string_view name) {
      const Frame& f = stack_[i];
      return f.isMap && f.haveKey && !f.keyIsMerge &&
             (name.empty() || std::string_view(f.key.GetString(), f.key.GetStringLength()) == name);
    };
    return pendingKey(0, "metadata") && pendingKey(1, "annotations") && pendingKey(2, "");
  }

  // A yaml-cpp quoted scalar may run to the end of the input without its closing
  // quote; go-yaml rejects that.
  void checkQuoteClosed(const YAML::Mark& mark) {
    if (mark.pos < 0 || static_cast<size_t>(mark.pos) >= text_.size()) return;
    char q = text_[mark.pos];
    if (q != '"' && q != '\'') return;
    for (size_t i = mark.pos + 1; i < text_.size(); ++i) {
      char c = text_[i];
      if (q == '"' && c == '\\') {
        ++i;
      } else if (c == q) {
        if (q == '\'' && i + 1 < text_.size() && text_[i + 1] == '\'') {
          ++i;
        } else {
          return;
        }
      }
    }
    fail(mark, "found unexpected end of stream while scanning a quoted scalar");
  }

  void onKey(const YAML::Mark& mark, const std::string& tag, bool plain, YAML::anchor_t anchor,
             const std::string& value) {
    if (plain && value == "<<") {
      Frame& f = top();
      if (f.sawMerge) fail(mark, "duplicate merge key");
      f.sawMerge = true;
      f.haveKey = true;
      f.keyIsMerge = true;
      f.keyMark = mark;
      return;
    }
    std::string_view key = value;
    std::string converted;
    if (plain) {
      if (dialect_ == YamlDialect::kResource) {
        // v3 decodes the top-level keys as their text; a nested map whose key is not
        // a string becomes map[interface{}]interface{}, which encoding/json refuses.
        if (depth_ > 1) {
          std::string stamp;
          Resolved r = resolvePlain(value, false, true, &stamp);
          if (r.kind != ScalarKind::kString) {
            fail(mark, "mapping key " + quoteKey(value) +
                           " is not a string: Kustomize cannot encode it as JSON");
          }
        }
      } else {
        // sigs.k8s.io/yaml turns non-string keys into their JSON text.
        Resolved r = resolvePlain(value, true, false, nullptr);
        if (r.kind == ScalarKind::kBool) {
          key = r.boolValue ? "true" : "false";
        } else if (r.kind == ScalarKind::kInt) {
          converted = std::to_string(r.intValue);
          key = converted;
        } else if (r.kind == ScalarKind::kUint) {
          converted = std::to_string(r.uintValue);
          key = converted;
        } else if (r.kind == ScalarKind::kNull) {
          key = "null";
        }
      }
    } else if (!tag.empty() && tag != "!" && tag != "tag:yaml.org,2002:str" &&
               dialect_ == YamlDialect::kResource && depth_ > 1) {
      fail(mark, "mapping key " + quoteKey(value) +
                     " has a non-string tag: Kustomize cannot encode it as JSON");
    }
    setKey(mark, key, false);
    if (anchor != 0) {
      JsonValue copy(top().key, alloc_);
      defineAnchor(anchor, std::move(copy), 1);
    }
  }

  void setKey(const YAML::Mark& mark, std::string_view key, bool isMerge) {
    Frame& f = top();
    f.haveKey = true;
    f.keyIsMerge = isMerge;
    f.keyMark = mark;
    f.key.SetString(key.data(), static_cast<rapidjson::SizeType>(key.size()), alloc_);
  }

  void typePlain(const YAML::Mark& mark, const std::string& value, JsonValue& v) {
    bool resource = dialect_ == YamlDialect::kResource;
    std::string stamp;
    Resolved r = resolvePlain(value, !resource, resource, &stamp);
    setResolved(mark, r, value, stamp, v);
  }

  // Explicitly tagged scalars (!!str, !!int, ...; other tags read as strings).
  void typeTagged(const YAML::Mark& mark, const std::string& tag, const std::string& value,
                  JsonValue& v) {
    constexpr std::string_view kPrefix = "tag:yaml.org,2002:";
    std::string_view t = tag;
    if (t.substr(0, kPrefix.size()) != kPrefix) {
      v.SetString(value.data(), static_cast<rapidjson::SizeType>(value.size()), alloc_);
      return;
    }
    t.remove_prefix(kPrefix.size());
    if (t == "str" || t == "binary") {
      v.SetString(value.data(), static_cast<rapidjson::SizeType>(value.size()), alloc_);
      return;
    }
    bool resource = dialect_ == YamlDialect::kResource;
    std::string stamp;
    Resolved r = resolvePlain(value, !resource, t == "timestamp" && resource, &stamp);
    bool ok = (t == "int" && (r.kind == ScalarKind::kInt || r.kind == ScalarKind::kUint)) ||
              (t == "float" && (r.kind == ScalarKind::kFloat || r.kind == ScalarKind::kInt ||
                                r.kind == ScalarKind::kUint || r.kind == ScalarKind::kInfNan)) ||
              (t == "bool" && r.kind == ScalarKind::kBool) ||
              (t == "null" && r.kind == ScalarKind::kNull) ||
              (t == "timestamp" &&
               (r.kind == ScalarKind::kTimestamp || (!resource && parseTimestamp(value, nullptr))));
    if (t == "map" || t == "seq") ok = false;
    if (!ok) {
      if (t != "int" && t != "float" && t != "bool" && t != "null" && t != "timestamp") {
        v.SetString(value.data(), static_cast<rapidjson::SizeType>(value.size()), alloc_);
        return;
      }
      fail(mark, "cannot decode `" + value + "` as a !!" + std::string(t));
    }
    if (t == "float" && r.kind == ScalarKind::kInt) {
      r.kind = ScalarKind::kFloat, r.floatValue = static_cast<double>(r.intValue);
    }
    setResolved(mark, r, value, stamp, v);
  }

  void setResolved(const YAML::Mark& mark, const Resolved& r, const std::string& text,
                   const std::string& stamp, JsonValue& v) {
    switch (r.kind) {
      case ScalarKind::kString:
        v.SetString(text.data(), static_cast<rapidjson::SizeType>(text.size()), alloc_);
        return;
      case ScalarKind::kNull:
        v.SetNull();
        return;
      case ScalarKind::kBool:
        v.SetBool(r.boolValue);
        return;
      case ScalarKind::kInt:
        v.SetInt64(r.intValue);
        return;
      case ScalarKind::kUint:
        v.SetUint64(r.uintValue);
        return;
      case ScalarKind::kTimestamp:
        v.SetString(stamp.data(), static_cast<rapidjson::SizeType>(stamp.size()), alloc_);
        return;
      case ScalarKind::kInfNan:
        fail(mark,
             "json: unsupported value: " + text + " (Kustomize cannot encode infinity or NaN)");
      case ScalarKind::kFloat: {
        // The JSON round trip: an integral double prints without a fraction and
        // reads back as an integer.
        double d = r.floatValue;
        if (d == std::trunc(d) && std::fabs(d) < 1e21) {
          if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
            v.SetInt64(static_cast<int64_t>(d));
            return;
          }
          if (d >= 0 && d < 18446744073709551616.0) {
            v.SetUint64(static_cast<uint64_t>(d));
            return;
          }
        }
        v.SetDouble(d);
        return;
      }
    }
  }

  void push(const YAML::Mark& mark, YAML::anchor_t anchor, bool isMap) {
    if (depth_ >= limits_.maxDepth) {
      fail(mark, "nesting deeper than " + std::to_string(limits_.maxDepth) +
                     " levels (YamlLimits::maxDepth)");
    }
    if (depth_ < frameNulls_.size()) {
      frameNulls_[depth_].inside.clear();
      frameNulls_[depth_].merges.clear();
    }
    // Frames are reused from document to document to spare allocations.
    if (stack_.size() == depth_) stack_.emplace_back();
    Frame& f = stack_[depth_++];
    f.haveKey = f.keyIsMerge = f.sawMerge = false;
    f.merges.clear();
    f.keyLines.clear();
    f.keySet.clear();
    f.isMap = isMap;
    f.anchor = anchor;
    f.mark = mark;
    if (isMap) {
      f.value.SetObject();
    } else {
      f.value.SetArray();
    }
  }

  void pop() {
    Frame& f = top();
    if (f.isMap && !f.merges.empty()) applyMerges(f);
    JsonValue v(std::move(f.value));
    YAML::Mark mark = f.mark;
    YAML::anchor_t anchor = f.anchor;
    --depth_;
    if (depth_ < frameNulls_.size() && !frameNulls_[depth_].inside.empty()) {
      // They stay there until the next push() at this depth clears them.
      deliverWithNulls(std::move(v), mark, anchor, frameNulls_[depth_].inside);
      return;
    }
    deliver(std::move(v), mark, anchor);
  }

  // `<<`: keys of the map itself win, then earlier sources over later ones.
  void applyMerges(Frame& f) {
    for (size_t j = 0; j < f.merges.size(); ++j) {
      for (auto& m : f.merges[j].GetObject()) {
        if (f.value.FindMember(m.name) != f.value.MemberEnd()) continue;
        if (depth_ - 1 < frameNulls_.size() && j < frameNulls_[depth_ - 1].merges.size()) {
          FrameNulls& nulls = frameNulls_[depth_ - 1];
          std::string_view name(m.name.GetString(), m.name.GetStringLength());
          for (std::vector<std::string>& p : nulls.merges[j]) {
            if (!p.empty() && p[0] == name) nulls.inside.push_back(std::move(p));
          }
        }
        f.value.AddMember(m.name, m.value, alloc_);  // moves out of the source
      }
    }
    f.merges.clear();
  }

  static size_t countNodes(const JsonValue& v) {
    size_t n = 1;
    if (v.IsObject()) {
      for (const auto& m : v.GetObject()) n += countNodes(m.value);
    } else if (v.IsArray()) {
      for (const auto& e : v.GetArray()) n += countNodes(e);
    }
    return n;
  }

  void defineAnchor(YAML::anchor_t anchor, JsonValue&& copy, size_t nodes) {
    if (anchors_.size() <= anchor) anchors_.resize(anchor + 1);
    Anchor& a = anchors_[anchor];
    a.defined = true;
    a.nodes = nodes;
    a.value = std::move(copy);
    if (anchor < anchorNulls_.size()) anchorNulls_[anchor].clear();
  }

  // Adds a finished value to the open map or list (or makes it the root).
  void deliver(JsonValue&& v, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (anchor != 0) {
      JsonValue copy(v, alloc_);
      defineAnchor(anchor, std::move(copy), countNodes(v));
    }
    if (depth_ == 0) {
      root_ = std::move(v);
      haveRoot_ = true;
      return;
    }
    Frame& f = top();
    if (!f.isMap) {
      f.value.PushBack(v, alloc_);
      return;
    }
    if (!f.haveKey) fail(mark, "a mapping key must be a scalar");
    f.haveKey = false;
    if (f.keyIsMerge) {
      f.keyIsMerge = false;
      addMergeSource(f, std::move(v), mark);
      return;
    }
    addMember(f, std::move(v));
  }

  // deliver() for a value with empty nulls inside, `nulls` (relative to v; taken).
  void deliverWithNulls(JsonValue&& v, const YAML::Mark& mark, YAML::anchor_t anchor,
                        EmptyNullPaths& nulls) {
    EmptyNullPaths anchored;
    if (anchor != 0) anchored = nulls;
    placeNulls(nulls, v);
    deliver(std::move(v), mark, anchor);
    if (anchor != 0) {
      if (anchorNulls_.size() <= anchor) anchorNulls_.resize(anchor + 1);
      anchorNulls_[anchor] = std::move(anchored);
    }
  }

  // Files the empty nulls inside v, which is about to be delivered, under the
  // place v goes to: the document, the next list index, the pending key, or a
  // `<<` source ("1.key" inside a list of sources is "key" inside the second).
  // Only map members count: a null that is itself the root or a list element is
  // left out.
  void placeNulls(EmptyNullPaths& nulls, const JsonValue& v) {
    if (depth_ == 0) {
      for (std::vector<std::string>& p : nulls) {
        if (!p.empty()) rootNulls_.push_back(std::move(p));
      }
      return;
    }
    Frame& f = top();
    if (frameNulls_.size() < depth_) frameNulls_.resize(depth_);
    FrameNulls& to = frameNulls_[depth_ - 1];
    if (f.isMap && f.keyIsMerge) {
      size_t first = f.merges.size();
      to.merges.resize(first + (v.IsArray() ? v.Size() : 1));
      for (std::vector<std::string>& p : nulls) {
        size_t index = 0;
        if (v.IsArray()) {
          if (p.size() < 2) continue;
          auto [end, ec] = std::from_chars(p[0].data(), p[0].data() + p[0].size(), index);
          if (ec != std::errc() || first + index >= to.merges.size()) continue;
          p.erase(p.begin());
        }
        if (!p.empty()) to.merges[first + index].push_back(std::move(p));
      }
      return;
    }
    std::string slot = f.isMap ? std::string(f.key.GetString(), f.key.GetStringLength())
                               : std::to_string(f.value.Size());
    for (std::vector<std::string>& p : nulls) {
      if (p.empty() && !f.isMap) continue;
      p.insert(p.begin(), slot);
      to.inside.push_back(std::move(p));
    }
  }

  void addMergeSource(Frame& f, JsonValue&& v, const YAML::Mark& mark) {
    if (v.IsObject()) {
      f.merges.push_back(std::move(v));
      return;
    }
    if (v.IsArray()) {
      for (auto& e : v.GetArray()) {
        if (!e.IsObject()) fail(mark, "map merge requires map or sequence of maps as the value");
      }
      for (auto& e : v.GetArray()) f.merges.push_back(std::move(e));
      return;
    }
    fail(mark, "map merge requires map or sequence of maps as the value");
  }

  static size_t hashName(const char* p, size_t n) {
    return std::hash<std::string_view>()(std::string_view(p, n));
  }

  void addMember(Frame& f, JsonValue&& v) {
    // Copy the view before AddMember moves the key away.
    std::string_view name(f.key.GetString(), f.key.GetStringLength());
    size_t hash = 0;
    constexpr size_t kLinearLimit = 16;
    size_t count = f.value.MemberCount();
    size_t dup = count;
    if (count < kLinearLimit) {
      for (size_t i = 0; i < count; ++i) {
        const JsonValue& n = (f.value.MemberBegin() + i)->name;
        if (n.GetStringLength() == name.size() &&
            std::memcmp(n.GetString(), name.data(), name.size()) == 0) {
          dup = i;
          break;
        }
      }
    } else {
      if (f.keySet.empty()) {
        for (const auto& m : f.value.GetObject()) {
          f.keySet.insert(hashName(m.name.GetString(), m.name.GetStringLength()));
        }
      }
      hash = hashName(name.data(), name.size());
      if (f.keySet.count(hash) != 0) {
        for (size_t i = 0; i < count; ++i) {
          const JsonValue& n = (f.value.MemberBegin() + i)->name;
          if (std::string_view(n.GetString(), n.GetStringLength()) == name) {
            dup = i;
            break;
          }
        }
      }
    }
    if (dup != count) {
      if (dialect_ == YamlDialect::kResource) {
        fail(f.keyMark, "mapping key " + quoteKey(name) + " already defined at line " +
                            std::to_string(f.keyLines[dup] + 1));
      }
      (f.value.MemberBegin() + dup)->value = std::move(v);  // YAML 1.1 reader: last wins
      return;
    }
    f.value.AddMember(f.key, v, alloc_);  // `name` may dangle from here on
    f.keyLines.push_back(f.keyMark.line);
    if (!f.keySet.empty()) f.keySet.insert(hash);
  }

  std::string_view text_;
  YamlDialect dialect_;  // kPatch reads as kResource, with patch_ set
  bool patch_;
  JsonAllocator& alloc_;
  const YamlLimits& limits_;
  std::vector<JsonValue>& docs_;
  std::vector<EmptyNullPaths>* emptyNulls_;  // nullptr: not recorded
  EmptyNullPaths rootNulls_;                 // the current document's
  std::vector<FrameNulls> frameNulls_;       // [i] for stack_[i]; may be shorter
  std::vector<EmptyNullPaths> anchorNulls_;  // [anchor], relative to its value; may be shorter
  std::vector<Frame> stack_;                 // stack_[0, depth_) are open; the rest wait for reuse
  size_t depth_ = 0;
  std::vector<Anchor> anchors_;
  JsonValue root_;
  bool haveRoot_ = false;
  size_t nodes_ = 0;
  size_t events_ = 0;  // parser events (documents, nodes, aliases) of this call
  size_t aliasNodes_ = 0;
};

std::string refoldLikeKyaml(const std::string& value) {
  if (value.find('\n') == std::string::npos) return value;
  // go-yaml v3 writes no block scalar for a value with a space before a line break
  // or at its end, or with a control character other than tab and newline: it
  // writes it double-quoted instead, which reads back unchanged.
  if (value.back() == ' ' || value.find(" \n") != std::string::npos) return value;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\n') || u == 0x7f) return value;
  }
  // go-yaml v3's folded writer (line width folding left out: it reads back the same
  // except on long more-indented lines).
  std::string doc = "k: >";
  if (value[0] == ' ' || value[0] == '\n') doc += '2';
  size_t n = value.size();
  if (value[n - 1] != '\n') {
    doc += '-';
  } else if (n == 1 || value[n - 2] == '\n') {
    doc += '+';
  }
  size_t k = 0;
  while (k < n && value[k] == '\n') ++k;
  bool firstNonBlank = k < n && value[k] != ' ' && value[k] != '\t';
  bool breaks = true;
  bool leadingSpaces = true;
  doc += '\n';
  for (size_t i = 0; i < n; ++i) {
    char c = value[i];
    if (c == '\n') {
      if (!breaks && !leadingSpaces && firstNonBlank) doc += '\n';
      doc += '\n';
      breaks = true;
    } else {
      if (breaks) {
        doc += "  ";
        leadingSpaces = c == ' ' || c == '\t';
      }
      doc += c;
      breaks = false;
    }
  }
  std::string out;
  if (!readFolded(doc, 3, out, 0)) return value;
  return out;
}

// When yaml-cpp fails on a document indented with tabs, say what go-yaml says.
bool findTabIndent(std::string_view text, int upToLine, int& line) {
  int l = 0;
  size_t pos = 0;
  while (pos < text.size() && l <= upToLine) {
    if (text[pos] == '\t') {
      line = l;
      return true;
    }
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
    ++l;
  }
  return false;
}

std::string location(std::string_view fileName, int line, int column) {
  std::string out(fileName);
  out += ':';
  out += std::to_string(line + 1);
  out += ':';
  out += std::to_string(column + 1);
  out += ": ";
  return out;
}

// ---------------------------------------------------------------------------
// Emitting: go-yaml v2's emitter (libyaml's), driven as yaml.Marshal drives it.
// ---------------------------------------------------------------------------

constexpr int kBestIndent = 2;
constexpr int kBestWidth = 80;

// Byte at i, or 0 past the end (libyaml reads a NUL terminator there).
inline unsigned char at(std::string_view s, size_t i) {
  return i < s.size() ? static_cast<unsigned char>(s[i]) : 0;
}

inline int widthOf(unsigned char c) {
  if ((c & 0x80) == 0) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

inline bool isBreakAt(std::string_view s, size_t i) {
  unsigned char c = at(s, i);
  return c == '\r' || c == '\n' || (c == 0xC2 && at(s, i + 1) == 0x85) ||
         (c == 0xE2 && at(s, i + 1) == 0x80 && (at(s, i + 2) == 0xA8 || at(s, i + 2) == 0xA9));
}

inline bool isSpaceAt(std::string_view s, size_t i) { return at(s, i) == ' '; }
inline bool isBlankAt(std::string_view s, size_t i) {
  unsigned char c = at(s, i);
  return c == ' ' || c == '\t';
}
inline bool isBlankzAt(std::string_view s, size_t i) {
  return isBlankAt(s, i) || isBreakAt(s, i) || i >= s.size() || at(s, i) == 0;
}

inline bool isPrintableAt(std::string_view s, size_t i) {
  unsigned char c = at(s, i), c1 = at(s, i + 1), c2 = at(s, i + 2);
  return c == 0x0A || (c >= 0x20 && c <= 0x7E) || (c == 0xC2 && c1 >= 0xA0) ||
         (c > 0xC2 && c < 0xED) || (c == 0xED && c1 < 0xA0) || c == 0xEE ||
         (c == 0xEF && !(c1 == 0xBB && c2 == 0xBF) && !(c1 == 0xBF && (c2 == 0xBE || c2 == 0xBF)));
}

// Go's json.Marshal replaces invalid UTF-8 with U+FFFD; returns false if valid.
bool sanitizeUtf8(std::string_view s, std::string& out) {
  size_t i = 0;
  bool bad = false;
  auto valid = [&](size_t p, size_t& w) {
    unsigned char c = at(s, p);
    if (c < 0x80) return w = 1, true;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      w = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      w = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      w = 4, cp = c & 0x07;
    } else {
      return w = 1, false;
    }
    if (p + w > s.size()) return w = 1, false;
    for (size_t k = 1; k < w; ++k) {
      unsigned char d = at(s, p + k);
      if ((d & 0xC0) != 0x80) return w = 1, false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[w] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return w = 1, false;
    return true;
  };
  while (i < s.size()) {
    size_t w = 1;
    if (static_cast<unsigned char>(s[i]) < 0x80 || valid(i, w)) {
      if (bad) out.append(s.substr(i, w));
    } else {
      if (!bad) out.assign(s.substr(0, i));
      bad = true;
      out += "\xEF\xBF\xBD";
    }
    i += w;
  }
  return bad;
}

uint32_t runeAt(std::string_view s, size_t i, size_t& w) {
  unsigned char c = at(s, i);
  w = static_cast<size_t>(widthOf(c));
  if (w == 1 || i + w > s.size()) {
    w = 1;
    return c;
  }
  uint32_t cp = c & (0xFF >> (w + 1));
  for (size_t k = 1; k < w; ++k) cp = (cp << 6) | (at(s, i + k) & 0x3F);
  return cp;
}

// An approximation of Go's unicode.IsLetter outside ASCII (keys are ASCII in practice).
bool isLetterRune(uint32_t r) {
  if (r < 0x80) return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
  if (r < 0xC0) return r == 0xAA || r == 0xB5 || r == 0xBA;
  if (r < 0x250) return r != 0xD7 && r != 0xF7;
  if ((r >= 0x2000 && r <= 0x2BFF) || (r >= 0x3000 && r <= 0x303F) ||
      (r >= 0xFF00 && r <= 0xFF20) || r >= 0x1F000 || (r >= 0xE000 && r <= 0xF8FF)) {
    return false;
  }
  return true;
}

// go-yaml v2's keyList.Less for two string keys: runs of digits compare as
// numbers, non-letters sort before letters.
bool naturalLess(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  // Compare rune by rune; i and j advance together while equal.
  while (i < a.size() && j < b.size()) {
    size_t wa, wb;
    uint32_t ra = runeAt(a, i, wa), rb = runeAt(b, j, wb);
    if (ra == rb) {
      i += wa, j += wb;
      continue;
    }
    bool al = isLetterRune(ra), bl = isLetterRune(rb);
    if (al && bl) return ra < rb;
    if (al || bl) return bl;
    int64_t an = 0, bn = 0;
    if (ra == '0' || rb == '0') {
      // Digits just before the difference (shared by both): a non-zero one makes
      // the leading zeros significant.
      size_t k = i;
      while (k > 0) {
        unsigned char c = at(a, k - 1);
        if (!isDigit(static_cast<char>(c))) break;
        if (c != '0') {
          an = 1, bn = 1;
          break;
        }
        --k;
      }
    }
    size_t ai = i, bi = j;
    int64_t runsA = 0, runsB = 0;
    // Go's int64 arithmetic wraps on digit runs past 19 digits; so does this (C++20
    // defines the conversion). The order is then not transitive, and Kustomize's
    // output varies from run to run with Go's map order; windlass's stays stable.
    auto push = [](int64_t n, char digit) {
      return static_cast<int64_t>(static_cast<uint64_t>(n) * 10 +
                                  static_cast<uint64_t>(digit - '0'));
    };
    while (ai < a.size() && isDigit(a[ai])) an = push(an, a[ai++]), ++runsA;
    while (bi < b.size() && isDigit(b[bi])) bn = push(bn, b[bi++]), ++runsB;
    if (an != bn) return an < bn;
    if (runsA != runsB) return runsA < runsB;
    return ra < rb;
  }
  // Shorter in runes first.
  size_t restA = 0, restB = 0;
  for (; i < a.size(); ++restA) i += static_cast<size_t>(widthOf(at(a, i)));
  for (; j < b.size(); ++restB) j += static_cast<size_t>(widthOf(at(b, j)));
  return restA < restB;
}

// Shortest round-trip digits of a finite, non-zero |d|: value = 0.DIGITS × 10^dp.
void shortestDigits(double d, std::string& digits, int& dp) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, std::fabs(d), std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(res.ptr - buf));
  size_t e = s.find('e');
  digits.clear();
  for (size_t i = 0; i < e; ++i) {
    if (s[i] != '.') digits += s[i];
  }
  int exp = 0;
  std::from_chars(s.data() + e + (s[e + 1] == '+' ? 2 : 1), s.data() + s.size(), exp);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  dp = exp + 1;
}

// A double as Kustomize prints it after its JSON round trip (see emitYaml).
void appendNumber(double d, std::string& out) {
  if (std::isnan(d)) {
    out += ".nan";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? ".inf" : "-.inf";
    return;
  }
  if (d == std::trunc(d) && std::fabs(d) < 1e21) {
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
      out += std::to_string(static_cast<int64_t>(d));
      return;
    }
    if (d >= 0 && d < 18446744073709551616.0) {
      out += std::to_string(static_cast<uint64_t>(d));
      return;
    }
  }
  // strconv.FormatFloat(d, 'g', -1, 64).
  std::string digits;
  int dp = 0;
  shortestDigits(d, digits, dp);
  if (d < 0) out += '-';
  int exp = dp - 1;
  if (exp < -4 || exp >= 6) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1, std::string::npos);
    }
    out += 'e';
    out += exp < 0 ? '-' : '+';
    int a = exp < 0 ? -exp : exp;
    if (a < 10) out += '0';
    out += std::to_string(a);
    return;
  }
  if (dp <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-dp), '0');
    out += digits;
  } else if (static_cast<size_t>(dp) >= digits.size()) {
    out += digits;
    out.append(static_cast<size_t>(dp) - digits.size(), '0');
  } else {
    out.append(digits, 0, static_cast<size_t>(dp));
    out += '.';
    out.append(digits, static_cast<size_t>(dp), std::string::npos);
  }
}

enum class Style { kPlain, kSingle, kDouble, kLiteral };

struct Analysis {
  bool multiline = false;
  bool blockPlainAllowed = true;
  bool singleQuotedAllowed = true;
  bool blockAllowed = true;
};

// True when every byte of `s` is printable ASCII or '\n': the emitter then
// needs no UTF-8 decoding or repair, and every other byte takes one column.
bool isSimpleText(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n') || c >= 0x7F) return false;
  }
  return true;
}

// yaml_emitter_analyze_scalar, for block context (flow_level is always 0 here).
// kSimple: `value` is simple text (isSimpleText), read byte by byte.
template <bool kSimple>
Analysis analyze(std::string_view value) {
  Analysis a;
  if (value.empty()) {
    a.blockAllowed = false;
    return a;
  }
  bool blockIndicators = false, lineBreaks = false, special = false;
  bool leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false;
  bool breakSpace = false, spaceBreak = false;
  bool precededByWhitespace = true, previousSpace = false, previousBreak = false;
  if (value.size() >= 3 && ((value[0] == '-' && value[1] == '-' && value[2] == '-') ||
                            (value[0] == '.' && value[1] == '.' && value[2] == '.'))) {
    blockIndicators = true;
  }
  for (size_t i = 0, w = 0; i < value.size(); i += w) {
    unsigned char c = at(value, i);
    bool followedByWhitespace;
    if constexpr (kSimple) {
      w = 1;
      followedByWhitespace = i + 1 >= value.size() || value[i + 1] == ' ' || value[i + 1] == '\n';
    } else {
      w = static_cast<size_t>(widthOf(c));
      followedByWhitespace =
          i + w >= value.size() || isBlankAt(value, i + w) || isBreakAt(value, i + w);
    }
    if (i == 0) {
      switch (c) {
        case '#':
        case ',':
        case '[':
        case ']':
        case '{':
        case '}':
        case '&':
        case '*':
        case '!':
        case '|':
        case '>':
        case '\'':
        case '"':
        case '%':
        case '@':
        case '`':
          blockIndicators = true;
          break;
        case '?':
        case ':':
        case '-':
          if (followedByWhitespace) blockIndicators = true;
          break;
        default:
          break;
      }
    } else {
      if (c == ':' && followedByWhitespace) blockIndicators = true;
      if (c == '#' && precededByWhitespace) blockIndicators = true;
    }
    if (!kSimple && !isPrintableAt(value, i)) special = true;
    if (c == ' ') {
      if (i == 0) leadingSpace = true;
      if (i + w == value.size()) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (kSimple ? c == '\n' : isBreakAt(value, i)) {
      lineBreaks = true;
      if (i == 0) leadingBreak = true;
      if (i + w == value.size()) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = kSimple ? c == ' ' || c == '\n' : isBlankzAt(value, i);
  }
  a.multiline = lineBreaks;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) a.blockPlainAllowed = false;
  if (trailingSpace) a.blockAllowed = false;
  if (breakSpace) a.blockPlainAllowed = false, a.singleQuotedAllowed = false;
  if (spaceBreak || special) {
    a.blockPlainAllowed = false, a.singleQuotedAllowed = false, a.blockAllowed = false;
  }
  if (lineBreaks) a.blockPlainAllowed = false;
  if (blockIndicators) a.blockPlainAllowed = false;
  return a;
}

class Emitter {
 public:
  explicit Emitter(std::string& out) : out_(out) {}

  void document(const JsonValue& v) {
    indent_ = -1;
    column_ = 0;
    whitespace_ = true;
    indention_ = true;
    node(v, /*mapping=*/false, /*simpleKey=*/false, /*depth=*/0);
    writeIndent();
  }

 private:
  void put(char c) {
    out_ += c;
    ++column_;
  }
  void putBreak() {
    out_ += '\n';
    column_ = 0;
  }
  // Copies one UTF-8 character; a column per character.
  void write(std::string_view s, size_t& i) {
    size_t w = static_cast<size_t>(widthOf(at(s, i)));
    if (i + w > s.size()) w = s.size() - i;
    out_.append(s.data() + i, w);
    ++column_;
    i += w;
  }
  void writeBreak(std::string_view s, size_t& i) {
    if (s[i] == '\n') {
      putBreak();
      ++i;
    } else {
      write(s, i);
      column_ = 0;
    }
  }

  void pushIndent(bool flow, bool indentless) {
    indents_.push_back(indent_);
    if (indent_ < 0) {
      indent_ = flow ? kBestIndent : 0;
    } else if (!indentless) {
      indent_ += kBestIndent;
    }
  }
  void popIndent() {
    indent_ = indents_.back();
    indents_.pop_back();
  }

  void writeIndent() {
    int indent = indent_ < 0 ? 0 : indent_;
    if (!indention_ || column_ > indent || (column_ == indent && !whitespace_)) putBreak();
    if (column_ < indent) {
      out_.append(static_cast<size_t>(indent - column_), ' ');
      column_ = indent;
    }
    whitespace_ = true;
    indention_ = true;
  }

  void writeIndicator(std::string_view indicator, bool needWhitespace, bool isWhitespace,
                      bool isIndention) {
    if (needWhitespace && !whitespace_) put(' ');
    out_ += indicator;
    column_ += static_cast<int>(indicator.size());
    whitespace_ = isWhitespace;
    indention_ = indention_ && isIndention;
  }

  std::vector<const JsonValue::Member*>& sortedMembers(const JsonValue& obj, size_t depth) {
    if (memberBufs_.size() <= depth) memberBufs_.resize(depth + 1);
    auto& buf = memberBufs_[depth];
    buf.clear();
    for (const auto& m : obj.GetObject()) buf.push_back(&m);
    std::stable_sort(buf.begin(), buf.end(), [](const auto* x, const auto* y) {
      return naturalLess(std::string_view(x->name.GetString(), x->name.GetStringLength()),
                         std::string_view(y->name.GetString(), y->name.GetStringLength()));
    });
    return buf;
  }

  void node(const JsonValue& v, bool mapping, bool simpleKey, size_t depth) {
    switch (v.GetType()) {
      case rapidjson::kObjectType:
        if (v.MemberCount() == 0) {
          writeIndicator("{", true, true, false);
          writeIndicator("}", false, false, false);
          return;
        }
        mappingBlock(v, depth);
        return;
      case rapidjson::kArrayType:
        if (v.Size() == 0) {
          writeIndicator("[", true, true, false);
          writeIndicator("]", false, false, false);
          return;
        }
        pushIndent(false, mapping && !indention_);
        for (const auto& e : v.GetArray()) {
          writeIndent();
          writeIndicator("-", true, false, true);
          node(e, false, false, depth + 1);
        }
        popIndent();
        return;
      case rapidjson::kStringType:
        stringScalar(std::string_view(v.GetString(), v.GetStringLength()), simpleKey);
        return;
      case rapidjson::kNullType:
        plainToken("null");
        return;
      case rapidjson::kTrueType:
        plainToken("true");
        return;
      case rapidjson::kFalseType:
        plainToken("false");
        return;
      case rapidjson::kNumberType: {
        numberBuf_.clear();
        if (v.IsInt64()) {
          numberBuf_ = std::to_string(v.GetInt64());
        } else if (v.IsUint64()) {
          numberBuf_ = std::to_string(v.GetUint64());
        } else {
          appendNumber(v.GetDouble(), numberBuf_);
        }
        plainToken(numberBuf_);
        return;
      }
    }
  }

  void mappingBlock(const JsonValue& obj, size_t depth) {
    pushIndent(false, false);
    sortedMembers(obj, depth);
    // Index on each turn: deeper levels may grow memberBufs_ and move the buffers.
    for (size_t k = 0; k < memberBufs_[depth].size(); ++k) {
      const JsonValue::Member* m = memberBufs_[depth][k];
      std::string_view key(m->name.GetString(), m->name.GetStringLength());
      writeIndent();
      bool multiline = key.find_first_of("\r\n") != std::string_view::npos ||
                       key.find("\xC2\x85") != std::string_view::npos ||
                       key.find("\xE2\x80\xA8") != std::string_view::npos ||
                       key.find("\xE2\x80\xA9") != std::string_view::npos;
      if (!multiline && key.size() <= 128) {
        stringScalar(key, /*simpleKey=*/true);
        writeIndicator(":", false, false, false);
      } else {
        writeIndicator("?", true, false, true);
        stringScalar(key, /*simpleKey=*/false);
        writeIndent();
        writeIndicator(":", true, false, true);
      }
      node(m->value, /*mapping=*/true, false, depth + 1);
    }
    popIndent();
  }

  void plainToken(std::string_view text) {
    pushIndent(true, false);
    writePlain(text, true);
    popIndent();
  }

  void stringScalar(std::string_view s, bool simpleKey) {
    bool simple = isSimpleText(s);
    std::string fixed;
    if (!simple && sanitizeUtf8(s, fixed)) s = fixed;
    Style style;
    if (s.find('\n') != std::string_view::npos) {
      style = Style::kLiteral;
    } else if (!resolvesToNonString(s)) {
      style = Style::kPlain;
    } else {
      style = Style::kDouble;
    }
    Analysis a = simple ? analyze<true>(s) : analyze<false>(s);
    if (simpleKey && a.multiline) style = Style::kDouble;
    if (style == Style::kPlain && !a.blockPlainAllowed) style = Style::kSingle;
    if (style == Style::kPlain && s.empty() && simpleKey) style = Style::kSingle;
    if (style == Style::kSingle && !a.singleQuotedAllowed) style = Style::kDouble;
    if (style == Style::kLiteral && (!a.blockAllowed || simpleKey)) style = Style::kDouble;
    pushIndent(true, false);
    switch (style) {
      case Style::kPlain:
        if (simple) {
          writeSimplePlain(s, !simpleKey);
        } else {
          writePlain(s, !simpleKey);
        }
        break;
      case Style::kSingle:
        writeSingle(s, !simpleKey);
        break;
      case Style::kDouble:
        writeDouble(s, !simpleKey);
        break;
      case Style::kLiteral:
        if (simple) {
          writeSimpleLiteral(s);
        } else {
          writeLiteral(s);
        }
        break;
    }
    popIndent();
  }

  void writePlain(std::string_view value, bool allowBreaks) {
    if (!whitespace_) put(' ');
    bool spaces = false, breaks = false;
    for (size_t i = 0; i < value.size();) {
      if (isSpaceAt(value, i)) {
        if (allowBreaks && !spaces && column_ > kBestWidth && !isSpaceAt(value, i + 1)) {
          writeIndent();
          ++i;
        } else {
          write(value, i);
        }
        spaces = true;
      } else if (isBreakAt(value, i)) {
        if (!breaks && value[i] == '\n') putBreak();
        writeBreak(value, i);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) writeIndent();
        write(value, i);
        indention_ = false;
        spaces = false;
        breaks = false;
      }
    }
    whitespace_ = false;
    indention_ = false;
  }

  // writePlain for simple text without line breaks (plain style has none),
  // copying the runs between spaces whole.
  void writeSimplePlain(std::string_view value, bool allowBreaks) {
    if (!whitespace_) put(' ');
    bool spaces = false;
    for (size_t i = 0; i < value.size();) {
      if (value[i] == ' ') {
        if (allowBreaks && !spaces && column_ > kBestWidth &&
            !(i + 1 < value.size() && value[i + 1] == ' ')) {
          writeIndent();
        } else {
          put(' ');
        }
        spaces = true;
        ++i;
        continue;
      }
      size_t end = value.find(' ', i);
      if (end == std::string_view::npos) end = value.size();
      out_.append(value.data() + i, end - i);
      column_ += static_cast<int>(end - i);
      indention_ = false;
      spaces = false;
      i = end;
    }
    whitespace_ = false;
    indention_ = false;
  }

  void writeSingle(std::string_view value, bool allowBreaks) {
    writeIndicator("'", true, false, false);
    bool spaces = false, breaks = false;
    for (size_t i = 0; i < value.size();) {
      if (isSpaceAt(value, i)) {
        if (allowBreaks && !spaces && column_ > kBestWidth && i > 0 && i < value.size() - 1 &&
            !isSpaceAt(value, i + 1)) {
          writeIndent();
          ++i;
        } else {
          write(value, i);
        }
        spaces = true;
      } else if (isBreakAt(value, i)) {
        if (!breaks && value[i] == '\n') putBreak();
        writeBreak(value, i);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) writeIndent();
        if (value[i] == '\'') put('\'');
        write(value, i);
        indention_ = false;
        spaces = false;
        breaks = false;
      }
    }
    writeIndicator("'", false, false, false);
    whitespace_ = false;
    indention_ = false;
  }

  void writeDouble(std::string_view value, bool allowBreaks) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    bool spaces = false;
    writeIndicator("\"", true, false, false);
    for (size_t i = 0; i < value.size();) {
      unsigned char c = at(value, i);
      bool bom = c == 0xEF && at(value, i + 1) == 0xBB && at(value, i + 2) == 0xBF;
      if (!isPrintableAt(value, i) || bom || isBreakAt(value, i) || c == '"' || c == '\\') {
        size_t w;
        uint32_t r = runeAt(value, i, w);
        i += w;
        put('\\');
        switch (r) {
          case 0x00:
            put('0');
            break;
          case 0x07:
            put('a');
            break;
          case 0x08:
            put('b');
            break;
          case 0x09:
            put('t');
            break;
          case 0x0A:
            put('n');
            break;
          case 0x0B:
            put('v');
            break;
          case 0x0C:
            put('f');
            break;
          case 0x0D:
            put('r');
            break;
          case 0x1B:
            put('e');
            break;
          case 0x22:
            put('"');
            break;
          case 0x5C:
            put('\\');
            break;
          case 0x85:
            put('N');
            break;
          case 0xA0:
            put('_');
            break;
          case 0x2028:
            put('L');
            break;
          case 0x2029:
            put('P');
            break;
          default: {
            int digits;
            if (r <= 0xFF) {
              put('x'), digits = 2;
            } else if (r <= 0xFFFF) {
              put('u'), digits = 4;
            } else {
              put('U'), digits = 8;
            }
            for (int k = (digits - 1) * 4; k >= 0; k -= 4) put(kHex[(r >> k) & 0x0F]);
          }
        }
        spaces = false;
      } else if (c == ' ') {
        if (allowBreaks && !spaces && column_ > kBestWidth && i > 0 && i < value.size() - 1) {
          writeIndent();
          if (isSpaceAt(value, i + 1)) put('\\');
          ++i;
        } else {
          write(value, i);
        }
        spaces = true;
      } else {
        write(value, i);
        spaces = false;
      }
    }
    writeIndicator("\"", false, false, false);
    whitespace_ = false;
    indention_ = false;
  }

  void writeBlockHints(std::string_view value) {
    if (isSpaceAt(value, 0) || isBreakAt(value, 0)) {
      char hint[2] = {static_cast<char>('0' + kBestIndent), 0};
      writeIndicator(std::string_view(hint, 1), false, false, false);
    }
    char chomp = 0;
    if (value.empty()) {
      chomp = '-';
    } else {
      size_t i = value.size() - 1;
      while (i > 0 && (at(value, i) & 0xC0) == 0x80) --i;
      if (!isBreakAt(value, i)) {
        chomp = '-';
      } else if (i == 0) {
        chomp = '+';
      } else {
        --i;
        while (i > 0 && (at(value, i) & 0xC0) == 0x80) --i;
        if (isBreakAt(value, i)) chomp = '+';
      }
    }
    if (chomp != 0) writeIndicator(std::string_view(&chomp, 1), false, false, false);
  }

  void writeLiteral(std::string_view value) {
    writeIndicator("|", true, false, false);
    writeBlockHints(value);
    putBreak();
    indention_ = true;
    whitespace_ = true;
    bool breaks = true;
    for (size_t i = 0; i < value.size();) {
      if (isBreakAt(value, i)) {
        writeBreak(value, i);
        indention_ = true;
        breaks = true;
      } else {
        if (breaks) writeIndent();
        write(value, i);
        indention_ = false;
        breaks = false;
      }
    }
  }

  // writeLiteral for simple text, copying each line whole.
  void writeSimpleLiteral(std::string_view value) {
    writeIndicator("|", true, false, false);
    writeBlockHints(value);
    putBreak();
    indention_ = true;
    whitespace_ = true;
    bool breaks = true;
    for (size_t i = 0; i < value.size();) {
      if (value[i] == '\n') {
        putBreak();
        ++i;
        indention_ = true;
        breaks = true;
        continue;
      }
      if (breaks) writeIndent();
      size_t end = value.find('\n', i);
      if (end == std::string_view::npos) end = value.size();
      out_.append(value.data() + i, end - i);
      column_ += static_cast<int>(end - i);
      i = end;
      indention_ = false;
      breaks = false;
    }
  }

  std::string& out_;
  int indent_ = -1;
  std::vector<int> indents_;
  int column_ = 0;
  bool whitespace_ = true;
  bool indention_ = true;
  std::string numberBuf_;
  std::vector<std::vector<const JsonValue::Member*>> memberBufs_;
};

}  // namespace

Result<std::vector<JsonValue>> parseYamlVia(YamlPath path, std::string_view text,
                                            std::string_view fileName, YamlDialect dialect,
                                            JsonAllocator& alloc, const YamlLimits& limits,
                                            std::vector<EmptyNullPaths>* emptyNulls) {
  std::vector<JsonValue> docs;
  std::vector<EmptyNullPaths> nulls;
  if (emptyNulls != nullptr) emptyNulls->clear();
  std::vector<EmptyNullPaths>* nullsOut =
      emptyNulls != nullptr && dialect == YamlDialect::kResource ? &nulls : nullptr;
  auto done = [&]() -> Result<std::vector<JsonValue>> {
    if (!nulls.empty()) {
      nulls.resize(docs.size());
      *emptyNulls = std::move(nulls);
    }
    return std::move(docs);
  };
  // A UTF-8 byte order mark is allowed at the start (go-yaml skips it too).
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  if (path != YamlPath::kYamlCppOnly) {
    // The fast path reports the events yaml-cpp would. When it gives up, or when
    // the builder stops on an error (whose message needs yaml-cpp's marks), what
    // it built is dropped (the values stay in `alloc` until it is freed) and
    // yaml-cpp reads the text again.
    bool ok = false;
    {
      Builder builder(text, dialect, alloc, limits, docs, nullsOut);
      try {
        ok = scanYamlFast(text, builder);
      } catch (...) {
        ok = false;
      }
    }
    if (ok) return done();
    docs.clear();
    nulls.clear();
    if (path == YamlPath::kFastOnly) {
      return Status::failedPrecondition(std::string(fileName) +
                                        ": outside the subset the fast YAML path reads");
    }
  }
  MemoryBuf buf(text);
  std::istream in(&buf);
  Builder builder(text, dialect, alloc, limits, docs, nullsOut);
  // The one place where yaml-cpp's exceptions (and the builder's) become a Status.
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const ParseAbort& e) {
    return Status::invalidArgument(location(fileName, e.mark.line, e.mark.column) + e.message);
  } catch (const YAML::Exception& e) {
    int tabLine = 0;
    if (findTabIndent(text, e.mark.line, tabLine)) {
      return Status::invalidArgument(location(fileName, tabLine, 0) +
                                     "found character that cannot start any token "
                                     "(a tab indents this line; YAML indents with spaces)");
    }
    return Status::invalidArgument(location(fileName, e.mark.line, e.mark.column) + e.msg);
  } catch (const JsonAssertion& e) {
    return Status::internal(std::string(fileName) + ": " + e.what());
  } catch (const std::exception& e) {
    return Status::internal(std::string(fileName) + ": " + e.what());
  }
  return done();
}

Result<std::vector<JsonValue>> parseYaml(std::string_view text, std::string_view fileName,
                                         YamlDialect dialect, JsonAllocator& alloc,
                                         const YamlLimits& limits,
                                         std::vector<EmptyNullPaths>* emptyNulls) {
  return parseYamlVia(YamlPath::kAuto, text, fileName, dialect, alloc, limits, emptyNulls);
}

void emitYaml(const JsonValue& doc, std::string& out) {
  Emitter emitter(out);
  emitter.document(doc);
}

namespace {

// About the bytes emitYaml prints for `v` at nesting `depth` (rather more than
// fewer): the text of keys and scalars, and an indentation for each line.
size_t estimateYamlSize(const JsonValue& v, size_t depth) {
  size_t indent = 2 * depth + 2;
  switch (v.GetType()) {
    case rapidjson::kObjectType: {
      size_t n = 0;
      for (const auto& m : v.GetObject()) {
        n += indent + m.name.GetStringLength() + 2 + estimateYamlSize(m.value, depth + 1);
      }
      return n;
    }
    case rapidjson::kArrayType: {
      size_t n = 0;
      for (const auto& e : v.GetArray()) n += indent + estimateYamlSize(e, depth + 1);
      return n;
    }
    case rapidjson::kStringType: {
      // Long strings print as several lines (literal blocks, folded plain
      // text): count one every 32 bytes rather than read them. Room reserved
      // beyond the need is never touched, so it costs no memory.
      size_t n = v.GetStringLength();
      return n + (n > 64 ? n / 32 * indent : 0) + 8;
    }
    default:
      return 8;
  }
}

}  // namespace

void emitYamlStream(const std::vector<JsonValue>& docs, std::string& out) {
  size_t estimate = 0;
  for (const JsonValue& d : docs) estimate += estimateYamlSize(d, 0) + 4;
  out.reserve(out.size() + estimate + estimate / 8);
  Emitter emitter(out);
  for (size_t i = 0; i < docs.size(); ++i) {
    if (i > 0) out += "---\n";
    emitter.document(docs[i]);
  }
}

}  // namespace windlass::overlays
