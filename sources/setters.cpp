#include "sources/setters.h"

#include "core/json.h"

namespace windlass::sources {

namespace {

// The position of the '#' that starts the comment of `line`, or npos: the first '#' at
// the start or after a blank, outside quotes.
size_t commentStart(std::string_view line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '"' || c == '\'') {
      // A quote opens a scalar only at its start (after ": ", "- " or the indentation).
      if (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t') quote = c;
      continue;
    }
    if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) return i;
  }
  return std::string_view::npos;
}

struct Marker {
  std::string policy;
  std::string field;  // "", "tag", "name" or "digest"
  bool held = false;
  std::string reason;
};

bool parseMarker(std::string_view comment, Marker* out) {
  while (!comment.empty() && (comment.front() == ' ' || comment.front() == '\t')) {
    comment.remove_prefix(1);
  }
  if (comment.empty() || comment.front() != '{') return false;
  JsonDocument doc;
  doc.Parse(comment.data(), comment.size());
  if (doc.HasParseError() || !doc.IsObject()) return false;
  auto it = doc.FindMember("$imagepolicy");
  if (it == doc.MemberEnd() || !it->value.IsString()) return false;
  std::string spec(it->value.GetString(), it->value.GetStringLength());
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() >= 2 &&
      (parts.back() == "tag" || parts.back() == "name" || parts.back() == "digest")) {
    out->field = parts.back();
    parts.pop_back();
  }
  if (parts.empty() || parts.size() > 2 || parts.back().empty()) return false;
  out->policy = parts.back();
  auto hold = doc.FindMember("$hold");
  if (hold != doc.MemberEnd()) {
    out->held = true;
    if (hold->value.IsString()) out->reason.assign(hold->value.GetString());
  }
  return true;
}

// The [begin, end) of the scalar value on `line` before `comment`: after "key: " or "- ".
bool valueSpan(std::string_view line, size_t comment, size_t* begin, size_t* end) {
  size_t e = comment;
  while (e > 0 && (line[e - 1] == ' ' || line[e - 1] == '\t')) --e;
  size_t s = 0;
  while (s < e && (line[s] == ' ' || line[s] == '\t')) ++s;
  if (s < e && line[s] == '-' && s + 1 < e && line[s + 1] == ' ') {
    s += 2;
    while (s < e && line[s] == ' ') ++s;
    // "- key: value" (a map in a list): the value after the key.
    size_t sep = line.substr(s, e - s).find(": ");
    if (sep != std::string_view::npos && line[s] != '"' && line[s] != '\'') s += sep + 2;
  } else {
    size_t sep = line.substr(s, e - s).find(": ");
    if (sep == std::string_view::npos) return false;
    s += sep + 2;
  }
  while (s < e && line[s] == ' ') ++s;
  if (s >= e) return false;
  *begin = s;
  *end = e;
  return true;
}

}  // namespace

SetterResult applySetters(std::string_view text,
                          const std::map<std::string, SetterValues>& values) {
  SetterResult out;
  out.text.reserve(text.size());
  int number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t lineEnd = nl == std::string_view::npos ? text.size() : nl;
    std::string_view full = text.substr(pos, lineEnd - pos);
    std::string_view line = full;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++number;
    std::string rewritten(full);
    size_t hash = commentStart(line);
    Marker m;
    size_t b = 0, e = 0;
    if (hash != std::string_view::npos && parseMarker(line.substr(hash + 1), &m) &&
        values.count(m.policy) > 0) {
      if (m.held) {
        out.holds.push_back({number, m.policy, m.reason});
      } else if (valueSpan(line, hash, &b, &e)) {
        const SetterValues& v = values.at(m.policy);
        std::string value = m.field == "tag"      ? v.tag
                            : m.field == "name"   ? v.name
                            : m.field == "digest" ? v.digest
                                                  : v.reference();
        char q = line[b];
        if ((q == '"' || q == '\'') && e - b >= 2 && line[e - 1] == q) {
          ++b;
          --e;
        }
        if (!value.empty() && line.substr(b, e - b) != value) {
          rewritten = std::string(full.substr(0, b)) + value + std::string(full.substr(e));
          out.changedLines.push_back(number);
        }
      }
    }
    out.text += rewritten;
    if (nl == std::string_view::npos) break;
    out.text += '\n';
    pos = nl + 1;
  }
  return out;
}

}  // namespace windlass::sources
