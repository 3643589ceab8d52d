#include "reconcile/drift.h"

#include <cmath>
#include <optional>
#include <string_view>

#include "overlays/resource.h"

namespace windlass::reconcile {

using overlays::findMember;
using overlays::stringField;

std::optional<long double> parseQuantity(std::string_view text) {
  // <sign><digits>[.<digits>]<suffix>, suffix: Ki Mi Gi Ti Pi Ei | n u m "" k M G T P E |
  // e<int> / E<int>.
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  long double value = 0;
  bool digits = false;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    value = value * 10 + (text[i++] - '0');
    digits = true;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    long double scale = 0.1L;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      value += (text[i++] - '0') * scale;
      scale /= 10;
      digits = true;
    }
  }
  if (!digits) return std::nullopt;
  std::string_view suffix = text.substr(i);
  static const std::pair<std::string_view, long double> kSuffixes[] = {
      {"", 1},
      {"n", 1e-9L},
      {"u", 1e-6L},
      {"m", 1e-3L},
      {"k", 1e3L},
      {"M", 1e6L},
      {"G", 1e9L},
      {"T", 1e12L},
      {"P", 1e15L},
      {"E", 1e18L},
      {"Ki", 1024.0L},
      {"Mi", 1048576.0L},
      {"Gi", 1073741824.0L},
      {"Ti", 1099511627776.0L},
      {"Pi", 1125899906842624.0L},
      {"Ei", 1152921504606846976.0L}};
  long double factor = -1;
  for (const auto& [name, f] : kSuffixes) {
    if (suffix == name) factor = f;
  }
  if (factor < 0 && suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    int exp = 0;
    size_t j = 1;
    bool neg = false;
    if (suffix[j] == '+' || suffix[j] == '-') neg = suffix[j++] == '-';
    if (j == suffix.size()) return std::nullopt;
    for (; j < suffix.size(); ++j) {
      if (suffix[j] < '0' || suffix[j] > '9' || exp > 1000) return std::nullopt;
      exp = exp * 10 + (suffix[j] - '0');
    }
    factor = std::pow(10.0L, neg ? -exp : exp);
  }
  if (factor < 0) return std::nullopt;
  value *= factor;
  // Canonical values are exact to the nano unit; compare at that resolution.
  value = std::round(value * 1e9L) / 1e9L;
  return negative ? -value : value;
}

namespace {

// Maps whose string values are Kubernetes quantities, which the server writes back in
// canonical form ("1000m" → "1", "1024Mi" → "1Gi").
bool holdsQuantities(std::string_view key) {
  for (std::string_view k : {"limits", "requests", "hard", "capacity", "allocatable", "default",
                             "defaultRequest", "max", "min", "overhead", "storage"}) {
    if (key == k) return true;
  }
  return false;
}

bool subset(const JsonValue& want, const JsonValue& have, bool quantities);

// `quantities`: this map's values are quantities (it sits under one of the keys above).
bool subsetObject(const JsonValue& want, const JsonValue& have, bool quantities) {
  if (!have.IsObject()) return false;
  for (const auto& m : want.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    const JsonValue* h = findMember(have, key);
    if (h == nullptr) {
      if (m.value.IsNull()) continue;  // null asks for absence
      return false;
    }
    if (!subset(m.value, *h, quantities || holdsQuantities(key))) return false;
  }
  return true;
}

bool subset(const JsonValue& want, const JsonValue& have, bool quantities) {
  if (want.IsObject()) return subsetObject(want, have, quantities);
  if (want.IsArray()) {
    if (!have.IsArray() || want.Size() != have.Size()) return false;
    for (rapidjson::SizeType i = 0; i < want.Size(); ++i) {
      if (!subset(want[i], have[i], false)) return false;
    }
    return true;
  }
  if (want.IsNumber() && have.IsNumber()) return want.GetDouble() == have.GetDouble();
  if (quantities && want != have) {
    auto text = [](const JsonValue& v) {
      return v.IsString()   ? std::string(v.GetString(), v.GetStringLength())
             : v.IsNumber() ? std::to_string(v.GetDouble())
                            : std::string();
    };
    auto a = parseQuantity(text(want)), b = parseQuantity(text(have));
    return a && b && *a == *b;
  }
  return want == have;
}

}  // namespace

bool conforms(const JsonValue& desired, const JsonValue& live) {
  if (!desired.IsObject() || !live.IsObject()) return false;
  bool secret = stringField(desired, "kind") == "Secret";
  for (const auto& m : desired.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (key == "status" || (secret && key == "stringData")) continue;
    const JsonValue* h = findMember(live, key);
    if (key == "metadata") {
      if (h == nullptr || !h->IsObject() || !m.value.IsObject()) return false;
      for (const auto& md : m.value.GetObject()) {
        std::string_view k(md.name.GetString(), md.name.GetStringLength());
        if (k == "resourceVersion" || k == "generation" || k == "uid" || k == "managedFields" ||
            k == "creationTimestamp") {
          continue;
        }
        const JsonValue* hv = findMember(*h, k);
        if (hv == nullptr || !subset(md.value, *hv, false)) return false;
      }
      continue;
    }
    if (h == nullptr ? !m.value.IsNull() : !subset(m.value, *h, false)) return false;
  }
  return true;
}

std::string lastOtherManager(const JsonValue& live, const std::string& self) {
  const JsonValue* md = findMember(live, "metadata");
  const JsonValue* fields = md != nullptr ? findMember(*md, "managedFields") : nullptr;
  if (fields == nullptr || !fields->IsArray()) return {};
  std::string best, bestTime;
  for (const JsonValue& f : fields->GetArray()) {
    std::string manager(stringField(f, "manager"));
    std::string time(stringField(f, "time"));
    if (manager.empty() || manager == self) continue;
    if (best.empty() || time > bestTime) {  // RFC 3339 UTC sorts as text
      best = manager;
      bestTime = time;
    }
  }
  return best;
}

}  // namespace windlass::reconcile
