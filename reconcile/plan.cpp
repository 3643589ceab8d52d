#include "reconcile/plan.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "overlays/resource.h"
#include "overlays/yaml.h"
#include "reconcile/history.h"  // maskSecrets
#include "reconcile/inventory.h"

namespace windlass::reconcile {

using overlays::findMember;
using overlays::idOf;
using overlays::makeString;
using overlays::metadataField;
using overlays::ResId;
using overlays::stringField;

void stripServerFields(JsonValue& object) {
  if (!object.IsObject()) return;
  object.RemoveMember("status");
  JsonValue* md = findMember(object, "metadata");
  if (md == nullptr || !md->IsObject()) return;
  for (const char* f :
       {"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"}) {
    md->RemoveMember(f);
  }
  JsonValue* ann = findMember(*md, "annotations");
  if (ann != nullptr && ann->IsObject()) {
    ann->RemoveMember("deployment.kubernetes.io/revision");
    if (ann->ObjectEmpty()) md->RemoveMember("annotations");
  }
}

ObjectAction classify(const JsonValue* live, const JsonValue& dryRun, JsonAllocator& alloc) {
  if (live == nullptr) return ObjectAction::kCreate;
  JsonValue a(*live, alloc), b(dryRun, alloc);
  stripServerFields(a);
  stripServerFields(b);
  return a == b ? ObjectAction::kUnchanged : ObjectAction::kUpdate;
}

namespace {

// Masks the Secret values of `before` (may be null) and `after` (see
// objectDiff): everything as maskSecrets() does, then the keys whose values
// differ are marked on both sides.
void maskSecretPair(JsonValue* before, JsonValue& after) {
  static constexpr char kBefore[] = "*** (before)", kChanged[] = "*** (changed)";
  std::vector<std::pair<std::string, std::string>> changed;  // (field, key)
  if (before != nullptr && overlays::stringField(after, "apiVersion") == "v1" &&
      overlays::stringField(after, "kind") == "Secret") {
    for (const char* field : {"data", "stringData"}) {
      const JsonValue* mine = findMember(after, field);
      const JsonValue* theirs = findMember(*before, field);
      if (mine == nullptr || theirs == nullptr || !mine->IsObject() || !theirs->IsObject())
        continue;
      for (const auto& entry : mine->GetObject()) {
        std::string key(entry.name.GetString(), entry.name.GetStringLength());
        const JsonValue* old = findMember(*theirs, key);
        if (old != nullptr && !(*old == entry.value)) changed.emplace_back(field, key);
      }
    }
  }
  if (before != nullptr) maskSecrets(*before);
  if (!maskSecrets(after)) return;
  for (const auto& [field, key] : changed) {
    findMember(*findMember(*before, field), key)->SetString(rapidjson::StringRef(kBefore));
    findMember(*findMember(after, field), key)->SetString(rapidjson::StringRef(kChanged));
  }
}

}  // namespace

std::string objectDiff(const JsonValue* live, const JsonValue& desired, std::string_view subject,
                       JsonAllocator& alloc) {
  JsonValue after(desired, alloc);
  stripServerFields(after);
  std::string a, b;
  if (live != nullptr) {
    JsonValue before(*live, alloc);
    stripServerFields(before);
    maskSecretPair(&before, after);
    overlays::emitYaml(before, a);
  } else {
    maskSecretPair(nullptr, after);
  }
  overlays::emitYaml(after, b);
  return unifiedDiff(a, b, "live " + std::string(subject), "desired " + std::string(subject));
}

namespace {

std::vector<std::string_view> splitLines(std::string_view s) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string_view::npos) nl = s.size();
    lines.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

struct Edit {
  char op;  // ' ', '-', '+'
  std::string_view line;
};

// Line edit script by longest common subsequence. Inputs above `kMaxCells`
// table cells fall back to "remove all, add all" to bound time and memory.
std::vector<Edit> editScript(const std::vector<std::string_view>& a,
                             const std::vector<std::string_view>& b) {
  constexpr size_t kMaxCells = 16u << 20;
  // Common prefix and suffix need no table.
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre &&
         a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) {
    ++suf;
  }
  size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
  std::vector<Edit> out;
  for (size_t i = 0; i < pre; ++i) out.push_back({' ', a[i]});
  if ((n + 1) * (m + 1) > kMaxCells) {
    for (size_t i = 0; i < n; ++i) out.push_back({'-', a[pre + i]});
    for (size_t j = 0; j < m; ++j) out.push_back({'+', b[pre + j]});
  } else {
    std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
    auto at = [&](size_t i, size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
    for (size_t i = n; i-- > 0;) {
      for (size_t j = m; j-- > 0;) {
        at(i, j) =
            a[pre + i] == b[pre + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
      }
    }
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[pre + i] == b[pre + j]) {
        out.push_back({' ', a[pre + i]});
        ++i;
        ++j;
      } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
        out.push_back({'-', a[pre + i]});  // removals before additions, as diff -u does
        ++i;
      } else {
        out.push_back({'+', b[pre + j]});
        ++j;
      }
    }
  }
  for (size_t k = a.size() - suf; k < a.size(); ++k) out.push_back({' ', a[k]});
  return out;
}

}  // namespace

