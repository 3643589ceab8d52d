#include "reconcile/apply.h"

#include <chrono>
#include <set>

#include "overlays/resource.h"
#include "reconcile/health.h"
#include "reconcile/health_wait.h"
#include "reconcile/inventory.h"
#include "reconcile/plan.h"
#include "reconcile/prune.h"

namespace windlass::reconcile {

using overlays::makeString;
using overlays::metadataField;
using overlays::stringField;

namespace {

// The apply stages of one plan. Every object it handles gets a record in `records`.
class Applier {
 public:
  Applier(KubeApi& kube, Plan& plan, const SyncOptions& options, JsonAllocator& alloc,
          std::vector<ObjectRecord>& records)
      : kube_(kube), plan_(plan), options_(options), alloc_(alloc), records_(records) {}

  // Records every object as unchanged (a plan without changes).
  void recordAllUnchanged() {
    for (const PlannedObject& p : plan_.objects) {
      records_.push_back(recordOf(p.desired, ObjectAction::kUnchanged));
      done_.insert(&p);
    }
  }

  // Records the changed objects not reached with their planned action and a note.
  void recordNotReached() {
    for (const PlannedObject& p : plan_.objects) {
      if (done_.count(&p) == 0 && p.action != ObjectAction::kUnchanged) {
        records_.push_back(recordOf(p.desired, p.action, "not applied: the sync stopped earlier"));
      }
    }
  }

  Status createNamespace() {
    JsonValue ns(rapidjson::kObjectType);
    ns.AddMember("apiVersion", "v1", alloc_);
    ns.AddMember("kind", "Namespace", alloc_);
    JsonValue& md = overlays::ensureObject(ns, "metadata", alloc_);
    overlays::setMember(md, "name", makeString(plan_.targetNamespace, alloc_), alloc_);
    auto created = kube_.apply(ns, alloc_);
    return created ? Status() : created.error();
  }

  Status writeParent(const std::vector<const JsonValue*>& members) {
    JsonValue parent = makeParent(plan_.inventoryName, plan_.targetNamespace, members, alloc_);
    auto r = kube_.apply(parent, alloc_);
    return r ? Status() : r.error().withContext("inventory " + plan_.inventoryName);
  }

  // Objects deferred because the target namespace did not exist are dry-run once it
  // does, all before any of them is written, so an invalid one still stops the
  // sync with nothing applied but the namespace (and the inventory parent). Objects
  // in namespaces the render itself holds, and of kinds whose CRD this sync creates,
  // cannot be checked before their stage.
  Status dryRunDeferred() {
    std::vector<Request> reqs;
    std::vector<const PlannedObject*> which;
    for (const PlannedObject& p : plan_.objects) {
      if (!p.deferred || !plan_.createNamespace ||
          metadataField(p.desired, "namespace") != plan_.targetNamespace ||
          !kube_.resolve(gvkOf(p.desired))) {
        continue;  // a rendered Namespace is applied in its stage; a new kind after its CRD
      }
      ApplyOptions dry;
      dry.dryRun = true;
      auto req = kube_.applyRequest(p.desired, dry);
      if (!req) return req.error();
      reqs.push_back(std::move(*req));
      which.push_back(&p);
    }
    std::vector<Result<Response>> got = kube_.sendBatch(reqs);
    std::vector<std::string> failures;
    for (size_t k = 0; k < got.size(); ++k) {
      if (!got[k]) return got[k].error();
      Status st = statusFromHttp(got[k]->httpStatus, got[k]->body, which[k]->subject, "patch");
      if (stopsDryRuns(st)) return st;
      if (!st.ok()) failures.push_back(st.message());
    }
    return dryRunFailures(failures, " but the namespace");
  }

  // Applies the changed objects stage by stage, checking for cancellation before each.
  Status applyStages() {
    std::vector<const JsonValue*> objs;
    for (const PlannedObject& p : plan_.objects) objs.push_back(&p.desired);
    for (const std::vector<size_t>& stage : reconcile::applyStages(objs)) {
      WINDLASS_RETURN_IF_ERROR(interrupted(options_));
      WINDLASS_RETURN_IF_ERROR(applyStage(stage));
      for (size_t i : stage) {
        const JsonValue& o = plan_.objects[i].desired;
        if (stringField(o, "kind") == "CustomResourceDefinition") {
          WINDLASS_RETURN_IF_ERROR(waitEstablished(o));
        }
      }
    }
    return {};
  }

 private:
  // One stage as one batch; the first failure, after every object of the stage was tried.
  Status applyStage(const std::vector<size_t>& stage) {
    std::vector<Request> reqs;
    std::vector<PlannedObject*> which;
    for (size_t i : stage) {
      PlannedObject& p = plan_.objects[i];
      if (p.action == ObjectAction::kUnchanged) {
        records_.push_back(recordOf(p.desired, ObjectAction::kUnchanged));
        done_.insert(&p);
        continue;
      }
      if (p.action == ObjectAction::kReplace) {
        if (Status st = removeForReplace(p); !st.ok()) {
          records_.push_back(recordOf(p, st.message()));
          done_.insert(&p);
          return st;
        }
      }
      auto req = kube_.applyRequest(p.desired);
      if (!req) {
        // A deferred kind resolves once its CRD exists: refresh and retry once.
        (void)kube_.refreshDiscovery();
        req = kube_.applyRequest(p.desired);
      }
      if (!req) return req.error();
      reqs.push_back(std::move(*req));
      which.push_back(&p);
    }
    std::vector<Result<Response>> got = kube_.sendBatch(reqs);
    Status first;
    for (size_t k = 0; k < got.size(); ++k) {
      PlannedObject& p = *which[k];
      Status st = got[k] ? statusFromHttp(got[k]->httpStatus, got[k]->body, p.subject, "patch")
                         : got[k].error();
      records_.push_back(recordOf(p, st.ok() ? "" : st.message()));
      done_.insert(&p);
      if (!st.ok() && first.ok()) first = st;
    }
    return first;
  }

