#include "reconcile/sync.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "overlays/resource.h"
#include "overlays/yaml.h"
#include "reconcile/health.h"
#include "reconcile/inventory.h"
#include "reconcile/plan.h"

namespace windlass::reconcile {

using overlays::findMember;
using overlays::makeString;
using overlays::metadataField;
using overlays::stringField;

namespace {

Gvk gvkOf(const JsonValue& obj) {
  return Gvk::fromApiVersion(stringField(obj, "apiVersion"), stringField(obj, "kind"));
}

std::string subjectOf(const JsonValue& obj) {
  return objectSubject(gvkOf(obj), metadataField(obj, "namespace"), metadataField(obj, "name"));
}

ObjectRecord recordOf(const JsonValue& obj, ObjectAction action, std::string error = {}) {
  Gvk g = gvkOf(obj);
  ObjectRecord r;
  r.group = g.group;
  r.version = g.version;
  r.kind = g.kind;
  r.ns = metadataField(obj, "namespace");
  r.name = metadataField(obj, "name");
  r.action = action;
  r.error = std::move(error);
  return r;
}

// A CustomResourceDefinition in the render that defines `gvk`, or nullptr.
const JsonValue* crdFor(const std::vector<JsonValue>& rendered, const Gvk& gvk) {
  for (const JsonValue& o : rendered) {
    if (stringField(o, "kind") != "CustomResourceDefinition") continue;
    const JsonValue* spec = findMember(o, "spec");
    const JsonValue* names = spec ? findMember(*spec, "names") : nullptr;
    if (spec && names && stringField(*spec, "group") == gvk.group &&
        stringField(*names, "kind") == gvk.kind) {
      return &o;
    }
  }
  return nullptr;
}

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

// A dry-run failure that no object can fix (credentials, permissions, the server
// gone or busy, a conflict or timeout worth retrying): it stops the sync with its
// own code, instead of joining the per-object list, which is InvalidArgument and
// would stall the environment until the next commit.
bool stopsDryRuns(const Status& st) {
  switch (st.code()) {
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

// The error for objects whose dry run failed, one line each; ok when there are none.
Status dryRunFailures(const std::vector<std::string>& failures, std::string_view applied) {
  if (failures.empty()) return {};
  std::string msg = "dry run failed for " + std::to_string(failures.size()) +
                    " object(s); nothing was applied" + std::string(applied) + ":";
  for (const std::string& f : failures) msg += "\n  " + f;
  return Status::invalidArgument(msg);
}

}  // namespace

bool Plan::changes() const {
  if (createNamespace || !parentCurrent) return true;
  for (const PlannedObject& o : objects) {
    if (o.action != ObjectAction::kUnchanged) return true;
  }
  return std::any_of(stale.begin(), stale.end(),
                     [](const StaleObject& s) { return !s.pruneDisabled; });
}

Result<Plan> makePlan(KubeApi& kube, std::vector<JsonValue> rendered, const SyncOptions& options,
                      JsonAllocator& alloc) {
  Plan plan;
  plan.targetNamespace = options.targetNamespace;
  if (plan.targetNamespace.empty()) plan.targetNamespace = kube.defaultNamespace();
  if (plan.targetNamespace.empty()) plan.targetNamespace = "default";
  plan.inventoryName = "windlass-" + options.environment;
  plan.applySetId = applySetId(plan.inventoryName, plan.targetNamespace, "Secret", "");

  auto ns = kube.get(Gvk{"", "v1", "Namespace"}, "", plan.targetNamespace, alloc);
  // An identity confined to its namespace may not read the Namespace object: take
  // the namespace as existing, as kubectl apply would, and let the server judge.
  if (!ns && ns.error().code() != Code::kNotFound &&
      ns.error().code() != Code::kPermissionDenied) {
    return ns.error();
  }
  plan.createNamespace = !ns && ns.error().code() == Code::kNotFound;
  std::set<std::string> newNamespaces;
  if (plan.createNamespace) newNamespaces.insert(plan.targetNamespace);
  for (const JsonValue& o : rendered) {
    if (stringField(o, "kind") == "Namespace")
      newNamespaces.insert(std::string(metadataField(o, "name")));
  }

  // Namespaces, labels and the requests that read and dry-run each object.
  std::vector<Request> gets, dryRuns;
  // Deferred: applied after their CRD or namespace, with no read or dry run now (a
  // kind the server does not know yet, or the target namespace this sync creates).
  std::vector<bool> deferred(rendered.size(), false);
  for (size_t i = 0; i < rendered.size(); ++i) {
    JsonValue& o = rendered[i];
    Gvk gvk = gvkOf(o);
    bool namespaced = true;
    auto info = kube.resolve(gvk);
    if (info) {
      namespaced = info->namespaced;
    } else if (const JsonValue* crd = crdFor(rendered, gvk);
               crd != nullptr && info.error().code() == Code::kNotFound) {
      deferred[i] = true;
      namespaced = stringField(*findMember(*crd, "spec"), "scope") != "Cluster";
    } else {
      return info.error();
    }
    JsonValue& md = overlays::ensureObject(o, "metadata", alloc);
    if (namespaced && metadataField(o, "namespace").empty()) {
      overlays::setMember(md, "namespace", makeString(plan.targetNamespace, alloc), alloc);
    }
    if (!namespaced) md.RemoveMember("namespace");
    labelMember(o, plan.applySetId, alloc);
    std::string subject = subjectOf(o);
    if (plan.createNamespace && metadataField(o, "namespace") == plan.targetNamespace) {
      deferred[i] = true;  // nothing can exist there yet, and a dry run would be NotFound
    }
    if (deferred[i]) {
      gets.push_back({});
      dryRuns.push_back({});
      continue;
    }
    auto path = kube.resourcePath(gvk, metadataField(o, "namespace"), metadataField(o, "name"));
    if (!path) return path.error();
    Request get;
    get.path = *path;
    get.subject = subject;
    get.verb = "get";
    gets.push_back(std::move(get));
    ApplyOptions dry;
    dry.dryRun = true;
    auto req = kube.applyRequest(o, dry);
    if (!req) return req.error();
    dryRuns.push_back(std::move(*req));
  }
  // The inventory: members labelled with our ApplySet id, of the kinds the parent lists.
  // Listed members that are still rendered serve as their live objects, so a steady-state
  // plan reads the cluster with one LIST per kind instead of one GET per object.
  std::map<std::string, size_t> renderedIndex;  // identity → index in `rendered`
  for (size_t i = 0; i < rendered.size(); ++i) renderedIndex.emplace(objectIdentity(rendered[i]), i);
  std::vector<JsonValue> listedLive(rendered.size());  // null: not listed, GET it
  std::string parentKinds;
  auto parent = kube.get(Gvk{"", "v1", "Secret"}, plan.targetNamespace, plan.inventoryName, alloc);
  if (!parent && parent.error().code() != Code::kNotFound) return parent.error();
  if (parent) {
    const JsonValue* md = findMember(*parent, "metadata");
    const JsonValue* ann = md ? findMember(*md, "annotations") : nullptr;
    parentKinds = ann ? stringField(*ann, kApplySetGroupKindsAnnotation) : "";
    const std::string& kinds = parentKinds;
    std::vector<ResourceInfo> known = kube.knownResources();
    size_t pos = 0;
    while (pos < kinds.size()) {
      size_t comma = kinds.find(',', pos);
      if (comma == std::string::npos) comma = kinds.size();
      std::string gk = kinds.substr(pos, comma - pos);
      pos = comma + 1;
      size_t dot = gk.find('.');
      std::string kind = gk.substr(0, dot),
                  group = dot == std::string::npos ? "" : gk.substr(dot + 1);
      auto info = std::find_if(known.begin(), known.end(), [&](const ResourceInfo& r) {
        return r.gvk.kind == kind && r.gvk.group == group;
      });
      if (info == known.end()) continue;  // the kind is gone (its CRD was deleted)
      // List in the version the render uses, so listed members can stand in for GETs.
      Gvk listGvk = info->gvk;
      for (const JsonValue& o : rendered) {
        Gvk g = gvkOf(o);
        if (g.group == group && g.kind == kind && kube.resolve(g)) {
          listGvk = g;
          break;
        }
      }
      ListOptions lo;
      lo.labelSelector = std::string(kApplySetPartOfLabel) + "=" + plan.applySetId;
      auto members = kube.list(listGvk, "", alloc, lo);
      if (!members) return members.error();
      for (JsonValue& m : *members) {
        ++plan.inventorySize;
        auto it = renderedIndex.find(objectIdentity(m));
        if (it != renderedIndex.end()) {
          // Compared with the dry run only in the version that was rendered.
          if (stringField(m, "apiVersion") == stringField(rendered[it->second], "apiVersion")) {
            listedLive[it->second] = std::move(m);
          }
          continue;
        }
        StaleObject s;
        s.subject = subjectOf(m);
        s.pruneDisabled = pruneDisabled(m);
        s.live = std::move(m);
        plan.stale.push_back(std::move(s));
      }
    }
  }
  for (size_t i = 0; i < rendered.size(); ++i) {
    if (!listedLive[i].IsNull()) gets[i] = Request{};  // already read
  }

  auto send = [&](const std::vector<Request>& reqs) {
    std::vector<Request> real;
    std::vector<size_t> index;
    for (size_t i = 0; i < reqs.size(); ++i) {
      if (!reqs[i].path.empty()) {
        real.push_back(reqs[i]);
        index.push_back(i);
      }
    }
    std::vector<Result<Response>> got = kube.sendBatch(real);
    std::vector<std::optional<Result<Response>>> out(reqs.size());
    for (size_t k = 0; k < index.size(); ++k) out[index[k]] = std::move(got[k]);
    return out;
  };
  auto liveResponses = send(gets);
  auto dryResponses = send(dryRuns);

  std::vector<std::string> failures;
  for (size_t i = 0; i < rendered.size(); ++i) {
    PlannedObject p;
    p.subject = subjectOf(rendered[i]);
    p.live.SetNull();
    if (deferred[i]) {
      p.deferred = true;
      p.action = ObjectAction::kCreate;
      p.desired = std::move(rendered[i]);
      plan.objects.push_back(std::move(p));
      continue;
    }
    if (!listedLive[i].IsNull()) {
      p.live = std::move(listedLive[i]);
    } else {
      const auto& live = *liveResponses[i];
      if (!live) return live.error();
      Status liveStatus = statusFromHttp(live->httpStatus, live->body, p.subject, "get");
      if (liveStatus.ok()) {
        auto v = parseJsonBody(live->body, alloc, p.subject);
        if (!v) return v.error();
        p.live = std::move(*v);
      } else if (liveStatus.code() != Code::kNotFound) {
        return liveStatus;
      }
    }
    const auto& dry = *dryResponses[i];
    if (!dry) return dry.error();
    Status dryStatus = statusFromHttp(dry->httpStatus, dry->body, p.subject, "patch");
    std::string_view objNs = metadataField(rendered[i], "namespace");
    if (!dryStatus.ok()) {
      if (dryStatus.code() == Code::kNotFound && !objNs.empty() &&
          newNamespaces.count(std::string(objNs)) > 0) {
        p.deferred = true;  // its namespace is created by this sync
        p.action = ObjectAction::kCreate;
        p.desired = std::move(rendered[i]);
        plan.objects.push_back(std::move(p));
        continue;
      }
      if (stopsDryRuns(dryStatus)) return dryStatus;
      failures.push_back(dryStatus.message());
      continue;
    }
    auto dryObj = parseJsonBody(dry->body, alloc, p.subject);
    if (!dryObj) return dryObj.error();
    p.action = classify(p.live.IsNull() ? nullptr : &p.live, *dryObj, alloc);
    if (p.action != ObjectAction::kUnchanged) {
      p.diff = objectDiff(p.live.IsNull() ? nullptr : &p.live, *dryObj, p.subject, alloc);
    }
    p.desired = std::move(rendered[i]);
    plan.objects.push_back(std::move(p));
  }
  WINDLASS_RETURN_IF_ERROR(dryRunFailures(failures, ""));

  if (parent) {
    // The parent is current when it lists exactly the kinds it will list after this sync.
    std::set<std::string> want;
    for (const PlannedObject& p : plan.objects) want.insert(groupKind(p.desired));
    for (const StaleObject& s : plan.stale) {
      if (s.pruneDisabled || !options.prune) want.insert(groupKind(s.live));
    }
    std::string wantText;
    for (const std::string& k : want) wantText += (wantText.empty() ? "" : ",") + k;
    plan.parentCurrent = parentKinds == wantText;
  }
  return plan;
}

std::string formatPlan(const Plan& plan) {
  std::string out;
  size_t create = 0, update = 0, unchanged = 0, remove = 0, kept = 0;
  if (plan.createNamespace) out += "+ Namespace " + plan.targetNamespace + " (created)\n";
  for (const PlannedObject& p : plan.objects) {
    switch (p.action) {
      case ObjectAction::kCreate:
        ++create;
        break;
      case ObjectAction::kUpdate:
        ++update;
        break;
      default:
        ++unchanged;
        continue;
    }
    if (p.deferred) {
      out += "+ " + p.subject + " (created after its CustomResourceDefinition or namespace)\n";
    } else {
      out += p.diff;
    }
  }
  for (const StaleObject& s : plan.stale) {
    if (s.pruneDisabled) {
      ++kept;
      out += "  " + s.subject + " is no longer rendered, but prune is disabled for it\n";
    } else {
      ++remove;
      out += "- " + s.subject + " (to delete)\n";
    }
  }
  out += std::to_string(create) + " to create, " + std::to_string(update) + " to update, " +
         std::to_string(unchanged) + " unchanged, " + std::to_string(remove) + " to delete";
  if (kept > 0) out += ", " + std::to_string(kept) + " kept (prune disabled)";
  out += "\n";
  return out;
}

namespace {

class Executor {
 public:
  Executor(KubeApi& kube, Plan& plan, const SyncOptions& options, JsonAllocator& alloc)
      : kube_(kube), plan_(plan), options_(options), alloc_(alloc) {}

  SyncOutcome run() {
    if (!plan_.changes()) {
      // Steady state: nothing to write; only the health is read.
      for (const PlannedObject& p : plan_.objects) {
        out_.objects.push_back(recordOf(p.desired, ObjectAction::kUnchanged));
        done_.insert(&p);
      }
      if (options_.healthTimeout.count() > 0) {
        if (Status st = waitHealthy(); !st.ok()) return fail(Reason::kHealthFailed, st);
      }
      out_.reason = Reason::kSucceeded;
      return std::move(out_);
    }
    size_t stale = std::count_if(plan_.stale.begin(), plan_.stale.end(),
                                 [](const StaleObject& s) { return !s.pruneDisabled; });
    if (options_.prune) {
      Status guard = checkMassPrune(stale, plan_.inventorySize, plan_.objects.size(),
                                    options_.maxPruneShare, options_.allowMassPrune);
      if (!guard.ok()) return fail(Reason::kPruneFailed, guard);
    }
    if (plan_.createNamespace) {
      JsonValue ns(rapidjson::kObjectType);
      ns.AddMember("apiVersion", "v1", alloc_);
      ns.AddMember("kind", "Namespace", alloc_);
      JsonValue& md = overlays::ensureObject(ns, "metadata", alloc_);
      overlays::setMember(md, "name", makeString(plan_.targetNamespace, alloc_), alloc_);
      auto created = kube_.apply(ns, alloc_);
      if (!created) return fail(Reason::kApplyFailed, created.error());
    }
    // The parent first lists old and new kinds, so an interrupted sync can still prune.
    std::vector<const JsonValue*> all;
    for (const PlannedObject& p : plan_.objects) all.push_back(&p.desired);
    for (const StaleObject& s : plan_.stale) all.push_back(&s.live);
    if (!plan_.parentCurrent) {
      if (Status st = writeParent(all); !st.ok()) return fail(Reason::kApplyFailed, st);
    }
    if (Status st = dryRunDeferred(); !st.ok()) return fail(Reason::kApplyFailed, st);
    if (Status st = applyStages(); !st.ok()) return fail(Reason::kApplyFailed, st);
    if (options_.prune) {
      if (Status st = interrupted(); !st.ok()) return fail(Reason::kPruneFailed, st);
      if (Status st = prune(); !st.ok()) return fail(Reason::kPruneFailed, st);
    }
    std::vector<const JsonValue*> kept;
    for (const PlannedObject& p : plan_.objects) kept.push_back(&p.desired);
    for (const StaleObject& s : plan_.stale) {
      if (s.pruneDisabled || !options_.prune) kept.push_back(&s.live);
    }
    if (!plan_.parentCurrent) {
      if (Status st = writeParent(kept); !st.ok()) return fail(Reason::kApplyFailed, st);
    }
    if (options_.healthTimeout.count() > 0) {
      if (Status st = waitHealthy(); !st.ok()) return fail(Reason::kHealthFailed, st);
    }
    out_.reason = Reason::kSucceeded;
    return std::move(out_);
  }

 private:
  SyncOutcome fail(Reason reason, Status status) {
    // Objects not reached keep their planned action with a note.
    for (const PlannedObject& p : plan_.objects) {
      if (done_.count(&p) == 0 && p.action != ObjectAction::kUnchanged) {
        out_.objects.push_back(
            recordOf(p.desired, p.action, "not applied: the sync stopped earlier"));
      }
    }
    out_.reason = reason;
    out_.status = std::move(status);
    return std::move(out_);
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

  // Aborted when the sync was cancelled: the safe point between two stages.
  Status interrupted() const {
    if (options_.cancel == nullptr || !options_.cancel->cancelled()) return {};
    return Status::aborted("interrupted: the agent is stopping");
  }

  // Sleeps one poll interval; false when the sync was cancelled meanwhile.
  bool pause() const {
    if (options_.cancel == nullptr) {
      std::this_thread::sleep_for(options_.pollInterval);
      return true;
    }
    return options_.cancel->waitFor(options_.pollInterval);
  }

  Status applyStages() {
    std::vector<const JsonValue*> objs;
    for (const PlannedObject& p : plan_.objects) objs.push_back(&p.desired);
    for (const std::vector<size_t>& stage : reconcile::applyStages(objs)) {
      WINDLASS_RETURN_IF_ERROR(interrupted());
      std::vector<Request> reqs;
      std::vector<PlannedObject*> which;
      for (size_t i : stage) {
        PlannedObject& p = plan_.objects[i];
        if (p.action == ObjectAction::kUnchanged) {
          out_.objects.push_back(recordOf(p.desired, ObjectAction::kUnchanged));
          done_.insert(&p);
          continue;
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
        out_.objects.push_back(recordOf(p.desired, p.action, st.ok() ? "" : st.message()));
        done_.insert(&p);
        if (!st.ok() && first.ok()) first = st;
      }
      if (!first.ok()) return first;
      for (size_t i : stage) {
        const JsonValue& o = plan_.objects[i].desired;
        if (stringField(o, "kind") == "CustomResourceDefinition") {
          WINDLASS_RETURN_IF_ERROR(waitEstablished(o));
        }
      }
    }
    return {};
  }

  Status waitEstablished(const JsonValue& crd) {
    std::string name(metadataField(crd, "name"));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (true) {
      auto live = kube_.get(gvkOf(crd), "", name, alloc_);
      if (live && assessHealth(*live).health == Health::kCurrent) break;
      if (std::chrono::steady_clock::now() > deadline) {
        return Status::deadlineExceeded("CustomResourceDefinition " + name +
                                        " was not Established within 60s");
      }
      if (!pause()) return interrupted();
    }
    return kube_.refreshDiscovery();
  }

  Status prune() {
    std::vector<const JsonValue*> objs;
    for (const StaleObject& s : plan_.stale) objs.push_back(&s.live);
    std::vector<std::vector<size_t>> stages = reconcile::applyStages(objs);
    Status first;
    for (auto st = stages.rbegin(); st != stages.rend(); ++st) {
      for (auto it = st->rbegin(); it != st->rend(); ++it) {
        StaleObject& s = plan_.stale[*it];
        if (s.pruneDisabled) {
          out_.objects.push_back(recordOf(s.live, ObjectAction::kPruneSkipped));
          continue;
        }
        Status r = kube_.remove(gvkOf(s.live), metadataField(s.live, "namespace"),
                                metadataField(s.live, "name"));
        if (r.code() == Code::kNotFound) r = Status();
        out_.objects.push_back(recordOf(s.live, ObjectAction::kDelete, r.ok() ? "" : r.message()));
        if (!r.ok() && first.ok()) first = r;
      }
    }
    return first;
  }

  // The health of every planned object, in plan order, from one labelled LIST per kind
  // (every member carries the ApplySet label once applied) and concurrent GETs for the
  // objects those lists did not return.
  std::vector<HealthResult> observeHealth() {
    JsonAllocator alloc;  // per poll: a long wait must not grow the sync's allocator
    std::map<std::string, std::vector<size_t>> byKind;  // "apiVersion|kind" → plan indices
    for (size_t i = 0; i < plan_.objects.size(); ++i) {
      const JsonValue& o = plan_.objects[i].desired;
      byKind[std::string(stringField(o, "apiVersion")) + "|" + std::string(stringField(o, "kind"))]
          .push_back(i);
    }
    std::vector<std::optional<HealthResult>> found(plan_.objects.size());
    ListOptions lo;
    lo.labelSelector = std::string(kApplySetPartOfLabel) + "=" + plan_.applySetId;
    for (const auto& [key, indices] : byKind) {
      auto members = kube_.list(gvkOf(plan_.objects[indices.front()].desired), "", alloc, lo);
      if (!members) continue;  // read one by one below
      std::map<std::string, const JsonValue*> live;
      for (const JsonValue& m : *members) live.emplace(objectIdentity(m), &m);
      for (size_t i : indices) {
        auto it = live.find(objectIdentity(plan_.objects[i].desired));
        if (it != live.end()) found[i] = assessHealth(*it->second);
      }
    }
    std::vector<Request> gets;
    std::vector<size_t> which;
    for (size_t i = 0; i < found.size(); ++i) {
      if (found[i]) continue;
      const JsonValue& o = plan_.objects[i].desired;
      auto path =
          kube_.resourcePath(gvkOf(o), metadataField(o, "namespace"), metadataField(o, "name"));
      if (!path) {
        found[i] = HealthResult{Health::kUnknown, path.error().message()};
        continue;
      }
      Request get;
      get.path = *path;
      get.subject = plan_.objects[i].subject;
      get.verb = "get";
      gets.push_back(std::move(get));
      which.push_back(i);
    }
    std::vector<Result<Response>> got = kube_.sendBatch(gets);
    for (size_t k = 0; k < got.size(); ++k) {
      size_t i = which[k];
      Status st = got[k] ? statusFromHttp(got[k]->httpStatus, got[k]->body, gets[k].subject, "get")
                         : got[k].error();
      auto obj =
          st.ok() ? parseJsonBody(got[k]->body, alloc, gets[k].subject) : Result<JsonValue>(st);
      found[i] = obj ? assessHealth(*obj) : HealthResult{Health::kUnknown, obj.error().message()};
    }
    std::vector<HealthResult> out;
    out.reserve(found.size());
    for (auto& h : found) out.push_back(std::move(*h));
    return out;
  }

  Status waitHealthy() {
    auto deadline = std::chrono::steady_clock::now() + options_.healthTimeout;
    while (true) {
      std::vector<HealthResult> results = observeHealth();
      out_.health.objects.clear();
      for (size_t i = 0; i < plan_.objects.size(); ++i) {
        const JsonValue& o = plan_.objects[i].desired;
        const HealthResult& h = results[i];
        Gvk g = gvkOf(o);
        out_.health.objects.push_back(ObjectHealth{
            g.group, g.version, g.kind, std::string(metadataField(o, "namespace")),
            std::string(metadataField(o, "name")), toHealthStatus(h.health), h.message});
      }
      Health all = aggregate(results);
      out_.health.status = toHealthStatus(all);
      if (all == Health::kCurrent) return {};
      if (all == Health::kFailed) {
        std::string msg = "Degraded:";
        for (size_t i = 0; i < results.size(); ++i) {
          if (results[i].health == Health::kFailed) {
            msg += " " + plan_.objects[i].subject + ": " + results[i].message + ";";
          }
        }
        msg.pop_back();
        return Status::failedPrecondition(msg);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        std::string msg = "health check timed out after " +
                          std::to_string(options_.healthTimeout.count() / 1000) + "s:";
        for (size_t i = 0; i < results.size(); ++i) {
          if (results[i].health != Health::kCurrent) {
            msg += " " + plan_.objects[i].subject + ": " + results[i].message + ";";
          }
        }
        msg.pop_back();
        return Status::deadlineExceeded(msg);
      }
      if (!pause()) return Status::aborted("interrupted while waiting for health");
    }
  }

  KubeApi& kube_;
  Plan& plan_;
  const SyncOptions& options_;
  JsonAllocator& alloc_;
  SyncOutcome out_;
  std::set<const PlannedObject*> done_;
};

}  // namespace

SyncOutcome executePlan(KubeApi& kube, Plan& plan, const SyncOptions& options,
                        JsonAllocator& alloc) {
  return Executor(kube, plan, options, alloc).run();
}

}  // namespace windlass::reconcile
