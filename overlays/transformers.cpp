#include "overlays/transformers.h"

#include <algorithm>
#include <set>
#include <unordered_set>

#include "core/regex.h"

namespace windlass::overlays {

namespace {

std::string_view sv(const JsonValue& v) { return {v.GetString(), v.GetStringLength()}; }

// Kustomize anchors a target's name and namespace patterns: "^(?:" + p + ")$",
// compiled as Go regexps.
Result<Regex> anchored(const std::string& pattern, std::string_view what) {
  auto re = Regex::compile("^(?:" + pattern + ")$");
  if (!re) {
    // Name the pattern as written; Go's message shows the anchored one.
    const std::string& msg = re.error().message();
    return Status::invalidArgument(std::string(what) + ": invalid regular expression \"" + pattern +
                                   "\": " + msg.substr(msg.find("error parsing regexp")));
  }
  return re;
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

Result<bool> matchesLabelSelector(const JsonValue& labels, std::string_view selector) {
  // Split at commas outside parentheses.
  std::vector<std::string> terms;
  int depth = 0;
  std::string cur;
  for (char c : selector) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      terms.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  terms.push_back(trim(cur));
  auto get = [&](const std::string& key) -> const JsonValue* {
    const JsonValue* v = findMember(labels, key);
    return v != nullptr && v->IsString() ? v : nullptr;
  };
  for (const std::string& t : terms) {
    if (t.empty()) continue;
    size_t sp = t.find(' ');
    if (t.find(" in ") != std::string::npos || t.find(" notin ") != std::string::npos) {
      bool notIn = t.find(" notin ") != std::string::npos;
      std::string key = trim(t.substr(0, sp));
      size_t open = t.find('('), close = t.rfind(')');
      if (open == std::string::npos || close == std::string::npos || close < open) {
        return Status::invalidArgument("invalid label selector \"" + std::string(selector) + "\"");
      }
      std::set<std::string> values;
      std::string list = t.substr(open + 1, close - open - 1);
      size_t pos = 0;
      while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        values.insert(trim(list.substr(pos, comma - pos)));
        pos = comma + 1;
      }
      const JsonValue* v = get(key);
      bool in = v != nullptr && values.count(std::string(sv(*v))) > 0;
      if (notIn ? (v != nullptr && in) : !in) return false;
      continue;
    }
    if (t[0] == '!') {
      if (get(trim(t.substr(1))) != nullptr) return false;
      continue;
    }
    size_t ne = t.find("!=");
    size_t eq = t.find('=');
    if (ne != std::string::npos) {
      const JsonValue* v = get(trim(t.substr(0, ne)));
      if (v != nullptr && sv(*v) == trim(t.substr(ne + 2))) return false;
      continue;
    }
    if (eq != std::string::npos) {
      size_t valStart = (eq + 1 < t.size() && t[eq + 1] == '=') ? eq + 2 : eq + 1;
      const JsonValue* v = get(trim(t.substr(0, eq)));
      if (v == nullptr || sv(*v) != trim(t.substr(valStart))) return false;
      continue;
    }
    if (get(t) == nullptr) return false;  // existence
  }
  return true;
}

Result<std::vector<size_t>> selectResources(const ResourceList& list, const Selector& s) {
  std::optional<Regex> nameRe, nsRe;
  if (!s.name.empty()) {
    auto re = anchored(s.name, "target name");
    if (!re) return re.error();
    nameRe = std::move(*re);
  }
  if (!s.ns.empty()) {
    auto re = anchored(s.ns, "target namespace");
    if (!re) return re.error();
    nsRe = std::move(*re);
  }
  std::vector<size_t> out;
  static const JsonValue kEmpty(rapidjson::kObjectType);
  for (size_t i = 0; i < list.size(); ++i) {
    const Resource& r = list[i];
    ResId cur = r.curId();
    if (nsRe && !nsRe->fullMatch(r.orgId.effectiveNamespace()) &&
        !nsRe->fullMatch(cur.effectiveNamespace())) {
      continue;
    }
    if (nameRe && !nameRe->fullMatch(r.orgId.name) && !nameRe->fullMatch(cur.name)) {
      continue;
    }
    if ((!s.group.empty() && s.group != cur.gvk.group) ||
        (!s.version.empty() && s.version != cur.gvk.version) ||
        (!s.kind.empty() && s.kind != cur.gvk.kind)) {
      continue;
    }
    const JsonValue* md = findMember(r.obj, "metadata");
    if (!s.labelSelector.empty()) {
      const JsonValue* l = md ? findMember(*md, "labels") : nullptr;
      auto m = matchesLabelSelector(l ? *l : kEmpty, s.labelSelector);
      if (!m) return m.error();
      if (!*m) continue;
    }
    if (!s.annotationSelector.empty()) {
      const JsonValue* a = md ? findMember(*md, "annotations") : nullptr;
      auto m = matchesLabelSelector(a ? *a : kEmpty, s.annotationSelector);
      if (!m) return m.error();
      if (!*m) continue;
    }
    out.push_back(i);
  }
  return out;
}

Status applyNamespace(ResourceList& list, const std::string& ns,
                      const std::vector<FieldSpec>& specs, JsonAllocator& alloc) {
  for (Resource& r : list) {
    ResId before = r.curId();
    Gvk g = before.gvk;
    for (const FieldSpec& f : specs) {
      if (!f.selects(g)) continue;
      bool metaNs = f.path.size() == 2 && f.path[0] == "metadata" && f.path[1] == "namespace";
      if (metaNs && before.isClusterScoped()) continue;
      if (f.path.size() == 1 && f.path[0] == "subjects") {
        // Only ServiceAccount subjects named "default" follow the namespace.
        JsonValue* subjects = findMember(r.obj, "subjects");
        if (subjects == nullptr || !subjects->IsArray()) continue;
        for (JsonValue& s : subjects->GetArray()) {
          if (stringField(s, "kind") == "ServiceAccount" && stringField(s, "name") == "default") {
            setMember(s, "namespace", makeString(ns, alloc), alloc);
          }
        }
        continue;
      }
      WINDLASS_RETURN_IF_ERROR(visitField(r.obj, f.path, f.create, alloc, [&](JsonValue& v) {
        v = makeString(ns, alloc);
        return Status();
      }));
    }
    // Kustomize records the earlier id of every resource it visits, changed or
    // not; that makes each of them a candidate for name references.
    r.prevIds.push_back(before);
  }
  std::unordered_set<std::string> seen;
  seen.reserve(list.size());
  for (const Resource& r : list) {
    ResId id = r.curId();
    std::string key = id.gvk.group + '\x1f' + id.gvk.version + '\x1f' + id.gvk.kind + '\x1f' +
                      id.name + '\x1f' + id.effectiveNamespace();
    if (!seen.insert(std::move(key)).second) {
      return Status::invalidArgument(
          "namespace transformation produces ID conflict: " + id.describe() + " appears twice");
    }
  }
  return {};
}

Status applyNamePrefixSuffix(ResourceList& list, const std::string& prefix,
                             const std::string& suffix, const TransformerConfig& config,
                             JsonAllocator& alloc) {
  if (prefix.empty() && suffix.empty()) return {};
  for (Resource& r : list) {
    ResId before = r.curId();
    const std::string& kind = before.gvk.kind;
    if (kind == "CustomResourceDefinition" || kind == "APIService" || kind == "Namespace") continue;
    auto edit = [&](const std::vector<FieldSpec>& specs, const std::string& add, bool front) {
      return visitFieldSpecs(r.obj, specs, alloc, [&](JsonValue& v) {
        if (!v.IsString()) return Status();
        std::string s = front ? add + std::string(sv(v)) : std::string(sv(v)) + add;
        v = makeString(s, alloc);
        return Status();
      });
    };
    if (!prefix.empty()) {
      WINDLASS_RETURN_IF_ERROR(edit(config.namePrefix, prefix, true));
      r.prefixes.push_back(prefix);
    }
    if (!suffix.empty()) {
      WINDLASS_RETURN_IF_ERROR(edit(config.nameSuffix, suffix, false));
      r.suffixes.push_back(suffix);
    }
    if (r.curId().name != before.name) r.prevIds.push_back(before);
  }
  return {};
}

Status applyStringMap(ResourceList& list, const std::map<std::string, std::string>& pairs,
                      const std::vector<FieldSpec>& specs, JsonAllocator& alloc) {
  if (pairs.empty()) return {};
  for (Resource& r : list) {
    WINDLASS_RETURN_IF_ERROR(visitFieldSpecs(r.obj, specs, alloc, [&](JsonValue& v) {
      if (v.IsNull()) v.SetObject();
      if (!v.IsObject()) return Status();
      for (const auto& [k, val] : pairs) setMember(v, k, makeString(val, alloc), alloc);
      return Status();
    }));
  }
  return {};
}

ImageRef splitImage(std::string_view image) {
  std::string_view search = image;
  size_t slash = image.find('/');
  size_t base = 0;
  if (slash != std::string_view::npos && slash > 0) {
    search = image.substr(slash);
    base = slash;
  }
  size_t at = search.find('@');
  size_t colon = search.find(':');
  ImageRef r;
  if (at == std::string_view::npos && colon == std::string_view::npos) {
    r.name = image;
    return r;
  }
  if (at != std::string_view::npos && (colon == std::string_view::npos || at < colon)) {
    r.name = image.substr(0, base + at);
    r.digest = image.substr(base + at + 1);
    return r;
  }
  if (at != std::string_view::npos) {
    r.name = image.substr(0, base + colon);
    r.tag = image.substr(base + colon + 1, at - colon - 1);
    r.digest = image.substr(base + at + 1);
    return r;
  }
  r.name = image.substr(0, base + colon);
  r.tag = image.substr(base + colon + 1);
  return r;
}

namespace {

// Kustomize matches "^NAME(@sha256)?(:[a-zA-Z0-9_.{}-]*)?$".
bool imageMatches(std::string_view image, std::string_view name) {
  if (image.substr(0, name.size()) != name) return false;
  std::string_view rest = image.substr(name.size());
  if (rest.substr(0, 7) == "@sha256") rest.remove_prefix(7);
  if (rest.empty()) return true;
  if (rest[0] != ':') return false;
  for (char c : rest.substr(1)) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '{' ||
          c == '}' || c == '-')) {
      return false;
    }
  }
  return true;
}

