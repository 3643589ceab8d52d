#include "reconcile/health_wait.h"

#include <map>
#include <optional>

#include "overlays/resource.h"
#include "reconcile/inventory.h"

namespace windlass::reconcile {

using overlays::metadataField;
using overlays::stringField;

namespace {

HealthStatus toHealthStatus(Health h) {
  switch (h) {
    case Health::kCurrent:
      return HealthStatus::kHealthy;
    case Health::kInProgress:
    case Health::kTerminating:
      return HealthStatus::kProgressing;
    case Health::kFailed:
      return HealthStatus::kDegraded;
    case Health::kUnknown:
      return HealthStatus::kUnknown;
  }
  return HealthStatus::kUnknown;
}

// Fills `found` from one labelled LIST per kind; kinds whose LIST fails are left for GETs.
void observeByList(KubeApi& kube, const std::vector<PlannedObject>& objects,
                   const std::string& applySetId, JsonAllocator& alloc,
                   std::vector<std::optional<HealthResult>>& found) {
  std::map<std::string, std::vector<size_t>> byKind;  // "apiVersion|kind" → plan indices
  for (size_t i = 0; i < objects.size(); ++i) {
    const JsonValue& o = objects[i].desired;
    byKind[std::string(stringField(o, "apiVersion")) + "|" + std::string(stringField(o, "kind"))]
        .push_back(i);
  }
  ListOptions lo;
  lo.labelSelector = std::string(kApplySetPartOfLabel) + "=" + applySetId;
  for (const auto& [key, indices] : byKind) {
    auto members = kube.list(gvkOf(objects[indices.front()].desired), "", alloc, lo);
    if (!members) continue;  // read one by one
    std::map<std::string, const JsonValue*> live;
    for (const JsonValue& m : *members) live.emplace(objectIdentity(m), &m);
    for (size_t i : indices) {
      auto it = live.find(objectIdentity(objects[i].desired));
      if (it != live.end()) found[i] = assessHealth(*it->second);
    }
  }
}

// Fills the rest of `found` with one batch of GETs.
void observeByGet(KubeApi& kube, const std::vector<PlannedObject>& objects, JsonAllocator& alloc,
                  std::vector<std::optional<HealthResult>>& found) {
  std::vector<Request> gets;
  std::vector<size_t> which;
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i]) continue;
    const JsonValue& o = objects[i].desired;
    auto path =
        kube.resourcePath(gvkOf(o), metadataField(o, "namespace"), metadataField(o, "name"));
    if (!path) {
      found[i] = HealthResult{Health::kUnknown, path.error().message()};
      continue;
    }
    Request get;
    get.path = *path;
    get.subject = objects[i].subject;
    get.verb = "get";
    gets.push_back(std::move(get));
    which.push_back(i);
  }
  std::vector<Result<Response>> got = kube.sendBatch(gets);
  for (size_t k = 0; k < got.size(); ++k) {
    size_t i = which[k];
    Status st = got[k] ? statusFromHttp(got[k]->httpStatus, got[k]->body, gets[k].subject, "get")
                       : got[k].error();
    auto obj =
        st.ok() ? parseJsonBody(got[k]->body, alloc, gets[k].subject) : Result<JsonValue>(st);
    found[i] = obj ? assessHealth(*obj) : HealthResult{Health::kUnknown, obj.error().message()};
  }
}

// "<prefix> <subject>: <message>; ..." over the results `pick` selects, without the last ';'.
template <typename Pick>
std::string listResults(std::string msg, const Plan& plan, const std::vector<HealthResult>& results,
                        Pick pick) {
  for (size_t i = 0; i < results.size(); ++i) {
    if (pick(results[i])) msg += " " + plan.objects[i].subject + ": " + results[i].message + ";";
  }
  msg.pop_back();
  return msg;
}

HealthRecord toRecord(const Plan& plan, const std::vector<HealthResult>& results, Health all) {
  HealthRecord record;
  for (size_t i = 0; i < plan.objects.size(); ++i) {
    const JsonValue& o = plan.objects[i].desired;
    const HealthResult& h = results[i];
    Gvk g = gvkOf(o);
    record.objects.push_back(
        ObjectHealth{g.group, g.version, g.kind, std::string(metadataField(o, "namespace")),
                     std::string(metadataField(o, "name")), toHealthStatus(h.health), h.message});
  }
  record.status = toHealthStatus(all);
  return record;
}

}  // namespace

std::vector<HealthResult> observeHealth(KubeApi& kube, const std::vector<PlannedObject>& objects,
                                        const std::string& applySetId) {
  JsonAllocator alloc;  // per poll: a long wait must not grow the sync's allocator
  std::vector<std::optional<HealthResult>> found(objects.size());
  observeByList(kube, objects, applySetId, alloc, found);
  observeByGet(kube, objects, alloc, found);
  std::vector<HealthResult> out;
  out.reserve(found.size());
  for (auto& h : found) out.push_back(std::move(*h));
  return out;
}

HealthWaitResult waitHealthy(KubeApi& kube, const Plan& plan, const SyncOptions& options) {
  HealthWaitResult out;
  auto deadline = options.clock->monotonic() + options.healthTimeout;
  while (true) {
    std::vector<HealthResult> results = observeHealth(kube, plan.objects, plan.applySetId);
    Health all = aggregate(results);
    out.health = toRecord(plan, results, all);
    if (all == Health::kCurrent) return out;
    if (all == Health::kFailed) {
      out.status = Status::failedPrecondition(
          listResults("Degraded:", plan, results,
                      [](const HealthResult& h) { return h.health == Health::kFailed; }));
      return out;
    }
    if (options.clock->monotonic() > deadline) {
      std::string prefix = "health check timed out after " +
                           std::to_string(options.healthTimeout.count() / 1000) + "s:";
      out.status =
          Status::deadlineExceeded(listResults(prefix, plan, results, [](const HealthResult& h) {
            return h.health != Health::kCurrent;
          }));
      return out;
    }
    if (!pauseOnePoll(options)) {
      out.status = Status::aborted("interrupted while waiting for health");
      return out;
    }
  }
}

}  // namespace windlass::reconcile
