#include "sources/image_policy.h"

#include <re2/re2.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

namespace windlass::sources {

namespace {

// The one place this module touches RE2 (until core/regex wraps it for everyone): a Go
// regexp compiled with RE2's defaults, which are Go's syntax (Perl classes, (?P<name>),
// UTF-8, leftmost-first), with the error in Go's words.
Result<std::shared_ptr<const re2::RE2>> compileGoRegexp(const std::string& pattern) {
  re2::RE2::Options o;
  o.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(pattern, o);
  if (!re->ok()) {
    return Status::invalidArgument("invalid Go regexp \"" + pattern + "\": " + re->error());
  }
  return std::shared_ptr<const re2::RE2>(std::move(re));
}

// The submatches of the leftmost match of `re` in `text` (index 0 the whole match), or
// nullopt when it does not match. Unmatched groups are empty views with a null data().
std::optional<std::vector<std::string_view>> findSubmatch(const re2::RE2& re,
                                                          std::string_view text) {
  std::vector<re2::StringPiece> pieces(static_cast<size_t>(re.NumberOfCapturingGroups()) + 1);
  if (!re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), re2::RE2::UNANCHORED,
                pieces.data(), static_cast<int>(pieces.size()))) {
    return std::nullopt;
  }
  std::vector<std::string_view> out;
  out.reserve(pieces.size());
  for (const auto& p : pieces) out.emplace_back(p.data(), p.size());
  return out;
}

std::vector<std::string> groupNames(const re2::RE2& re) {
  std::vector<std::string> names(static_cast<size_t>(re.NumberOfCapturingGroups()) + 1);
  for (const auto& [name, index] : re.NamedCapturingGroups()) {
    names[static_cast<size_t>(index)] = name;
  }
  return names;
}

bool nameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The names a template refers to, for checking them against the pattern's groups.
std::vector<std::string> templateNames(std::string_view tmpl) {
  std::vector<std::string> out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '$' || i + 1 >= tmpl.size()) continue;
    if (tmpl[i + 1] == '$') {
      ++i;
      continue;
    }
    if (tmpl[i + 1] == '{') {
      size_t close = tmpl.find('}', i + 2);
      if (close == std::string_view::npos) continue;
      std::string_view n = tmpl.substr(i + 2, close - i - 2);
      if (!n.empty() && std::all_of(n.begin(), n.end(), nameChar)) out.emplace_back(n);
      i = close;
      continue;
    }
    size_t j = i + 1;
    while (j < tmpl.size() && nameChar(tmpl[j])) ++j;
    if (j > i + 1) out.emplace_back(tmpl.substr(i + 1, j - i - 1));
    i = j - 1;
  }
  return out;
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<double> parseNumber(const std::string& s) {
  // Go's strconv.ParseFloat accepts more (hex floats, underscores, Inf); tags that are
  // numbers are plain decimals, and strtod reads those the same way.
  if (s.empty() || std::isspace(static_cast<unsigned char>(s.front()))) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || std::isnan(v)) return std::nullopt;
  return v;
}

}  // namespace

std::string expandTemplate(std::string_view tmpl, const std::vector<std::string_view>& groups,
                           const std::vector<std::string>& names) {
  std::string out;
  auto append = [&](std::string_view name) {
    if (allDigits(name)) {
      // A number too long to be an index names no group.
      if (name.size() > 6) return;
      size_t index = static_cast<size_t>(std::stoul(std::string(name)));
      if (index < groups.size()) out.append(groups[index]);
      return;
    }
    for (size_t i = 0; i < names.size() && i < groups.size(); ++i) {
      if (names[i] == name) {
        out.append(groups[i]);
        return;
      }
    }
  };
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '$') {
      out.push_back(tmpl[i]);
      continue;
    }
    if (i + 1 < tmpl.size() && tmpl[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
      size_t close = tmpl.find('}', i + 2);
      std::string_view n =
          close == std::string_view::npos ? std::string_view() : tmpl.substr(i + 2, close - i - 2);
      if (n.empty() || !std::all_of(n.begin(), n.end(), nameChar)) {
        out.push_back('$');  // malformed: the $ is text, as in Go
        continue;
      }
      append(n);
      i = close;
      continue;
    }
    size_t j = i + 1;
    while (j < tmpl.size() && nameChar(tmpl[j])) ++j;
    if (j == i + 1) {
      out.push_back('$');
      continue;
    }
    append(tmpl.substr(i + 1, j - i - 1));
    i = j - 1;
  }
  return out;
}

