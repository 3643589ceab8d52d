#include "reconcile/vocabulary.h"

#include <utility>

#include "overlays/resource.h"
#include "reconcile/kube_client.h"

namespace windlass::reconcile {

namespace {

template <class E, size_t N>
std::optional<E> lookup(const std::pair<E, const char*> (&table)[N], std::string_view name) {
  for (const auto& [value, text] : table) {
    if (name == text) return value;
  }
  return std::nullopt;
}

template <class E, size_t N>
const char* nameOf(const std::pair<E, const char*> (&table)[N], E value) {
  for (const auto& [v, text] : table) {
    if (v == value) return text;
  }
  return "?";
}

constexpr std::pair<Trigger, const char*> kTriggers[] = {
    {Trigger::kPoll, "poll"},           {Trigger::kWebhook, "webhook"},
    {Trigger::kDrift, "drift"},         {Trigger::kImage, "image"},
    {Trigger::kManual, "manual"},       {Trigger::kRollback, "rollback"},
    {Trigger::kPromotion, "promotion"}, {Trigger::kRelease, "release"},
    {Trigger::kFollow, "follow"},
};
constexpr std::pair<Reason, const char*> kReasons[] = {
    {Reason::kSourceFailed, "SourceFailed"}, {Reason::kRenderFailed, "RenderFailed"},
    {Reason::kApplyFailed, "ApplyFailed"},   {Reason::kPruneFailed, "PruneFailed"},
    {Reason::kHealthFailed, "HealthFailed"}, {Reason::kSucceeded, "Succeeded"},
};
constexpr std::pair<ObjectAction, const char*> kActions[] = {
    {ObjectAction::kCreate, "create"},
    {ObjectAction::kUpdate, "update"},
    {ObjectAction::kUnchanged, "unchanged"},
    {ObjectAction::kDelete, "delete"},
    {ObjectAction::kPruneSkipped, "prune-skipped"},
    {ObjectAction::kReplace, "replace"},
};
constexpr std::pair<HealthStatus, const char*> kHealths[] = {
    {HealthStatus::kHealthy, "Healthy"},
    {HealthStatus::kProgressing, "Progressing"},
    {HealthStatus::kDegraded, "Degraded"},
    {HealthStatus::kUnknown, "Unknown"},
};
constexpr std::pair<SignatureStatus, const char*> kSignatures[] = {
    {SignatureStatus::kUnknown, "Unknown"},
    {SignatureStatus::kUnsigned, "Unsigned"},
    {SignatureStatus::kValid, "Valid"},
    {SignatureStatus::kInvalid, "Invalid"},
};

}  // namespace

const char* triggerName(Trigger trigger) { return nameOf(kTriggers, trigger); }
const char* reasonName(Reason reason) { return nameOf(kReasons, reason); }
const char* actionName(ObjectAction action) { return nameOf(kActions, action); }
const char* healthName(HealthStatus status) { return nameOf(kHealths, status); }
const char* signatureName(SignatureStatus status) { return nameOf(kSignatures, status); }

std::optional<Trigger> parseTrigger(std::string_view name) { return lookup(kTriggers, name); }
std::optional<Reason> parseReason(std::string_view name) { return lookup(kReasons, name); }
std::optional<ObjectAction> parseAction(std::string_view name) { return lookup(kActions, name); }
std::optional<HealthStatus> parseHealth(std::string_view name) { return lookup(kHealths, name); }
std::optional<SignatureStatus> parseSignature(std::string_view name) {
  return lookup(kSignatures, name);
}

std::string objectIdentity(const JsonValue& obj) {
  using overlays::metadataField;
  using overlays::stringField;
  Gvk g = Gvk::fromApiVersion(stringField(obj, "apiVersion"), stringField(obj, "kind"));
  return g.group + "|" + g.kind + "|" + std::string(metadataField(obj, "namespace")) + "|" +
         std::string(metadataField(obj, "name"));
}

std::string identitySubject(std::string_view id) {
  size_t a = id.find('|'), b = id.find('|', a + 1), c = id.find('|', b + 1);
  if (c == std::string_view::npos) return std::string(id);
  Gvk g{std::string(id.substr(0, a)), "", std::string(id.substr(a + 1, b - a - 1))};
  return objectSubject(g, id.substr(b + 1, c - b - 1), id.substr(c + 1));
}

}  // namespace windlass::reconcile
