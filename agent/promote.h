// Promotion: bringing the revision one environment runs Healthy to another, through
// Git, behind gates. Used by `windlass promote` and by the agent for `promotion.auto`.
//
// Two layouts, chosen from the config:
// - branch per environment (the two track different branches): the target branch moves
//   to the source's commit, by fast-forward when it can, else by a merge commit;
// - path per environment (both track one branch, one overlay each): the `images:` of
//   the source overlay's kustomization (tags and digests) are copied into the target
//   overlay's, as one commit that changes only those values.
// Either way the push is a normal (never forced) push with the repository's
// credentials, and the target's next sync of the pushed commit is recorded with
// trigger `promotion`, the actor and the source (reconcile/env_state.h).
#pragma once

#include <string>

#include "agent/config.h"
#include "core/cancel.h"
#include "core/status.h"
#include "reconcile/reconciler.h"

namespace windlass::agent {

struct PromoteRequest {
  std::string from;      // source environment
  std::string to;        // target environment
  std::string revision;  // the source's commit to promote (a prefix is fine); "" = its last
  std::string actor;     // recorded; required
};

struct PromoteOutcome {
  std::string sourceRevision;  // full commit id promoted
  std::string targetCommit;    // the target branch's head after the push
  std::string how;             // "fast-forward", "merge commit", "images copied", "already there"
};

// Checks the gates, then promotes. Gates: the source's last sync of exactly that
// revision succeeded and is Healthy, and it has been Healthy on it for at least the
// target's promotion.soak. A failed gate is FailedPrecondition naming it ("gate: the
// last sync of staging at abc1234 (#12) ended HealthFailed"), and nothing is pushed.
// Other errors: those of the fetch, the render of the kustomization files and the push
// (Conflict when the branch moved meanwhile: nothing was pushed, try again).
Result<PromoteOutcome> promote(const AgentConfig& config, reconcile::Reconciler& reconciler,
                               const PromoteRequest& request, const CancelToken* cancel);

// Path-per-environment promotion on the text of a kustomization: sets each image of
// `sourceImages` (a JSON list of Kustomize image entries) in `target` (the target
// kustomization's bytes), changing only newTag/digest/newName values, adding fields
// and entries that are missing; every other byte is kept. InvalidArgument naming
// `targetName` when the target's `images:` is not a block list it can edit.
Result<std::string> copyImages(const JsonValue& sourceImages, const std::string& target,
                               const std::string& targetName);

}  // namespace windlass::agent
