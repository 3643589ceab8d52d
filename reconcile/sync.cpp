#include "reconcile/sync.h"

#include <algorithm>

#include "overlays/resource.h"

namespace windlass::reconcile {

using overlays::metadataField;
using overlays::stringField;

bool Plan::changes() const {
  if (createNamespace || !parentCurrent) return true;
  for (const PlannedObject& o : objects) {
    if (o.action != ObjectAction::kUnchanged) return true;
  }
  return std::any_of(stale.begin(), stale.end(),
                     [](const StaleObject& s) { return !s.pruneDisabled; });
}

Gvk gvkOf(const JsonValue& object) {
  return Gvk::fromApiVersion(stringField(object, "apiVersion"), stringField(object, "kind"));
}

std::string subjectOf(const JsonValue& object) {
  return objectSubject(gvkOf(object), metadataField(object, "namespace"),
                       metadataField(object, "name"));
}

ObjectRecord recordOf(const JsonValue& object, ObjectAction action, std::string error) {
  Gvk g = gvkOf(object);
  ObjectRecord r;
  r.group = g.group;
  r.version = g.version;
  r.kind = g.kind;
  r.ns = metadataField(object, "namespace");
  r.name = metadataField(object, "name");
  r.action = action;
  r.error = std::move(error);
  return r;
}

ObjectRecord recordOf(const PlannedObject& p, std::string error) {
  ObjectRecord r = recordOf(p.desired, p.action, std::move(error));
  if (p.diff.size() <= kMaxObjectDiffBytes) {
    r.diff = p.diff;
  } else {
    size_t cut = p.diff.rfind('\n', kMaxObjectDiffBytes - 1);
    cut = cut == std::string::npos ? 0 : cut + 1;
    r.diff = p.diff.substr(0, cut) + "... (" + std::to_string(p.diff.size() - cut) +
             " more bytes of diff not recorded)\n";
  }
  return r;
}

bool stopsDryRuns(const Status& status) {
  switch (status.code()) {
    case Code::kPermissionDenied:
    case Code::kUnauthenticated:
    case Code::kUnavailable:
    case Code::kConflict:
    case Code::kAborted:
    case Code::kDeadlineExceeded:
    case Code::kResourceExhausted:
    case Code::kInternal:
      return true;
    default:
      return false;
  }
}

Status dryRunFailures(const std::vector<std::string>& failures, std::string_view applied) {
  if (failures.empty()) return {};
  std::string msg = "dry run failed for " + std::to_string(failures.size()) +
                    " object(s); nothing was applied" + std::string(applied) + ":";
  for (const std::string& f : failures) msg += "\n  " + f;
  return Status::invalidArgument(msg);
}

Status interrupted(const SyncOptions& options) {
  if (options.cancel == nullptr || !options.cancel->cancelled()) return {};
  return Status::aborted("interrupted: the agent is stopping");
}

bool pauseOnePoll(const SyncOptions& options) {
  return options.clock->sleep(options.pollInterval, options.cancel);
}

bool isImmutableChange(const Status& status) {
  if (status.code() != Code::kInvalidArgument) return false;
  const std::string& m = status.message();
  return m.find("field is immutable") != std::string::npos ||
         m.find("may not change once set") != std::string::npos;
}

bool forceAnnotated(const JsonValue& object) {
  const JsonValue* md = overlays::findMember(object, "metadata");
  const JsonValue* ann = md != nullptr ? overlays::findMember(*md, "annotations") : nullptr;
  return ann != nullptr && overlays::stringField(*ann, "windlass.dev/force") == "enabled";
}

}  // namespace windlass::reconcile