void updateImage(JsonValue& v, const ImageEntry& e, JsonAllocator& alloc) {
  if (!v.IsString() || !imageMatches(sv(v), e.name)) return;
  ImageRef ref = splitImage(sv(v));
  if (!e.newName.empty()) ref.name = e.newName;
  if (!e.newTag.empty() && !e.digest.empty()) {
    ref.tag = e.newTag;
    ref.digest = e.digest;
  } else if (!e.newTag.empty()) {
    ref.tag = e.newTag;
    ref.digest.clear();
  } else if (!e.digest.empty()) {
    ref.tag.clear();
    ref.digest = e.digest;
  } else if (!e.tagSuffix.empty()) {
    ref.tag += e.tagSuffix;
  }
  std::string out = ref.name;
  if (!ref.tag.empty()) out += ":" + ref.tag;
  if (!ref.digest.empty()) out += "@" + ref.digest;
  v = makeString(out, alloc);
}

// Every "containers" and "initContainers" list anywhere in the object.
void collectContainerImages(JsonValue& node, std::vector<JsonValue*>& out) {
  if (node.IsObject()) {
    for (auto it = node.MemberBegin(); it != node.MemberEnd(); ++it) {
      std::string_view k(it->name.GetString(), it->name.GetStringLength());
      if ((k == "containers" || k == "initContainers") && it->value.IsArray()) {
        for (JsonValue& c : it->value.GetArray()) {
          if (JsonValue* img = findMember(c, "image")) out.push_back(img);
        }
      }
      collectContainerImages(it->value, out);
    }
  } else if (node.IsArray()) {
    for (JsonValue& e : node.GetArray()) collectContainerImages(e, out);
  }
}

}  // namespace

