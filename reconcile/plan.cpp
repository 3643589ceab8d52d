#include "reconcile/plan.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <tuple>

#include "overlays/resource.h"
#include "overlays/yaml.h"
#include "reconcile/history.h"  // maskSecrets

namespace windlass::reconcile {

using overlays::findMember;
using overlays::idOf;
using overlays::ResId;

void stripServerFields(JsonValue& object) {
  if (!object.IsObject()) return;
  object.RemoveMember("status");
  JsonValue* md = findMember(object, "metadata");
  if (md == nullptr || !md->IsObject()) return;
  for (const char* f : {"managedFields", "resourceVersion", "generation", "uid",
                        "creationTimestamp", "selfLink"}) {
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
      if (mine == nullptr || theirs == nullptr || !mine->IsObject() || !theirs->IsObject()) continue;
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
        at(i, j) = a[pre + i] == b[pre + j] ? at(i + 1, j + 1) + 1
                                            : std::max(at(i + 1, j), at(i, j + 1));
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
    keyed.push_back({Key{foundation ? 0 : 1, wave, id.isClusterScoped() ? 0 : 1,
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

}  // namespace windlass::reconcile