std::string unifiedDiff(std::string_view a, std::string_view b, std::string_view labelA,
                        std::string_view labelB) {
  if (a == b) return {};
  constexpr size_t kContext = 3;
  std::vector<std::string_view> la = splitLines(a), lb = splitLines(b);
  std::vector<Edit> edits = editScript(la, lb);
  std::string out = "--- " + std::string(labelA) + "\n+++ " + std::string(labelB) + "\n";
  size_t k = 0;
  while (k < edits.size()) {
    // Find the next change, then grow a hunk around it until changes are more
    // than 2 * context lines apart.
    size_t first = k;
    while (first < edits.size() && edits[first].op == ' ') ++first;
    if (first == edits.size()) break;
    size_t start = first >= kContext ? first - kContext : 0;
    size_t end = first;
    size_t lastChange = first;
    while (end < edits.size()) {
      if (edits[end].op != ' ') lastChange = end;
      if (end - lastChange > 2 * kContext) break;
      ++end;
    }
    end = std::min(edits.size(), lastChange + kContext + 1);
    // Line numbers of the hunk in a and b (1-based).
    size_t aLine = 1, bLine = 1;
    for (size_t i = 0; i < start; ++i) {
      if (edits[i].op != '+') ++aLine;
      if (edits[i].op != '-') ++bLine;
    }
    size_t aCount = 0, bCount = 0;
    std::string body;
    for (size_t i = start; i < end; ++i) {
      if (edits[i].op != '+') ++aCount;
      if (edits[i].op != '-') ++bCount;
      body += edits[i].op;
      body += edits[i].line;
      body += '\n';
    }
    out += "@@ -" + std::to_string(aCount == 0 ? aLine - 1 : aLine) + "," + std::to_string(aCount) +
           " +" + std::to_string(bCount == 0 ? bLine - 1 : bLine) + "," + std::to_string(bCount) +
           " @@\n" + body;
    k = end;
  }
  return out;
}

int syncWave(const JsonValue& object) {
  const JsonValue* md = findMember(object, "metadata");
  const JsonValue* ann = md != nullptr ? findMember(*md, "annotations") : nullptr;
  if (ann == nullptr) return 0;
  for (const char* key : {"windlass.dev/sync-wave", "argocd.argoproj.io/sync-wave"}) {
    std::string_view v = overlays::stringField(*ann, key);
    if (v.empty()) continue;
    std::string text(v);
    char* end = nullptr;
    long wave = std::strtol(text.c_str(), &end, 10);
    if (end != text.c_str() && *end == '\0') return static_cast<int>(wave);
  }
  return 0;
}

