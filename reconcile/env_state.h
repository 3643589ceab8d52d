// What an environment carries between syncs besides its history: a hold (set by
// `windlass rollback` or rollbackOnFailure, lifted by `windlass release`) and a
// promotion on its way (written by `windlass promote`, consumed by the sync that
// applies it). One small JSON file each, under <stateDir>/holds/ and
// <stateDir>/promotions/, replaced atomically, so a CLI command and a running agent
// on the same state folder see the same thing.
//
// Thread safety: free functions; concurrent writers of one file: the last rename wins.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"
#include "reconcile/history.h"

namespace windlass::reconcile {

// A promotion pushed to an environment's branch and not yet synced there.
struct PendingPromotion {
  std::string from;          // the source environment
  std::string revision;      // the source's commit that was promoted
  std::string targetCommit;  // the target branch's head after the push
  std::string actor;
  std::string time;  // RFC 3339 UTC

  bool operator==(const PendingPromotion&) const = default;
};

// The hold of `env`, if any. Unavailable when the file exists but cannot be read;
// InvalidArgument (naming the file) when it does not parse.
Result<std::optional<HoldRecord>> readHold(const std::string& stateDir, const std::string& env);
Status writeHold(const std::string& stateDir, const std::string& env, const HoldRecord& hold);
// Ok when there was no hold.
Status clearHold(const std::string& stateDir, const std::string& env);

Result<std::optional<PendingPromotion>> readPromotion(const std::string& stateDir,
                                                      const std::string& env);
Status writePromotion(const std::string& stateDir, const std::string& env,
                      const PendingPromotion& promotion);
Status clearPromotion(const std::string& stateDir, const std::string& env);

}  // namespace windlass::reconcile
