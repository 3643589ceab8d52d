#include "overlays/references.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "overlays/yaml.h"

namespace windlass::overlays {

namespace {

std::string_view sv(const JsonValue& v) { return {v.GetString(), v.GetStringLength()}; }

bool gvkSelects(const Gvk& sel, const Gvk& g) {
  return (sel.group.empty() || sel.group == g.group) &&
         (sel.version.empty() || sel.version == g.version) &&
         (sel.kind.empty() || sel.kind == g.kind);
}

bool selectedByAnyGvk(const Resource& r, const Gvk& sel) {
  if (gvkSelects(sel, r.orgId.gvk) || gvkSelects(sel, r.curId().gvk)) return true;
  return std::any_of(r.prevIds.begin(), r.prevIds.end(),
                     [&](const ResId& id) { return gvkSelects(sel, id.gvk); });
}

// Does the shorter list equal the end of the longer? An empty list only
// matches an empty list (Kustomize's SameEndingSubarray).
bool sameEnding(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const auto& shorter = a.size() <= b.size() ? a : b;
  const auto& longer = a.size() <= b.size() ? b : a;
  if (shorter.empty()) return longer.empty();
  return std::equal(shorter.rbegin(), shorter.rend(), longer.rbegin());
}

bool affixesEqual(const Resource& a, const Resource& b) {
  return sameEnding(a.prefixes, b.prefixes) && sameEnding(a.suffixes, b.suffixes);
}

template <class Pred>
std::vector<const Resource*> sieve(const std::vector<const Resource*>& in, Pred pred) {
  std::vector<const Resource*> out;
  for (const Resource* r : in) {
    if (pred(*r)) out.push_back(r);
  }
  return out;
}

// The resources one kind of reference can point at: renamed resources of that
// kind, indexed by every earlier name.
struct Candidates {
  std::unordered_map<std::string, std::vector<const Resource*>> byPrevName;
  std::unordered_set<std::string> orgNamespaces;  // effective original namespaces
};

class NameReferenceFixer {
 public:
  NameReferenceFixer(ResourceList& list, JsonAllocator& alloc) : list_(list), alloc_(alloc) {}

  Status run(const TransformerConfig& config) {
    for (const NameBackReference& br : config.nameReference) {
      Candidates c;
      for (const Resource& r : list_) {
        if (r.prevIds.empty() || !selectedByAnyGvk(r, br.gvk)) continue;
        std::unordered_set<std::string_view> names;
        for (const ResId& id : r.prevIds) {
          if (names.insert(id.name).second) c.byPrevName[id.name].push_back(&r);
        }
        c.orgNamespaces.insert(r.orgId.effectiveNamespace());
      }
      if (c.byPrevName.empty()) continue;
      for (Resource& referrer : list_) {
        Gvk g = referrer.curId().gvk;
        for (const FieldSpec& f : br.referrers) {
          if (!f.selects(g)) continue;
          if (!kindMatches(referrer.obj, f, br.gvk.kind)) continue;
          WINDLASS_RETURN_IF_ERROR(visitField(referrer.obj, f.path, false, alloc_,
                                              [&](JsonValue& v) { return fix(v, referrer, c); }));
        }
      }
    }
    return {};
  }

 private:
  // roleRef names its kind next to the name.
  static bool kindMatches(const JsonValue& obj, const FieldSpec& f, const std::string& kind) {
    if (f.path.size() != 2 || f.path[1] != "name") return true;
    if (f.path[0] != "roleRef") return true;
    const JsonValue* ref = findMember(obj, f.path[0]);
    if (ref == nullptr) return true;
    std::string_view k = stringField(*ref, "kind");
    return k.empty() || k == kind;
  }

