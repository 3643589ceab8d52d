#include "reconcile/prune.h"

#include <algorithm>

#include "overlays/resource.h"
#include "reconcile/inventory.h"
#include "reconcile/plan.h"

namespace windlass::reconcile {

using overlays::metadataField;

Status checkPruneGuard(const Plan& plan, const SyncOptions& options) {
  if (!options.prune) return {};
  size_t stale = std::count_if(plan.stale.begin(), plan.stale.end(),
                               [](const StaleObject& s) { return !s.pruneDisabled; });
  return checkMassPrune(stale, plan.inventorySize, plan.objects.size(), options.maxPruneShare,
                        options.allowMassPrune);
}

PruneResult prune(KubeApi& kube, const std::vector<StaleObject>& stale) {
  PruneResult out;
  std::vector<const JsonValue*> objs;
  for (const StaleObject& s : stale) objs.push_back(&s.live);
  std::vector<std::vector<size_t>> stages = applyStages(objs);
  for (auto st = stages.rbegin(); st != stages.rend(); ++st) {
    for (auto it = st->rbegin(); it != st->rend(); ++it) {
      const StaleObject& s = stale[*it];
      if (s.pruneDisabled) {
        out.objects.push_back(recordOf(s.live, ObjectAction::kPruneSkipped));
        continue;
      }
      Status r = kube.remove(gvkOf(s.live), metadataField(s.live, "namespace"),
                             metadataField(s.live, "name"));
      if (r.code() == Code::kNotFound) r = Status();
      out.objects.push_back(recordOf(s.live, ObjectAction::kDelete, r.ok() ? "" : r.message()));
      if (!r.ok() && out.status.ok()) out.status = r;
    }
  }
  return out;
}

}  // namespace windlass::reconcile
