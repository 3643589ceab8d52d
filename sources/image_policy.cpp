#include "sources/image_policy.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

#include "core/regex.h"

namespace windlass::sources {

namespace {

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

Result<TagPolicy> TagPolicy::compile(const TagPolicySpec& spec, const std::string& where) {
  TagPolicy p;
  p.spec_ = spec;
  if (spec.kind == TagPolicySpec::Kind::kSemver) {
    auto r = parseRange(spec.range);
    if (!r) return r.error().withContext(where + ".policy.semver.range");
    p.range_ = std::move(*r);
  }
  if (!spec.pattern.empty()) {
    auto re = Regex::compile(spec.pattern);
    if (!re) return re.error().withContext(where + ".filterTags.pattern");
    p.pattern_ = std::make_shared<const Regex>(std::move(*re));
    for (const std::string& n : templateNames(spec.extract)) {
      bool known = allDigits(n) ? n.size() <= 6 && std::stoi(n) <= p.pattern_->groupCount()
                                : p.pattern_->groupIndex(n) >= 0;
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
  auto m = pattern_->find(tag);
  if (!m) return std::nullopt;
  if (spec_.extract.empty()) return tag;
  return pattern_->expand(spec_.extract, *m);
}

TagChoice TagPolicy::choose(const std::vector<std::string>& tags) const {
  TagChoice c;
  c.seen = tags.size();
  // value → tag, the byte-first tag for each value.
  std::vector<std::pair<std::string, const std::string*>> values;
  values.reserve(tags.size());
  for (const std::string& tag : tags) {
    if (!pattern_) {
      values.emplace_back(tag, &tag);
      continue;
    }
    auto m = pattern_->find(tag);
    if (!m) continue;
    values.emplace_back(spec_.extract.empty() ? tag : pattern_->expand(spec_.extract, *m), &tag);
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