  // Kustomize's SubsetThatCouldBeReferencedByResource: a namespaced referrer
  // sees cluster-scoped resources, those in its own namespace and, for a
  // RoleBinding, those in a namespace one of its ServiceAccount subjects names.
  static std::vector<const Resource*> reachable(const std::vector<const Resource*>& in,
                                                const Resource& referrer) {
    ResId ref = referrer.curId();
    if (ref.isClusterScoped()) return in;
    std::unordered_set<std::string> subjectNamespaces;
    if (ref.gvk.kind == "RoleBinding") {
      if (const JsonValue* subjects = findMember(referrer.obj, "subjects");
          subjects != nullptr && subjects->IsArray()) {
        for (const JsonValue& s : subjects->GetArray()) {
          const JsonValue* ns = findMember(s, "namespace");
          if (ns != nullptr && ns->IsString() && stringField(s, "kind") == "ServiceAccount") {
            subjectNamespaces.emplace(sv(*ns));
          }
        }
      }
    }
    std::string refNs = ref.effectiveNamespace();
    return sieve(in, [&](const Resource& r) {
      ResId id = r.curId();
      return id.isClusterScoped() || id.effectiveNamespace() == refNs ||
             subjectNamespaces.count(id.ns) > 0;
    });
  }

  static const std::vector<const Resource*>& named(const Candidates& c, const std::string& name) {
    static const std::vector<const Resource*> kNone;
    auto it = c.byPrevName.find(name);
    return it == c.byPrevName.end() ? kNone : it->second;
  }

  // Kustomize's selectReferral over the candidates that once had `oldName`:
  // narrow by namespace and name affixes until one is left.
  Result<const Resource*> select(const std::string& oldName, const Resource& referrer,
                                 std::vector<const Resource*> c, bool sameNameOnly) {
    ResId ref = referrer.curId();
    if (!ref.isClusterScoped()) {
      std::string ns = ref.effectiveNamespace();
      c = sieve(c, [&](const Resource& r) {
        ResId id = r.curId();
        return id.isClusterScoped() || id.gvk.kind == "ServiceAccount" ||
               id.effectiveNamespace() == ns;
      });
    }
    if (c.size() == 1) return c[0];
    c = sieve(c, [&](const Resource& r) { return affixesEqual(r, referrer); });
    if (c.size() == 1) return c[0];
    if (c.empty()) return static_cast<const Resource*>(nullptr);
    ResId first = c[0]->curId();
    if (std::all_of(c.begin(), c.end(), [&](const Resource* r) {
          ResId id = r->curId();
          return id.name == first.name && (sameNameOnly || id.ns == first.ns);
        })) {
      return c[0];
    }
    std::string names;
    for (const Resource* r : c) names += " " + r->curId().describe();
    return Status::invalidArgument(referrer.curId().describe() + ": reference to \"" + oldName +
                                   "\" is ambiguous; it could mean:" + names);
  }

  Status fixString(JsonValue& v, const Resource& referrer, const Candidates& c) {
    std::string oldName(sv(v));
    std::vector<const Resource*> hits = reachable(named(c, oldName), referrer);
    if (hits.empty()) return {};
    auto hit = select(oldName, referrer, hits, true);
    if (!hit) return hit.error();
    if (*hit != nullptr) v = makeString((*hit)->curId().name, alloc_);
    return {};
  }

  Status fix(JsonValue& v, const Resource& referrer, const Candidates& c) {
    if (v.IsString()) return fixString(v, referrer, c);
    if (v.IsArray()) {
      for (JsonValue& e : v.GetArray()) {
        if (e.IsString()) {
          WINDLASS_RETURN_IF_ERROR(fixString(e, referrer, c));
        } else if (e.IsObject()) {
          WINDLASS_RETURN_IF_ERROR(fixMap(e, referrer, c));
        }
      }
      return {};
    }
    if (v.IsObject()) return fixMap(v, referrer, c);
    return {};
  }