  // Deletes the live object of a replacement (foreground: its dependents go first)
  // and waits until it is gone, at most 60 s.
  Status removeForReplace(const PlannedObject& p) {
    Gvk gvk = gvkOf(p.desired);
    std::string ns(metadataField(p.desired, "namespace")), name(metadataField(p.desired, "name"));
    RemoveOptions ro;
    ro.propagationPolicy = "Foreground";
    Status st = kube_.remove(gvk, ns, name, ro);
    if (!st.ok() && st.code() != Code::kNotFound) return st.withContext("replacing");
    auto deadline = options_.clock->monotonic() + std::chrono::seconds(60);
    while (true) {
      JsonAllocator alloc;
      auto live = kube_.get(gvk, ns, name, alloc);
      if (!live && live.error().code() == Code::kNotFound) return {};
      if (options_.clock->monotonic() > deadline) {
        return Status::deadlineExceeded(p.subject + ": replacing: still not deleted after 60s");
      }
      if (!pauseOnePoll(options_)) return interrupted(options_);
    }
  }

  Status waitEstablished(const JsonValue& crd) {
    std::string name(metadataField(crd, "name"));
    auto deadline = options_.clock->monotonic() + std::chrono::seconds(60);
    while (true) {
      auto live = kube_.get(gvkOf(crd), "", name, alloc_);
      if (live && assessHealth(*live).health == Health::kCurrent) break;
      if (options_.clock->monotonic() > deadline) {
        return Status::deadlineExceeded("CustomResourceDefinition " + name +
                                        " was not Established within 60s");
      }
      if (!pauseOnePoll(options_)) return interrupted(options_);
    }
    return kube_.refreshDiscovery();
  }

  KubeApi& kube_;
  Plan& plan_;
  const SyncOptions& options_;
  JsonAllocator& alloc_;
  std::vector<ObjectRecord>& records_;
  std::set<const PlannedObject*> done_;
};

// The members the parent lists: first every planned and stale object (so an interrupted
// sync can still prune), after the prune only what is kept.
std::vector<const JsonValue*> parentMembers(const Plan& plan, const SyncOptions& options,
                                            bool afterPrune) {
  std::vector<const JsonValue*> members;
  for (const PlannedObject& p : plan.objects) members.push_back(&p.desired);
  for (const StaleObject& s : plan.stale) {
    if (!afterPrune || s.pruneDisabled || !options.prune) members.push_back(&s.live);
  }
  return members;
}

}  // namespace

SyncOutcome executePlan(KubeApi& kube, Plan& plan, const SyncOptions& options,
                        JsonAllocator& alloc) {
  SyncOutcome out;
  Applier applier(kube, plan, options, alloc, out.objects);
  auto fail = [&](Reason reason, Status status) {
    applier.recordNotReached();
    out.reason = reason;
    out.status = std::move(status);
    return std::move(out);
  };
  auto started = options.clock->monotonic();
  auto stageDone = [&](const char* stage) {
    auto now = options.clock->monotonic();
    out.stageMs.emplace_back(
        stage, std::chrono::duration_cast<std::chrono::milliseconds>(now - started).count());
    started = now;
  };
  auto waitForHealth = [&]() {
    started = options.clock->monotonic();
    HealthWaitResult health = waitHealthy(kube, plan, options);
    out.health = std::move(health.health);
    stageDone("health");
    return health.status;
  };
  if (!plan.changes()) {
    // Steady state: nothing to write; only the health is read.
    applier.recordAllUnchanged();
    if (options.healthTimeout.count() > 0) {
      if (Status st = waitForHealth(); !st.ok()) return fail(Reason::kHealthFailed, st);
    }
    out.reason = Reason::kSucceeded;
    return out;
  }
  if (Status st = checkPruneGuard(plan, options); !st.ok()) return fail(Reason::kPruneFailed, st);
  if (plan.createNamespace) {
    if (Status st = applier.createNamespace(); !st.ok()) return fail(Reason::kApplyFailed, st);
  }
  if (!plan.parentCurrent) {
    Status st = applier.writeParent(parentMembers(plan, options, false));
    if (!st.ok()) return fail(Reason::kApplyFailed, st);
  }
  if (Status st = applier.dryRunDeferred(); !st.ok()) return fail(Reason::kApplyFailed, st);
  if (Status st = applier.applyStages(); !st.ok()) return fail(Reason::kApplyFailed, st);
  stageDone("apply");
  if (options.prune) {
    if (Status st = interrupted(options); !st.ok()) return fail(Reason::kPruneFailed, st);
    PruneResult pruned = prune(kube, plan.stale);
    out.objects.insert(out.objects.end(), pruned.objects.begin(), pruned.objects.end());
    if (!pruned.status.ok()) return fail(Reason::kPruneFailed, pruned.status);
    stageDone("prune");
  }
  if (!plan.parentCurrent) {
    Status st = applier.writeParent(parentMembers(plan, options, true));
    if (!st.ok()) return fail(Reason::kApplyFailed, st);
  }
  if (options.healthTimeout.count() > 0) {
    if (Status st = waitForHealth(); !st.ok()) return fail(Reason::kHealthFailed, st);
  }
  out.reason = Reason::kSucceeded;
  return out;
}

}  // namespace windlass::reconcile
