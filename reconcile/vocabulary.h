// The words every stage of the reconcile shares, spelled once: why a sync ran
// (trigger), how it ended (one reason per stage), what it did to an object
// (action), health, a commit's signature, and an object's identity. Logs,
// metrics, the API and the history all use these names.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/json.h"

namespace windlass::reconcile {

// Why a sync ran.
enum class Trigger {
  kPoll,
  kWebhook,
  kDrift,
  kImage,
  kManual,
  kRollback,   // `windlass rollback`, or rollbackOnFailure
  kPromotion,  // the first sync of a revision `windlass promote` (or promotion.auto) moved here
  kRelease,    // `windlass release` lifted a hold
  kFollow,     // the followed environment reached a new Healthy revision
};

// The outcome of a sync: one reason per stage, the vocabulary shared by logs,
// metrics, the API and the history.
enum class Reason {
  kSourceFailed,
  kRenderFailed,
  kApplyFailed,
  kPruneFailed,
  kHealthFailed,
  kSucceeded,
};

// What the sync did to one object.
// kReplace: deleted and created again, because the server refused the change as
// immutable and force was asked for.
enum class ObjectAction { kCreate, kUpdate, kUnchanged, kDelete, kPruneSkipped, kReplace };

// Health of one object or of the whole sync (kstatus-style).
enum class HealthStatus { kHealthy, kProgressing, kDegraded, kUnknown };

// What is known of the commit's signature.
enum class SignatureStatus {
  kUnknown,   // not checked (no verification configured, or the sync failed before)
  kUnsigned,  // the commit carries no signature
  kValid,     // signed by a trusted key
  kInvalid,   // signed, but the signature or the key is not trusted
};

// The names written to the history, e.g. "webhook", "ApplyFailed", "prune-skipped",
// "Degraded", "Valid". Never null.
const char* triggerName(Trigger trigger);
const char* reasonName(Reason reason);
const char* actionName(ObjectAction action);
const char* healthName(HealthStatus status);
const char* signatureName(SignatureStatus status);

// The inverses; std::nullopt for a name not in the vocabulary (case-sensitive).
std::optional<Trigger> parseTrigger(std::string_view name);
std::optional<Reason> parseReason(std::string_view name);
std::optional<ObjectAction> parseAction(std::string_view name);
std::optional<HealthStatus> parseHealth(std::string_view name);
std::optional<SignatureStatus> parseSignature(std::string_view name);

// "group|kind|namespace|name": an object's identity across API versions
// ("" for the core group and for cluster-scoped objects' namespace).
std::string objectIdentity(const JsonValue& object);

// "apps/Deployment ns/web" for an identity made by objectIdentity().
std::string identitySubject(std::string_view identity);

}  // namespace windlass::reconcile