  // A {name, namespace} reference, such as a RoleBinding subject. Like
  // Kustomize, a subject's kind is not checked: a User named like a renamed
  // ServiceAccount follows it too.
  Status fixMap(JsonValue& m, const Resource& referrer, const Candidates& c) {
    JsonValue* name = findMember(m, "name");
    if (name == nullptr || !name->IsString()) return {};
    std::string oldName(sv(*name));
    std::vector<const Resource*> hits = reachable(named(c, oldName), referrer);
    if (hits.empty()) return {};
    JsonValue* ns = findMember(m, "namespace");
    if (ns != nullptr && ns->IsString()) {
      // Candidates whose original namespace is the one named, else whose current one is.
      std::string want(sv(*ns));
      bool byOrg = c.orgNamespaces.count(want) > 0;
      hits = sieve(hits, [&](const Resource& r) {
        return byOrg ? r.orgId.effectiveNamespace() == want
                     : r.curId().effectiveNamespace() == want;
      });
    }
    auto hit = select(oldName, referrer, hits, false);
    if (!hit) return hit.error();
    if (*hit == nullptr) return {};
    ResId cur = (*hit)->curId();
    *name = makeString(cur.name, alloc_);
    if (!cur.ns.empty()) setMember(m, "namespace", makeString(cur.ns, alloc_), alloc_);
    return {};
  }

  ResourceList& list_;
  JsonAllocator& alloc_;
};

}  // namespace

Status fixNameReferences(ResourceList& list, const TransformerConfig& config,
                         JsonAllocator& alloc) {
  return NameReferenceFixer(list, alloc).run(config);
}

std::vector<std::string> splitDottedPath(std::string_view path) {
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '\\' && depth == 0 && i + 1 < path.size() && path[i + 1] == '.') {
      cur += '.';  // "example\.com": a dot inside a key
      ++i;
      continue;
    }
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == '.' && depth == 0) {
      parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(std::move(cur));
  std::erase_if(parts, [](const std::string& p) { return p.empty(); });
  return parts;
}