std::vector<std::vector<size_t>> applyStages(const std::vector<const JsonValue*>& objects) {
  // (wave group, scope, kind order, namespace, name) with Namespaces and CRDs
  // in a stage of their own before every wave.
  using Key = std::tuple<int, int, int, int, std::string, std::string, std::string>;
  std::vector<std::pair<Key, size_t>> keyed;
  for (size_t i = 0; i < objects.size(); ++i) {
    ResId id = idOf(*objects[i]);
    bool foundation = id.gvk.kind == "Namespace" || id.gvk.kind == "CustomResourceDefinition";
    int wave = foundation ? 0 : syncWave(*objects[i]);
    keyed.push_back(
        {Key{foundation ? 0 : 1, wave, overlays::isClusterScopedKind(id.gvk.kind) ? 0 : 1,
             overlays::legacyKindOrder(id.gvk.kind), id.gvk.sortString(), id.ns, id.name},
         i});
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::vector<size_t>> stages;
  std::pair<int, int> current{-1, 0};
  for (const auto& [key, i] : keyed) {
    std::pair<int, int> stage{std::get<0>(key), std::get<1>(key)};
    if (stages.empty() || stage != current) {
      stages.emplace_back();
      current = stage;
    }
    stages.back().push_back(i);
  }
  return stages;
}

// ---- makePlan ----------------------------------------------------------------------------

namespace {

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

// What makePlan gathers before it judges the objects. Index i of each vector is
// rendered[i].
struct Reads {
  std::vector<JsonValue> rendered;
  // Namespaces this sync creates: the target namespace when missing, rendered Namespaces.
  std::set<std::string> newNamespaces;
  // Applied after their CRD or namespace, with no read or dry run now (a kind the server
  // does not know yet, or the target namespace this sync creates).
  std::vector<bool> deferred;
  std::vector<Request> gets;          // an empty path: no GET (deferred, or listed)
  std::vector<Request> dryRuns;       // an empty path: deferred
  std::vector<JsonValue> listedLive;  // null: not listed, GET it
  bool parentFound = false;
  std::string parentKinds;  // the parent's contains-group-kinds annotation
};

// Step 1: the target namespace (created when missing), the inventory's name and id.
Status planTarget(KubeApi& kube, const SyncOptions& options, JsonAllocator& alloc, Plan& plan,
                  Reads& reads) {
  plan.targetNamespace = options.targetNamespace;
  if (plan.targetNamespace.empty()) plan.targetNamespace = kube.defaultNamespace();
  if (plan.targetNamespace.empty()) plan.targetNamespace = "default";
  plan.inventoryName = "windlass-" + options.environment;
  plan.applySetId = applySetId(plan.inventoryName, plan.targetNamespace, "Secret", "");

  auto ns = kube.get(Gvk{"", "v1", "Namespace"}, "", plan.targetNamespace, alloc);
  // An identity confined to its namespace may not read the Namespace object: take
  // the namespace as existing, as kubectl apply would, and let the server judge.
  if (!ns && ns.error().code() != Code::kNotFound && ns.error().code() != Code::kPermissionDenied) {
    return ns.error();
  }
  plan.createNamespace = !ns && ns.error().code() == Code::kNotFound;
  if (plan.createNamespace) reads.newNamespaces.insert(plan.targetNamespace);
  for (const JsonValue& o : reads.rendered) {
    if (stringField(o, "kind") == "Namespace")
      reads.newNamespaces.insert(std::string(metadataField(o, "name")));
  }
  return {};
}

// Step 2: the namespace and the ApplySet label of each rendered object, and the requests
// that read and dry-run it.
Status prepareRequests(KubeApi& kube, const Plan& plan, JsonAllocator& alloc, Reads& reads) {
  std::vector<JsonValue>& rendered = reads.rendered;
  reads.deferred.assign(rendered.size(), false);
  for (size_t i = 0; i < rendered.size(); ++i) {
    JsonValue& o = rendered[i];
    Gvk gvk = gvkOf(o);
    bool namespaced = true;
    auto info = kube.resolve(gvk);
    if (info) {
      namespaced = info->namespaced;
    } else if (const JsonValue* crd = crdFor(rendered, gvk);
               crd != nullptr && info.error().code() == Code::kNotFound) {
      reads.deferred[i] = true;
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
      reads.deferred[i] = true;  // nothing can exist there yet, and a dry run would be NotFound
    }
    if (reads.deferred[i]) {
      reads.gets.push_back({});
      reads.dryRuns.push_back({});
      continue;
    }
    auto path = kube.resourcePath(gvk, metadataField(o, "namespace"), metadataField(o, "name"));
    if (!path) return path.error();
    Request get;
    get.path = *path;
    get.subject = subject;
    get.verb = "get";
    reads.gets.push_back(std::move(get));
    ApplyOptions dry;
    dry.dryRun = true;
    auto req = kube.applyRequest(o, dry);
    if (!req) return req.error();
    reads.dryRuns.push_back(std::move(*req));
  }
  return {};
}

// Step 3b: the members of one group-kind ("Deployment.apps") the parent lists. Members
// still rendered stand in for their GETs; the others are stale.
Status listMembers(KubeApi& kube, const std::string& gk, const std::vector<ResourceInfo>& known,
                   const std::map<std::string, size_t>& renderedIndex, JsonAllocator& alloc,
                   Plan& plan, Reads& reads) {
  size_t dot = gk.find('.');
  std::string kind = gk.substr(0, dot), group = dot == std::string::npos ? "" : gk.substr(dot + 1);
  auto info = std::find_if(known.begin(), known.end(), [&](const ResourceInfo& r) {
    return r.gvk.kind == kind && r.gvk.group == group;
  });
  if (info == known.end()) return {};  // the kind is gone (its CRD was deleted)
  // List in the version the render uses, so listed members can stand in for GETs.
  Gvk listGvk = info->gvk;
  for (const JsonValue& o : reads.rendered) {
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
      if (stringField(m, "apiVersion") == stringField(reads.rendered[it->second], "apiVersion")) {
        reads.listedLive[it->second] = std::move(m);
      }
      continue;
    }
    StaleObject s;
    s.subject = subjectOf(m);
    s.pruneDisabled = pruneDisabled(m);
    s.live = std::move(m);
    plan.stale.push_back(std::move(s));
  }
  return {};
}

// Step 3: the inventory: members labelled with our ApplySet id, of the kinds the parent
// lists. Listed members that are still rendered serve as their live objects, so a
// steady-state plan reads the cluster with one LIST per kind instead of one GET per object.
Status readInventory(KubeApi& kube, Plan& plan, JsonAllocator& alloc, Reads& reads) {
  std::map<std::string, size_t> renderedIndex;  // identity → index in `rendered`
  for (size_t i = 0; i < reads.rendered.size(); ++i)
    renderedIndex.emplace(objectIdentity(reads.rendered[i]), i);
  reads.listedLive.resize(reads.rendered.size());
  auto parent = kube.get(Gvk{"", "v1", "Secret"}, plan.targetNamespace, plan.inventoryName, alloc);
  if (!parent && parent.error().code() != Code::kNotFound) return parent.error();
  reads.parentFound = static_cast<bool>(parent);
  if (parent) {
    const JsonValue* md = findMember(*parent, "metadata");
    const JsonValue* ann = md ? findMember(*md, "annotations") : nullptr;
    reads.parentKinds = ann ? stringField(*ann, kApplySetGroupKindsAnnotation) : "";
    const std::string& kinds = reads.parentKinds;
    std::vector<ResourceInfo> known = kube.knownResources();
    size_t pos = 0;
    while (pos < kinds.size()) {
      size_t comma = kinds.find(',', pos);
      if (comma == std::string::npos) comma = kinds.size();
      std::string gk = kinds.substr(pos, comma - pos);
      pos = comma + 1;
      WINDLASS_RETURN_IF_ERROR(listMembers(kube, gk, known, renderedIndex, alloc, plan, reads));
    }
  }
  for (size_t i = 0; i < reads.rendered.size(); ++i) {
    if (!reads.listedLive[i].IsNull()) reads.gets[i] = Request{};  // already read
  }
  return {};
}

// Step 4: sends the requests with a path as one batch; out[i] is empty for the others.
std::vector<std::optional<Result<Response>>> sendSparse(KubeApi& kube,
                                                        const std::vector<Request>& reqs) {
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
}

// Step 5a: the live object of p (from the LIST, else from its GET; null when NotFound).
Status readLive(std::optional<Result<Response>>& response, JsonValue& listed, JsonAllocator& alloc,
                PlannedObject& p) {
  if (!listed.IsNull()) {
    p.live = std::move(listed);
    return {};
  }
  const auto& live = *response;
  if (!live) return live.error();
  Status liveStatus = statusFromHttp(live->httpStatus, live->body, p.subject, "get");
  if (liveStatus.ok()) {
    auto v = parseJsonBody(live->body, alloc, p.subject);
    if (!v) return v.error();
    p.live = std::move(*v);
  } else if (liveStatus.code() != Code::kNotFound) {
    return liveStatus;
  }
  return {};
}

// Step 5: each object's action and diff from its live object and its dry run. Objects
// whose dry run failed are listed in `failures`; an error that no object can fix stops.
Status judgeObjects(KubeApi& kube, JsonAllocator& alloc, const SyncOptions& options, Plan& plan,
                    Reads& reads, std::vector<std::string>& failures) {
  auto liveResponses = sendSparse(kube, reads.gets);
  auto dryResponses = sendSparse(kube, reads.dryRuns);
  for (size_t i = 0; i < reads.rendered.size(); ++i) {
    JsonValue& rendered = reads.rendered[i];
    PlannedObject p;
    p.subject = subjectOf(rendered);
    p.live.SetNull();
    if (reads.deferred[i]) {
      p.deferred = true;
      p.action = ObjectAction::kCreate;
      p.desired = std::move(rendered);
      plan.objects.push_back(std::move(p));
      continue;
    }
    WINDLASS_RETURN_IF_ERROR(readLive(liveResponses[i], reads.listedLive[i], alloc, p));
    const auto& dry = *dryResponses[i];
    if (!dry) return dry.error();
    Status dryStatus = statusFromHttp(dry->httpStatus, dry->body, p.subject, "patch");
    std::string_view objNs = metadataField(rendered, "namespace");
    if (!dryStatus.ok()) {
      if (dryStatus.code() == Code::kNotFound && !objNs.empty() &&
          reads.newNamespaces.count(std::string(objNs)) > 0) {
        p.deferred = true;  // its namespace is created by this sync
        p.action = ObjectAction::kCreate;
        p.desired = std::move(rendered);
        plan.objects.push_back(std::move(p));
        continue;
      }
      if (stopsDryRuns(dryStatus)) return dryStatus;
      if (isImmutableChange(dryStatus) && !p.live.IsNull()) {
        if (options.force || forceAnnotated(rendered)) {
          p.action = ObjectAction::kReplace;  // deleted, then created as rendered
          p.diff = "~ " + p.subject + " (to replace: " + dryStatus.message() + ")\n";
          p.desired = std::move(rendered);
          plan.objects.push_back(std::move(p));
          continue;
        }
        failures.push_back(dryStatus.message() +
                           " (set force: true on the environment, or annotate the object "
                           "windlass.dev/force: enabled, to delete and recreate it)");
        continue;
      }
      failures.push_back(dryStatus.message());
      continue;
    }
    auto dryObj = parseJsonBody(dry->body, alloc, p.subject);
    if (!dryObj) return dryObj.error();
    p.action = classify(p.live.IsNull() ? nullptr : &p.live, *dryObj, alloc);
    if (p.action != ObjectAction::kUnchanged) {
      p.diff = objectDiff(p.live.IsNull() ? nullptr : &p.live, *dryObj, p.subject, alloc);
    }
    p.desired = std::move(rendered);
    plan.objects.push_back(std::move(p));
  }
  return {};
}

// Step 6: the parent is current when it lists exactly the kinds it will list after this
// sync.
bool parentIsCurrent(const Plan& plan, const SyncOptions& options, const std::string& kinds) {
  std::set<std::string> want;
  for (const PlannedObject& p : plan.objects) want.insert(groupKind(p.desired));
  for (const StaleObject& s : plan.stale) {
    if (s.pruneDisabled || !options.prune) want.insert(groupKind(s.live));
  }
  std::string wantText;
  for (const std::string& k : want) wantText += (wantText.empty() ? "" : ",") + k;
  return kinds == wantText;
}

}  // namespace

