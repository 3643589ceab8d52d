#include "reconcile/drift.h"

#include <string_view>

#include "overlays/resource.h"

namespace windlass::reconcile {

using overlays::findMember;
using overlays::stringField;

namespace {

bool subset(const JsonValue& want, const JsonValue& have) {
  if (want.IsObject()) {
    if (!have.IsObject()) return false;
    for (const auto& m : want.GetObject()) {
      const JsonValue* h =
          findMember(have, std::string_view(m.name.GetString(), m.name.GetStringLength()));
      if (h == nullptr) {
        if (m.value.IsNull()) continue;  // null asks for absence
        return false;
      }
      if (!subset(m.value, *h)) return false;
    }
    return true;
  }
  if (want.IsArray()) {
    if (!have.IsArray() || want.Size() != have.Size()) return false;
    for (rapidjson::SizeType i = 0; i < want.Size(); ++i) {
      if (!subset(want[i], have[i])) return false;
    }
    return true;
  }
  if (want.IsNumber() && have.IsNumber()) return want.GetDouble() == have.GetDouble();
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
        if (hv == nullptr || !subset(md.value, *hv)) return false;
      }
      continue;
    }
    if (h == nullptr ? !m.value.IsNull() : !subset(m.value, *h)) return false;
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
