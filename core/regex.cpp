#include "core/regex.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>

namespace windlass {

namespace {

// Go's wording for each parse error (regexp/syntax ErrorCode).
const char* goErrorText(re2::RE2::ErrorCode code) {
  switch (code) {
    case re2::RE2::ErrorBadEscape:
      return "invalid escape sequence";
    case re2::RE2::ErrorBadCharClass:
      return "invalid character class";
    case re2::RE2::ErrorBadCharRange:
      return "invalid character class range";
    case re2::RE2::ErrorMissingBracket:
      return "missing closing ]";
    case re2::RE2::ErrorMissingParen:
      return "missing closing )";
    case re2::RE2::ErrorUnexpectedParen:
      return "unexpected )";
    case re2::RE2::ErrorTrailingBackslash:
      return "trailing backslash at end of expression";
    case re2::RE2::ErrorRepeatArgument:
      return "missing argument to repetition operator";
    case re2::RE2::ErrorRepeatSize:
      return "invalid repeat count";
    case re2::RE2::ErrorRepeatOp:
      return "invalid nested repetition operator";
    case re2::RE2::ErrorBadPerlOp:
      return "invalid or unsupported Perl syntax";
    case re2::RE2::ErrorBadUTF8:
      return "invalid UTF-8";
    case re2::RE2::ErrorBadNamedCapture:
      return "invalid named capture";
    case re2::RE2::ErrorPatternTooLarge:
      return "expression too large";
    default:
      return "internal error";
  }
}

// Go (since 1.22) also spells a named group `(?<name>…)`; this RE2 knows only
// `(?P<name>…)`. Rewrites the former outside character classes and escapes.
std::string goToRe2(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 4);
  bool inClass = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      out += c;
      out += pattern[++i];
      continue;
    }
    if (inClass) {
      if (c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
        size_t end = pattern.find(":]", i + 2);
        if (end != std::string_view::npos) {
          out.append(pattern.substr(i, end + 2 - i));
          i = end + 1;
          continue;
        }
      }
      if (c == ']') inClass = false;
      out += c;
      continue;
    }
    if (c == '[') {
      inClass = true;
      out += c;
      // A ']' first in the class (after an optional '^') is a literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (c == '(' && pattern.substr(i, 3) == "(?<" && i + 3 < pattern.size() &&
        pattern[i + 3] != '=' && pattern[i + 3] != '!') {
      out += "(?P<";
      i += 2;
      continue;
    }
    out += c;
  }
  return out;
}

bool isNameByte(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || u >= 0x80;  // bytes of non-ASCII letters
}

}  // namespace

Result<Regex> Regex::compile(std::string_view pattern) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  options.set_encoding(re2::RE2::Options::EncodingUTF8);
  auto re = std::make_shared<const re2::RE2>(goToRe2(pattern), options);
  if (!re->ok()) {
    return Status::invalidArgument("invalid regular expression \"" + std::string(pattern) +
                                   "\": error parsing regexp: " + goErrorText(re->error_code()) +
                                   ": `" + re->error_arg() + "`");
  }
  return Regex(std::string(pattern), std::move(re));
}

bool Regex::fullMatch(std::string_view text) const {
  return re2::RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

bool Regex::partialMatch(std::string_view text) const {
  return re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

std::optional<RegexMatch> Regex::find(std::string_view text) const {
  int n = 1 + re_->NumberOfCapturingGroups();
  std::vector<re2::StringPiece> pieces(static_cast<size_t>(n));
  if (!re_->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), re2::RE2::UNANCHORED,
                  pieces.data(), n)) {
    return std::nullopt;
  }
  RegexMatch m;
  m.groups.reserve(pieces.size());
  for (const re2::StringPiece& p : pieces) {
    if (p.data() == nullptr) {
      m.groups.emplace_back(std::nullopt);
    } else {
      m.groups.emplace_back(std::string_view(p.data(), p.size()));
    }
  }
  return m;
}

int Regex::groupIndex(std::string_view name) const {
  const auto& names = re_->NamedCapturingGroups();
  auto it = names.find(std::string(name));
  return it == names.end() ? -1 : it->second;
}

std::optional<std::string_view> Regex::group(const RegexMatch& m, std::string_view name) const {
  int i = groupIndex(name);
  if (i < 0 || static_cast<size_t>(i) >= m.groups.size()) return std::nullopt;
  return m.groups[static_cast<size_t>(i)];
}

int Regex::groupCount() const { return re_->NumberOfCapturingGroups(); }

std::string Regex::expand(std::string_view tmpl, const RegexMatch& m) const {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t dollar = tmpl.find('$', i);
    if (dollar == std::string_view::npos) break;
    out.append(tmpl.substr(i, dollar - i));
    i = dollar + 1;
    if (i < tmpl.size() && tmpl[i] == '$') {
      out += '$';
      ++i;
      continue;
    }
    // A name: letters, digits and '_', optionally in braces.
    bool brace = i < tmpl.size() && tmpl[i] == '{';
    size_t start = brace ? i + 1 : i, end = start;
    while (end < tmpl.size() && isNameByte(tmpl[end])) ++end;
    if (end == start || (brace && (end == tmpl.size() || tmpl[end] != '}'))) {
      out += '$';  // malformed: the '$' is plain text
      continue;
    }
    std::string_view name = tmpl.substr(start, end - start);
    i = brace ? end + 1 : end;
    int index = -1;
    bool numeric = name.size() <= 8 && (name.size() == 1 || name[0] != '0');
    for (char c : name) numeric = numeric && c >= '0' && c <= '9';
    if (numeric) {
      index = std::stoi(std::string(name));
    } else {
      index = groupIndex(name);
    }
    if (index >= 0 && static_cast<size_t>(index) < m.groups.size() &&
        m.groups[static_cast<size_t>(index)]) {
      out.append(*m.groups[static_cast<size_t>(index)]);
    }
  }
  out.append(tmpl.substr(std::min(i, tmpl.size())));
  return out;
}

}  // namespace windlass