Result<Plan> makePlan(KubeApi& kube, std::vector<JsonValue> rendered, const SyncOptions& options,
                      JsonAllocator& alloc) {
  Plan plan;
  Reads reads;
  reads.rendered = std::move(rendered);
  WINDLASS_RETURN_IF_ERROR(planTarget(kube, options, alloc, plan, reads));
  WINDLASS_RETURN_IF_ERROR(prepareRequests(kube, plan, alloc, reads));
  WINDLASS_RETURN_IF_ERROR(readInventory(kube, plan, alloc, reads));
  std::vector<std::string> failures;
  WINDLASS_RETURN_IF_ERROR(judgeObjects(kube, alloc, options, plan, reads, failures));
  WINDLASS_RETURN_IF_ERROR(dryRunFailures(failures, ""));
  if (reads.parentFound) plan.parentCurrent = parentIsCurrent(plan, options, reads.parentKinds);
  return plan;
}

std::string formatPlan(const Plan& plan) {
  std::string out;
  size_t create = 0, update = 0, unchanged = 0, remove = 0, kept = 0, replace = 0;
  if (plan.createNamespace) out += "+ Namespace " + plan.targetNamespace + " (created)\n";
  for (const PlannedObject& p : plan.objects) {
    switch (p.action) {
      case ObjectAction::kCreate:
        ++create;
        break;
      case ObjectAction::kReplace:
        ++replace;
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
  if (replace > 0) out += ", " + std::to_string(replace) + " to replace";
  if (kept > 0) out += ", " + std::to_string(kept) + " kept (prune disabled)";
  out += "\n";
  return out;
}

}  // namespace windlass::reconcile