namespace {

// Splits one dotted-path part into steps: "containers[name=web]" →
// "containers", "[name=web]"; "[0]" and "*" stay whole.
std::vector<std::string> pathSteps(std::string part) {
  std::vector<std::string> steps;
  size_t br = part.find('[');
  if (br != std::string::npos && br > 0) {
    steps.push_back(part.substr(0, br));
    part = part.substr(br);
  }
  while (!part.empty()) {
    size_t close = part[0] == '[' ? part.find(']') : std::string::npos;
    if (close == std::string::npos) {
      steps.push_back(part);
      break;
    }
    steps.push_back(part.substr(0, close + 1));
    part = part.substr(close + 1);
  }
  return steps;
}

bool parseIndex(const std::string& s, size_t size, size_t* out) {
  char* end = nullptr;
  long idx = std::strtol(s.c_str(), &end, 10);
  if (end == s.c_str() || *end != '\0' || idx < 0 || static_cast<size_t>(idx) >= size) return false;
  *out = static_cast<size_t>(idx);
  return true;
}

std::string scalarText(const JsonValue& v) {
  if (v.IsString()) return std::string(sv(v));
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

// The YAML tag Kustomize resolves a scalar's text to (go-yaml v3, plain style).
std::string_view resolvedTag(const JsonValue& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "bool";
  if (v.IsInt64() || v.IsUint64()) return "int";
  if (v.IsNumber()) return "float";
  return "str";
}

// Puts a replacement's value into a target field as Kustomize does: a scalar
// target keeps its type and takes the source's text, which must read as that
// type (a number into a string gives its text; "4" into an int field gives 4;
// "yes" into an int field is an error); any other target takes the value whole.
Status setReplacedValue(JsonValue& field, const JsonValue& value, JsonAllocator& alloc) {
  bool scalarTarget = field.IsString() || field.IsNumber() || field.IsBool();
  if (!scalarTarget || value.IsObject() || value.IsArray()) {
    field = JsonValue(value, alloc);
    return {};
  }
  std::string text = value.IsNull() ? std::string("null") : scalarText(value);
  if (field.IsString()) {
    field = makeString(text, alloc);
    return {};
  }
  JsonValue typed;
  if (value.IsString()) {
    auto docs = parseYaml(text, "replacement value", YamlDialect::kResource, alloc);
    if (docs && docs->size() == 1 && !(*docs)[0].IsObject() && !(*docs)[0].IsArray()) {
      typed = std::move((*docs)[0]);
    } else if (docs && !docs->empty()) {
      typed = makeString(text, alloc);
    }  // no document: a null
  } else {
    typed = JsonValue(value, alloc);
  }
  std::string_view want = field.IsBool()                        ? "bool"
                          : field.IsInt64() || field.IsUint64() ? "int"
                                                                : "float";
  std::string_view got = resolvedTag(typed);
  if (got == want || (want == "float" && got == "int")) {
    field = std::move(typed);
    return {};
  }
  return Status::invalidArgument("cannot decode !!" + std::string(got) + " `" + text + "` as a !!" +
                                 std::string(want));
}

// Collects every field a dotted path ("spec.containers.[name=web].image",
// "a.b[0].c", "spec.containers.*.image") reaches. With create, missing map
// fields on the way are made (the last as null).
void collectPath(JsonValue& node, const std::vector<std::string>& steps, size_t i, bool create,
                 JsonAllocator& alloc, std::vector<JsonValue*>& out);

JsonValue freshStep(const std::vector<std::string>& steps, size_t i);

// An index step into a list; with create, the index just past the end appends.
void collectIndex(JsonValue& list, const std::string& index, const std::vector<std::string>& steps,
                  size_t i, bool create, JsonAllocator& alloc, std::vector<JsonValue*>& out) {
  size_t idx = 0;
  if (parseIndex(index, list.Size(), &idx)) {
    collectPath(list[static_cast<rapidjson::SizeType>(idx)], steps, i + 1, create, alloc, out);
    return;
  }
  if (create && index == std::to_string(list.Size())) {
    list.PushBack(freshStep(steps, i), alloc);
    collectPath(list[list.Size() - 1], steps, i + 1, create, alloc, out);
  }
}

// Does a step pick list elements: an index ("0", "[0]") or "[key=value]"?
bool listStep(const std::string& step) {
  std::string_view s = step;
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
    s = s.substr(1, s.size() - 2);
    if (s.find('=') != std::string_view::npos) return true;
  }
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// What a replacement with options.create makes for a missing step `i`: nothing
// yet (null) for the last, a list before a list step, else a map.
JsonValue freshStep(const std::vector<std::string>& steps, size_t i) {
  if (i + 1 >= steps.size()) return JsonValue(rapidjson::kNullType);
  return JsonValue(listStep(steps[i + 1]) ? rapidjson::kArrayType : rapidjson::kObjectType);
}

// A "[key=value]" element made for options.create: the value typed as YAML
// reads it (containerPort=80 makes a number).
JsonValue keyedElement(const std::string& key, const std::string& value, JsonAllocator& alloc) {
  JsonValue v = makeString(value, alloc);
  auto docs = parseYaml(value, "replacement path", YamlDialect::kResource, alloc);
  if (docs && docs->size() == 1 && !(*docs)[0].IsObject() && !(*docs)[0].IsArray()) {
    v = std::move((*docs)[0]);
  }
  JsonValue e(rapidjson::kObjectType);
  e.AddMember(makeString(key, alloc), v, alloc);
  return e;
}

void collectPath(JsonValue& node, const std::vector<std::string>& steps, size_t i, bool create,
                 JsonAllocator& alloc, std::vector<JsonValue*>& out) {
  if (i == steps.size()) {
    out.push_back(&node);
    return;
  }
  const std::string& step = steps[i];
  if (step == "*") {
    if (node.IsArray()) {
      for (JsonValue& e : node.GetArray()) collectPath(e, steps, i + 1, create, alloc, out);
    } else if (node.IsObject()) {
      for (auto it = node.MemberBegin(); it != node.MemberEnd(); ++it) {
        collectPath(it->value, steps, i + 1, create, alloc, out);
      }
    }
    return;
  }
  if (step.size() >= 2 && step.front() == '[' && step.back() == ']') {
    std::string inner = step.substr(1, step.size() - 2);
    size_t eq = inner.find('=');
    if (node.IsNull() && create && eq != std::string::npos && eq > 0) node.SetArray();
    if (!node.IsArray()) {
      // "[cert-manager.io/inject-ca-from]" names a map key holding dots.
      if (eq != std::string::npos || !(node.IsObject() || (node.IsNull() && create))) return;
      std::vector<std::string> rest(steps.begin() + static_cast<long>(i) + 1, steps.end());
      rest.insert(rest.begin(), inner);
      collectPath(node, rest, 0, create, alloc, out);
      return;
    }
    if (eq == std::string::npos) {
      collectIndex(node, inner, steps, i, create, alloc, out);
      return;
    }
    std::string key = inner.substr(0, eq), want = inner.substr(eq + 1);
    bool found = false;
    for (JsonValue& e : node.GetArray()) {
      // "[=value]" picks the scalar elements equal to value.
      bool hit = key.empty()
                     ? (!e.IsObject() && !e.IsArray() && !e.IsNull() && scalarText(e) == want)
                     : stringField(e, key) == want;
      if (hit) {
        found = true;
        collectPath(e, steps, i + 1, create, alloc, out);
      }
    }
    if (!found && create && !key.empty()) {
      node.PushBack(keyedElement(key, want, alloc), alloc);
      collectPath(node[node.Size() - 1], steps, i + 1, create, alloc, out);
    }
    return;
  }
  if (node.IsArray()) {
    collectIndex(node, step, steps, i, create, alloc, out);
    return;
  }
  if (node.IsNull() && create) node.SetObject();
  if (!node.IsObject()) return;
  JsonValue* next = findMember(node, step);
  if (next == nullptr) {
    if (!create) return;
    node.AddMember(makeString(step, alloc), freshStep(steps, i), alloc);
    next = &(node.MemberEnd() - 1)->value;
  }
  collectPath(*next, steps, i + 1, create, alloc, out);
}

std::vector<JsonValue*> lookupAll(JsonValue& root, std::string_view path, bool create,
                                  JsonAllocator& alloc) {
  std::vector<std::string> steps;
  for (std::string& part : splitDottedPath(path)) {
    for (std::string& st : pathSteps(std::move(part))) steps.push_back(std::move(st));
  }
  std::vector<JsonValue*> out;
  collectPath(root, steps, 0, create, alloc, out);
  return out;
}

}  // namespace

Result<std::vector<Var>> parseVars(const JsonValue& list, std::string_view where) {
  std::vector<Var> out;
  if (!list.IsArray()) return out;
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    const JsonValue& e = list[i];
    std::string w = std::string(where) + "[" + std::to_string(i) + "]";
    if (!e.IsObject()) return Status::invalidArgument(w + ": expected a map");
    Var v;
    v.name = stringField(e, "name");
    if (v.name.empty()) return Status::invalidArgument(w + ": missing \"name\"");
    const JsonValue* ref = findMember(e, "objref");
    if (ref == nullptr || !ref->IsObject())
      return Status::invalidArgument(w + ": missing \"objref\"");
    v.gvk = parseApiVersion(stringField(*ref, "apiVersion"), stringField(*ref, "kind"));
    if (auto g = stringField(*ref, "group"); !g.empty()) v.gvk.group = g;
    if (auto ver = stringField(*ref, "version"); !ver.empty()) v.gvk.version = ver;
    v.objName = stringField(*ref, "name");
    v.objNamespace = stringField(*ref, "namespace");
    if (const JsonValue* fr = findMember(e, "fieldref"); fr != nullptr && fr->IsObject()) {
      // Go's JSON decoding matches field names case-insensitively: fieldpath or fieldPath.
      for (auto it = fr->MemberBegin(); it != fr->MemberEnd(); ++it) {
        std::string key(sv(it->name));
        std::transform(key.begin(), key.end(), key.begin(), ::tolower);
        if (key == "fieldpath" && it->value.IsString() && it->value.GetStringLength() > 0) {
          v.fieldPath = sv(it->value);
        }
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

Status bindVars(ResourceList& list, const std::vector<Var>& vars) {
  for (const Var& v : vars) {
    Resource* match = nullptr;
    for (Resource& r : list) {
      auto named = [&](const ResId& id) {
        return id.name == v.objName && gvkSelects(v.gvk, id.gvk) &&
               (v.objNamespace.empty() || id.effectiveNamespace() == v.objNamespace);
      };
      if (!named(r.orgId) && !named(r.curId()) &&
          std::none_of(r.prevIds.begin(), r.prevIds.end(), named)) {
        continue;
      }
      if (match != nullptr) {
        return Status::invalidArgument("var '" + v.name + "': objref " + v.gvk.kind + " " +
                                       v.objName + " matches more than one resource");
      }
      match = &r;
    }
    if (match != nullptr) match->refVarNames.push_back(v.name);
  }
  return {};
}

Status resolveVars(ResourceList& list, const std::vector<Var>& vars,
                   const TransformerConfig& config, JsonAllocator& alloc) {
  if (vars.empty()) return {};
  std::vector<std::pair<std::string, std::string>> values;
  for (const Var& v : vars) {
    const Resource* found = nullptr;
    for (const Resource& r : list) {
      if (std::find(r.refVarNames.begin(), r.refVarNames.end(), v.name) != r.refVarNames.end()) {
        found = &r;
        break;
      }
    }
    if (found == nullptr) {
      return Status::invalidArgument("var '" + v.name +
                                     "' cannot be mapped to a field in the set of known resources");
    }
    JsonValue copy(found->obj, alloc);
    std::vector<JsonValue*> hits = lookupAll(copy, v.fieldPath, false, alloc);
    const JsonValue* val = hits.empty() ? nullptr : hits[0];
    if (val == nullptr) {
      return Status::invalidArgument("var \"" + v.name + "\": field " + v.fieldPath +
                                     " not found in " + found->curId().describe());
    }
    values.emplace_back(v.name, scalarText(*val));
  }
  auto expand = [&](std::string_view in) {
    std::string out;
    for (size_t i = 0; i < in.size();) {
      if (in.compare(i, 2, "$(") == 0) {
        size_t close = in.find(')', i + 2);
        if (close != std::string_view::npos) {
          std::string_view name = in.substr(i + 2, close - i - 2);
          auto it = std::find_if(values.begin(), values.end(),
                                 [&](const auto& p) { return p.first == name; });
          if (it != values.end()) {
            out += it->second;
            i = close + 1;
            continue;
          }
        }
      }
      if (in.compare(i, 2, "$$") == 0) {
        out += "$";
        i += 2;
        continue;
      }
      out += in[i++];
    }
    return out;
  };
  std::function<void(JsonValue&)> walk = [&](JsonValue& v) {
    if (v.IsString()) {
      if (std::string_view(v.GetString(), v.GetStringLength()).find("$(") !=
          std::string_view::npos) {
        v = makeString(expand(sv(v)), alloc);
      }
    } else if (v.IsArray()) {
      for (JsonValue& e : v.GetArray()) walk(e);
    } else if (v.IsObject()) {
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) walk(it->value);
    }
  };
  for (Resource& r : list) {
    WINDLASS_RETURN_IF_ERROR(visitFieldSpecs(r.obj, config.varReference, alloc, [&](JsonValue& v) {
      walk(v);
      return Status();
    }));
  }
  return {};
}

namespace {

Status readSelector(const JsonValue& v, std::string_view where, Selector& s,
                    std::string* fieldPath) {
  if (!v.IsObject()) return Status::invalidArgument(std::string(where) + ": expected a map");
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    std::string_view k(it->name.GetString(), it->name.GetStringLength());
    if (k == "options") continue;
    if (!it->value.IsString()) {
      return Status::invalidArgument(std::string(where) + "." + std::string(k) +
                                     ": expected a string");
    }
    std::string val(sv(it->value));
    if (k == "group")
      s.group = val;
    else if (k == "version")
      s.version = val;
    else if (k == "kind")
      s.kind = val;
    else if (k == "name")
      s.name = val;
    else if (k == "namespace")
      s.ns = val;
    else if (k == "labelSelector")
      s.labelSelector = val;
    else if (k == "annotationSelector")
      s.annotationSelector = val;
    else if (k == "fieldPath" && fieldPath != nullptr)
      *fieldPath = val;
    else {
      return Status::invalidArgument(std::string(where) + ": unknown field \"" + std::string(k) +
                                     "\"");
    }
  }
  return {};
}

struct ReplaceOptions {
  std::string delimiter;
  long index = 0;
  bool create = false;
};

ReplaceOptions readOptions(const JsonValue& holder) {
  ReplaceOptions o;
  const JsonValue* opt = findMember(holder, "options");
  if (opt == nullptr || !opt->IsObject()) return o;
  o.delimiter = stringField(*opt, "delimiter");
  if (const JsonValue* i = findMember(*opt, "index"); i != nullptr && i->IsInt64())
    o.index = i->GetInt64();
  if (const JsonValue* c = findMember(*opt, "create"); c != nullptr && c->IsBool())
    o.create = c->GetBool();
  return o;
}

std::vector<std::string> split(const std::string& s, const std::string& delim) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t at = s.find(delim, pos);
    if (at == std::string::npos) {
      out.push_back(s.substr(pos));
      return out;
    }
    out.push_back(s.substr(pos, at - pos));
    pos = at + delim.size();
  }
}

// Selects resources by the Kustomize replacement rules (exact names, not regexes).
std::vector<size_t> selectExact(const ResourceList& list, const Selector& s) {
  std::vector<size_t> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const Resource& r = list[i];
    ResId cur = r.curId();
    if (!s.name.empty() && s.name != cur.name && s.name != r.orgId.name) continue;
    if (!s.ns.empty() && s.ns != cur.ns && s.ns != r.orgId.ns) continue;
    if (!gvkSelects(Gvk{s.group, s.version, s.kind}, cur.gvk)) continue;
    static const JsonValue kEmpty(rapidjson::kObjectType);
    const JsonValue* md = findMember(r.obj, "metadata");
    if (!s.labelSelector.empty()) {
      const JsonValue* l = md ? findMember(*md, "labels") : nullptr;
      auto m = matchesLabelSelector(l ? *l : kEmpty, s.labelSelector);
      if (!m || !*m) continue;
    }
    if (!s.annotationSelector.empty()) {
      const JsonValue* a = md ? findMember(*md, "annotations") : nullptr;
      auto m = matchesLabelSelector(a ? *a : kEmpty, s.annotationSelector);
      if (!m || !*m) continue;
    }
    out.push_back(i);
  }
  return out;
}

}  // namespace

