// The health wait: observes the planned objects in the cluster and waits, with a
// deadline and cancellation, until they are all healthy, one is degraded, or time runs
// out. The judgement of one object is health.h's pure assessHealth().
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "reconcile/health.h"
#include "reconcile/history.h"
#include "reconcile/kube_api.h"
#include "reconcile/sync.h"

namespace windlass::reconcile {

// The health of each of `objects` (by their `desired`), in their order, read with one
// labelled LIST per kind (label applyset.kubernetes.io/part-of=<applySetId>, which every
// member carries once applied) and concurrent GETs (one batch) for the objects those
// lists did not return. An object that cannot be read is Unknown with the error as its
// message. Never fails as a whole; allocates only from a temporary allocator.
std::vector<HealthResult> observeHealth(KubeApi& kube, const std::vector<PlannedObject>& objects,
                                        const std::string& applySetId);

struct HealthWaitResult {
  HealthRecord health;  // the last observation: aggregate status and one entry per object
  // Ok when all are Current. FailedPrecondition "Degraded: <subject>: <message>; ..." when
  // one is Failed; DeadlineExceeded "health check timed out after <N>s: <subject>:
  // <message>; ..." (the objects not Current) after options.healthTimeout; Aborted
  // "interrupted while waiting for health" when options.cancel is tripped.
  Status status;
};

// Observes the objects of `plan` every options.pollInterval until one of the outcomes
// above. Observes at least once, even with a zero timeout or a tripped token.
HealthWaitResult waitHealthy(KubeApi& kube, const Plan& plan, const SyncOptions& options);

}  // namespace windlass::reconcile