Status applyImages(ResourceList& list, const std::vector<ImageEntry>& images,
                   const std::vector<FieldSpec>& specs, JsonAllocator& alloc) {
  // Like Kustomize, each entry runs twice: over every containers/initContainers
  // list anywhere in the object, then over the configured field specs. Both
  // passes can touch the same field (a tagSuffix is then added twice). Image
  // fields are only ever updated, never created.
  std::vector<FieldSpec> existing = specs;
  for (FieldSpec& f : existing) f.create = false;
  for (const ImageEntry& e : images) {
    for (Resource& r : list) {
      std::vector<JsonValue*> fields;
      collectContainerImages(r.obj, fields);
      for (JsonValue* v : fields) updateImage(*v, e, alloc);
      WINDLASS_RETURN_IF_ERROR(visitFieldSpecs(r.obj, existing, alloc, [&](JsonValue& v) {
        updateImage(v, e, alloc);
        return Status();
      }));
    }
  }
  return {};
}

Status applyReplicas(ResourceList& list, const std::vector<ReplicaEntry>& replicas,
                     const std::vector<FieldSpec>& specs, JsonAllocator& alloc) {
  for (const ReplicaEntry& e : replicas) {
    bool found = false;
    for (Resource& r : list) {
      bool named = r.orgId.name == e.name || r.curId().name == e.name ||
                   std::any_of(r.prevIds.begin(), r.prevIds.end(),
                               [&](const ResId& id) { return id.name == e.name; });
      if (!named) continue;
      Gvk g = r.curId().gvk;
      for (const FieldSpec& f : specs) {
        if (!f.selects(g)) continue;
        found = true;
        WINDLASS_RETURN_IF_ERROR(visitField(r.obj, f.path, f.create, alloc, [&](JsonValue& v) {
          v.SetInt64(e.count);
          return Status();
        }));
      }
    }
    if (!found) {
      return Status::invalidArgument("replicas: resource with name " + e.name +
                                     " does not match a config with the following GVK: "
                                     "Deployment, ReplicationController, ReplicaSet, StatefulSet");
    }
  }
  return {};
}

}  // namespace windlass::overlays