Status applyReplacement(ResourceList& list, const JsonValue& rep, std::string_view where,
                        JsonAllocator& alloc) {
  if (!rep.IsObject()) return Status::invalidArgument(std::string(where) + ": expected a map");
  const JsonValue* src = findMember(rep, "source");
  if (src == nullptr) return Status::invalidArgument(std::string(where) + ": missing \"source\"");
  Selector sel;
  std::string fieldPath = "metadata.name";
  WINDLASS_RETURN_IF_ERROR(readSelector(*src, std::string(where) + ".source", sel, &fieldPath));
  std::vector<size_t> hits = selectExact(list, sel);
  std::string srcDesc = sel.kind + " " + sel.name;
  if (hits.empty()) {
    return Status::invalidArgument(std::string(where) + ": nothing selected by source " + srcDesc);
  }
  if (hits.size() > 1) {
    return Status::invalidArgument(std::string(where) + ": multiple matches for source " + srcDesc);
  }
  JsonValue srcCopy(list[hits[0]].obj, alloc);
  std::vector<JsonValue*> srcHits = lookupAll(srcCopy, fieldPath, false, alloc);
  if (srcHits.size() != 1) {
    return Status::invalidArgument(std::string(where) + ": source field " + fieldPath +
                                   " not found in " + list[hits[0]].curId().describe());
  }
  JsonValue value(*srcHits[0], alloc);
  ReplaceOptions srcOpt = readOptions(*src);
  if (!srcOpt.delimiter.empty()) {
    if (!value.IsString()) {
      return Status::invalidArgument(std::string(where) +
                                     ": delimiter needs a string source value");
    }
    auto parts = split(std::string(sv(value)), srcOpt.delimiter);
    if (srcOpt.index < 0 || static_cast<size_t>(srcOpt.index) >= parts.size()) {
      return Status::invalidArgument(std::string(where) + ": options.index " +
                                     std::to_string(srcOpt.index) + " is out of range");
    }
    value = makeString(parts[static_cast<size_t>(srcOpt.index)], alloc);
  }
  const JsonValue* targets = findMember(rep, "targets");
  if (targets == nullptr || !targets->IsArray()) {
    return Status::invalidArgument(std::string(where) + ": missing \"targets\"");
  }
  for (rapidjson::SizeType t = 0; t < targets->Size(); ++t) {
    const JsonValue& target = (*targets)[t];
    std::string tw = std::string(where) + ".targets[" + std::to_string(t) + "]";
    const JsonValue* select = findMember(target, "select");
    if (select == nullptr) return Status::invalidArgument(tw + ": missing \"select\"");
    Selector ts;
    WINDLASS_RETURN_IF_ERROR(readSelector(*select, tw + ".select", ts, nullptr));
    std::vector<size_t> chosen = selectExact(list, ts);
    if (const JsonValue* rejects = findMember(target, "reject");
        rejects != nullptr && rejects->IsArray()) {
      for (const JsonValue& rj : rejects->GetArray()) {
        Selector rs;
        WINDLASS_RETURN_IF_ERROR(readSelector(rj, tw + ".reject", rs, nullptr));
        std::vector<size_t> out = selectExact(list, rs);
        std::erase_if(chosen,
                      [&](size_t i) { return std::find(out.begin(), out.end(), i) != out.end(); });
      }
    }
    ReplaceOptions opt = readOptions(target);
    const JsonValue* paths = findMember(target, "fieldPaths");
    std::vector<std::string> fieldPaths;
    if (paths != nullptr && paths->IsArray()) {
      for (const JsonValue& p : paths->GetArray()) {
        if (p.IsString()) fieldPaths.emplace_back(sv(p));
      }
    }
    if (fieldPaths.empty()) fieldPaths.push_back("metadata.name");
    for (size_t i : chosen) {
      for (const std::string& fp : fieldPaths) {
        std::vector<JsonValue*> fields = lookupAll(list[i].obj, fp, opt.create, alloc);
        if (fields.empty()) {
          return Status::invalidArgument(tw + ": " + list[i].curId().describe() + ": unable to " +
                                         (opt.create ? "find or create" : "find") + " field \"" +
                                         fp + "\" in replacement target");
        }
        for (JsonValue* field : fields) {
          if (!opt.delimiter.empty()) {
            std::string cur = field->IsString() ? std::string(sv(*field)) : std::string();
            auto parts = split(cur, opt.delimiter);
            std::string v = scalarText(value);
            if (opt.index >= static_cast<long>(parts.size())) {
              parts.push_back(v);
            } else if (opt.index < 0) {
              parts.insert(parts.begin(), v);
            } else {
              parts[static_cast<size_t>(opt.index)] = v;
            }
            std::string joined;
            for (size_t p = 0; p < parts.size(); ++p) {
              if (p > 0) joined += opt.delimiter;
              joined += parts[p];
            }
            *field = makeString(joined, alloc);
          } else {
            WINDLASS_RETURN_IF_ERROR(
                setReplacedValue(*field, value, alloc).withContext(tw + ": " + fp));
          }
        }
      }
    }
  }
  return {};
}

}  // namespace windlass::overlays