Result<TagPolicy> TagPolicy::compile(const TagPolicySpec& spec, const std::string& where) {
  TagPolicy p;
  p.spec_ = spec;
  if (spec.kind == TagPolicySpec::Kind::kSemver) {
    auto r = parseRange(spec.range);
    if (!r) return r.error().withContext(where + ".policy.semver.range");
    p.range_ = std::move(*r);
  }
  if (!spec.pattern.empty()) {
    auto re = compileGoRegexp(spec.pattern);
    if (!re) return re.error().withContext(where + ".filterTags.pattern");
    p.pattern_ = std::move(*re);
    std::vector<std::string> names = groupNames(*p.pattern_);
    for (const std::string& n : templateNames(spec.extract)) {
      bool known = allDigits(n) ? n.size() <= 6 && std::stoul(n) < names.size()
                                : std::find(names.begin(), names.end(), n) != names.end();
      if (!known) {
        return Status::invalidArgument(where + ".filterTags.extract: \"$" + n +
                                       "\" names no group of the pattern");
      }
    }
  } else if (!spec.extract.empty()) {
    return Status::invalidArgument(where + ".filterTags.extract: needs filterTags.pattern");
  }
  return p;
}

std::optional<std::string> TagPolicy::extractValue(const std::string& tag) const {
  if (!pattern_) return tag;
  auto groups = findSubmatch(*pattern_, tag);
  if (!groups) return std::nullopt;
  if (spec_.extract.empty()) return tag;
  return expandTemplate(spec_.extract, *groups, groupNames(*pattern_));
}

TagChoice TagPolicy::choose(const std::vector<std::string>& tags) const {
  TagChoice c;
  c.seen = tags.size();
  // value → tag, the byte-first tag for each value.
  std::vector<std::pair<std::string, const std::string*>> values;
  values.reserve(tags.size());
  std::vector<std::string> names = pattern_ ? groupNames(*pattern_) : std::vector<std::string>();
  for (const std::string& tag : tags) {
    if (!pattern_) {
      values.emplace_back(tag, &tag);
      continue;
    }
    auto groups = findSubmatch(*pattern_, tag);
    if (!groups) continue;
    values.emplace_back(spec_.extract.empty() ? tag : expandTemplate(spec_.extract, *groups, names),
                        &tag);
  }
  c.filtered = values.size();
  std::string filterNote = pattern_ ? " (" + std::to_string(c.filtered) + " of " +
                                          std::to_string(c.seen) + " tags match the pattern)"
                                    : " (of " + std::to_string(c.seen) + " tags)";
  // `better(a, b)`: a wins over b. Ties go to the byte-first tag.
  const std::string* best = nullptr;
  switch (spec_.kind) {
    case TagPolicySpec::Kind::kSemver: {
      std::optional<Version> bestVersion;
      for (const auto& [value, tag] : values) {
        auto v = parseVersion(value);
        if (!v || !range_->matches(*v)) continue;
        ++c.candidates;
        int cmp = bestVersion ? compare(*v, *bestVersion) : 1;
        if (cmp > 0 || (cmp == 0 && *tag < *best)) {
          bestVersion = std::move(*v);
          best = tag;
        }
      }
      c.reason = best ? "highest of " + std::to_string(c.candidates) + " versions in range \"" +
                            spec_.range + "\"" + filterNote
                      : "no version in range \"" + spec_.range + "\"" + filterNote;
      break;
    }
    case TagPolicySpec::Kind::kAlphabetical: {
      bool asc = spec_.order == TagPolicySpec::Order::kAsc;
      const std::string* bestValue = nullptr;
      for (const auto& [value, tag] : values) {
        ++c.candidates;
        int cmp = bestValue ? value.compare(*bestValue) : (asc ? 1 : -1);
        if ((asc ? cmp > 0 : cmp < 0) || (cmp == 0 && *tag < *best)) {
          bestValue = &value;
          best = tag;
        }
      }
      c.reason = best ? std::string(asc ? "last" : "first") + " in alphabetical order of " +
                            std::to_string(c.candidates) + " values" + filterNote
                      : "no tag to order" + filterNote;
      break;
    }
    case TagPolicySpec::Kind::kNumerical: {
      bool asc = spec_.order == TagPolicySpec::Order::kAsc;
      std::optional<double> bestValue;
      size_t skipped = 0;
      for (const auto& [value, tag] : values) {
        auto v = parseNumber(value);
        if (!v) {
          ++skipped;
          continue;
        }
        ++c.candidates;
        bool wins = !bestValue || (asc ? *v > *bestValue : *v < *bestValue) ||
                    (*v == *bestValue && *tag < *best);
        if (wins) {
          bestValue = v;
          best = tag;
        }
      }
      std::string skippedNote =
          skipped ? ", " + std::to_string(skipped) + " values not numbers skipped" : "";
      c.reason = best ? std::string(asc ? "highest" : "lowest") + " of " +
                            std::to_string(c.candidates) + " numbers" + filterNote + skippedNote
                      : "no numeric value" + filterNote + skippedNote;
      break;
    }
  }
  if (best) c.tag = *best;
  return c;
}

}  // namespace windlass::sources
