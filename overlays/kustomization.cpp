#include "overlays/kustomization.h"

#include <algorithm>
#include <array>

#include "overlays/resource.h"
#include "overlays/yaml.h"

namespace windlass::overlays {

namespace {

constexpr size_t kMaxKustomizationBytes = 4 << 20;

// Reads typed fields of one map and names the field in every message.
class FieldReader {
 public:
  FieldReader(std::string where) : where_(std::move(where)) {}

  Status fail(std::string_view field, std::string_view what) const {
    return Status::invalidArgument(where_ + ": field \"" + std::string(field) +
                                   "\": " + std::string(what));
  }

  static const char* typeName(const JsonValue& v) {
    if (v.IsNull()) return "null";
    if (v.IsBool()) return "bool";
    if (v.IsNumber()) return "number";
    if (v.IsString()) return "string";
    if (v.IsArray()) return "list";
    return "map";
  }

  Status string(std::string_view field, const JsonValue& v, std::string& out) const {
    if (v.IsNull()) return {};
    if (!v.IsString()) {
      return fail(field, std::string("expected a string, found a ") + typeName(v) +
                             " (cannot unmarshal " + typeName(v) + " into a string)");
    }
    out.assign(v.GetString(), v.GetStringLength());
    return {};
  }

  Status boolean(std::string_view field, const JsonValue& v, bool& out) const {
    if (v.IsNull()) return {};
    if (!v.IsBool()) return fail(field, std::string("expected a bool, found a ") + typeName(v));
    out = v.GetBool();
    return {};
  }

  Status optBool(std::string_view field, const JsonValue& v, std::optional<bool>& out) const {
    if (v.IsNull()) return {};
    bool b = false;
    WINDLASS_RETURN_IF_ERROR(boolean(field, v, b));
    out = b;
    return {};
  }

  Status strings(std::string_view field, const JsonValue& v, std::vector<std::string>& out) const {
    if (v.IsNull()) return {};
    if (!v.IsArray()) {
      return fail(field, std::string("expected a list of strings, found a ") + typeName(v) +
                             " (cannot unmarshal " + typeName(v) + " into []string)");
    }
    for (const JsonValue& e : v.GetArray()) {
      if (!e.IsString()) {
        return fail(field, std::string("expected a list of strings, found a ") + typeName(e) +
                               " in it (cannot unmarshal " + typeName(e) + " into string)");
      }
      out.emplace_back(e.GetString(), e.GetStringLength());
    }
    return {};
  }

  Status stringMap(std::string_view field, const JsonValue& v,
                   std::map<std::string, std::string>& out) const {
    if (v.IsNull()) return {};
    if (!v.IsObject()) return fail(field, std::string("expected a map, found a ") + typeName(v));
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      std::string key(it->name.GetString(), it->name.GetStringLength());
      if (!it->value.IsString()) {
        return fail(std::string(field) + "." + key,
                    std::string("expected a string, found a ") + typeName(it->value) +
                        " (cannot unmarshal " + typeName(it->value) +
                        " into Go struct field of type string)");
      }
      out[key] = std::string(it->value.GetString(), it->value.GetStringLength());
    }
    return {};
  }

  Status map(std::string_view field, const JsonValue& v) const {
    if (!v.IsObject()) return fail(field, std::string("expected a map, found a ") + typeName(v));
    return {};
  }

  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

template <size_t N>
bool known(std::string_view key, const std::array<std::string_view, N>& names) {
  return std::find(names.begin(), names.end(), key) != names.end();
}

Status checkKeys(const JsonValue& m, const FieldReader& r, std::string_view field,
                 std::initializer_list<std::string_view> names) {
  for (auto it = m.MemberBegin(); it != m.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      return r.fail(field, "unknown field \"" + std::string(key) + "\"");
    }
  }
  return {};
}

Status readSelector(const JsonValue& v, const FieldReader& r, std::string_view field, Selector& s) {
  if (v.IsNull()) return {};
  WINDLASS_RETURN_IF_ERROR(r.map(field, v));
  WINDLASS_RETURN_IF_ERROR(checkKeys(
      v, r, field,
      {"group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"}));
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    std::string sub = std::string(field) + "." + std::string(key);
    std::string* out = key == "group"           ? &s.group
                       : key == "version"       ? &s.version
                       : key == "kind"          ? &s.kind
                       : key == "name"          ? &s.name
                       : key == "namespace"     ? &s.ns
                       : key == "labelSelector" ? &s.labelSelector
                                                : &s.annotationSelector;
    WINDLASS_RETURN_IF_ERROR(r.string(sub, it->value, *out));
  }
  return {};
}

Status readGeneratorOptions(const JsonValue& v, const FieldReader& r, std::string_view field,
                            GeneratorOptions& o) {
  if (v.IsNull()) return {};
  WINDLASS_RETURN_IF_ERROR(r.map(field, v));
  WINDLASS_RETURN_IF_ERROR(
      checkKeys(v, r, field, {"labels", "annotations", "disableNameSuffixHash", "immutable"}));
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    std::string sub = std::string(field) + "." + std::string(key);
    if (key == "labels") WINDLASS_RETURN_IF_ERROR(r.stringMap(sub, it->value, o.labels));
    if (key == "annotations") WINDLASS_RETURN_IF_ERROR(r.stringMap(sub, it->value, o.annotations));
    if (key == "disableNameSuffixHash") {
      WINDLASS_RETURN_IF_ERROR(r.optBool(sub, it->value, o.disableNameSuffixHash));
    }
    if (key == "immutable") WINDLASS_RETURN_IF_ERROR(r.optBool(sub, it->value, o.immutable));
  }
  return {};
}

Status readGenerators(const JsonValue& v, const FieldReader& r, std::string_view field, bool secret,
                      std::vector<GeneratorEntry>& out) {
  if (v.IsNull()) return {};
  if (!v.IsArray()) return r.fail(field, "expected a list");
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    std::string f = std::string(field) + "[" + std::to_string(i) + "]";
    const JsonValue& e = v[i];
    WINDLASS_RETURN_IF_ERROR(r.map(f, e));
    WINDLASS_RETURN_IF_ERROR(checkKeys(e, r, f,
                                       {"name", "namespace", "behavior", "literals", "files",
                                        "envs", "env", "options", "type", "kvSources"}));
    GeneratorEntry g;
    g.secret = secret;
    for (auto it = e.MemberBegin(); it != e.MemberEnd(); ++it) {
      std::string_view key(it->name.GetString(), it->name.GetStringLength());
      std::string sub = f + "." + std::string(key);
      const JsonValue& val = it->value;
      if (key == "name")
        WINDLASS_RETURN_IF_ERROR(r.string(sub, val, g.name));
      else if (key == "namespace")
        WINDLASS_RETURN_IF_ERROR(r.string(sub, val, g.ns));
      else if (key == "behavior")
        WINDLASS_RETURN_IF_ERROR(r.string(sub, val, g.behavior));
      else if (key == "type")
        WINDLASS_RETURN_IF_ERROR(r.string(sub, val, g.type));
      else if (key == "literals")
        WINDLASS_RETURN_IF_ERROR(r.strings(sub, val, g.literals));
      else if (key == "files")
        WINDLASS_RETURN_IF_ERROR(r.strings(sub, val, g.files));
      else if (key == "envs")
        WINDLASS_RETURN_IF_ERROR(r.strings(sub, val, g.envs));
      else if (key == "env") {
        std::string one;
        WINDLASS_RETURN_IF_ERROR(r.string(sub, val, one));
        if (!one.empty()) g.envs.push_back(one);
      } else if (key == "options") {
        WINDLASS_RETURN_IF_ERROR(readGeneratorOptions(val, r, sub, g.options));
      } else {
        return r.fail(sub, "kvSources plugins are not supported");
      }
    }
    if (g.behavior.empty()) g.behavior = "create";
    if (g.behavior != "create" && g.behavior != "merge" && g.behavior != "replace") {
      return r.fail(f + ".behavior",
                    "unknown behavior \"" + g.behavior + "\" (expected create, merge or replace)");
    }
    out.push_back(std::move(g));
  }
  return {};
}

Status readPatches(const JsonValue& v, const FieldReader& r, std::string_view field,
                   bool legacy6902, std::vector<PatchEntry>& out) {
  if (v.IsNull()) return {};
  if (!v.IsArray()) return r.fail(field, "expected a list");
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    std::string f = std::string(field) + "[" + std::to_string(i) + "]";
    const JsonValue& e = v[i];
    WINDLASS_RETURN_IF_ERROR(r.map(f, e));
    WINDLASS_RETURN_IF_ERROR(checkKeys(e, r, f, {"path", "patch", "target", "options"}));
    PatchEntry p;
    p.json6902 = legacy6902;
    for (auto it = e.MemberBegin(); it != e.MemberEnd(); ++it) {
      std::string_view key(it->name.GetString(), it->name.GetStringLength());
      std::string sub = f + "." + std::string(key);
      if (key == "path") WINDLASS_RETURN_IF_ERROR(r.string(sub, it->value, p.path));
      if (key == "patch") WINDLASS_RETURN_IF_ERROR(r.string(sub, it->value, p.inlinePatch));
      if (key == "target" && !it->value.IsNull()) {
        Selector s;
        WINDLASS_RETURN_IF_ERROR(readSelector(it->value, r, sub, s));
        p.target = s;
      }
      if (key == "options" && !it->value.IsNull()) {
        WINDLASS_RETURN_IF_ERROR(r.map(sub, it->value));
        WINDLASS_RETURN_IF_ERROR(
            checkKeys(it->value, r, sub, {"allowNameChange", "allowKindChange"}));
        if (auto* n = findMember(it->value, "allowNameChange")) {
          WINDLASS_RETURN_IF_ERROR(r.boolean(sub + ".allowNameChange", *n, p.allowNameChange));
        }
        if (auto* k = findMember(it->value, "allowKindChange")) {
          WINDLASS_RETURN_IF_ERROR(r.boolean(sub + ".allowKindChange", *k, p.allowKindChange));
        }
      }
    }
    if (p.path.empty() == p.inlinePatch.empty()) {
      return r.fail(f, "exactly one of \"path\" and \"patch\" must be set");
    }
    if (legacy6902 && !p.target) return r.fail(f, "missing \"target\"");
    out.push_back(std::move(p));
  }
  return {};
}

constexpr std::array<std::string_view, 36> kTopFields = {"apiVersion",
                                                         "kind",
                                                         "metadata",
                                                         "openapi",
                                                         "namePrefix",
                                                         "nameSuffix",
                                                         "namespace",
                                                         "commonLabels",
                                                         "labels",
                                                         "commonAnnotations",
                                                         "patchesStrategicMerge",
                                                         "patchesJson6902",
                                                         "patches",
                                                         "images",
                                                         "imageTags",
                                                         "replacements",
                                                         "replicas",
                                                         "vars",
                                                         "sortOptions",
                                                         "resources",
                                                         "components",
                                                         "crds",
                                                         "bases",
                                                         "configMapGenerator",
                                                         "secretGenerator",
                                                         "helmGlobals",
                                                         "helmCharts",
                                                         "helmChartInflationGenerator",
                                                         "generatorOptions",
                                                         "configurations",
                                                         "generators",
                                                         "transformers",
                                                         "validators",
                                                         "buildMetadata",
                                                         "inventory",
                                                         "helmChartRelease"};

Status readKustomization(const JsonValue& doc, Kustomization& k) {
  FieldReader r(k.file);
  if (!doc.IsObject()) {
    return Status::invalidArgument(k.file + ": a kustomization must be a map");
  }
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (!known(key, kTopFields)) {
      return Status::invalidArgument(k.file + ": unknown field \"" + std::string(key) + "\"");
    }
  }
  std::string kind, apiVersion;
  if (auto* v = findMember(doc, "kind")) WINDLASS_RETURN_IF_ERROR(r.string("kind", *v, kind));
  if (auto* v = findMember(doc, "apiVersion")) {
    WINDLASS_RETURN_IF_ERROR(r.string("apiVersion", *v, apiVersion));
  }
  // Kustomize's checks and words (Kustomization.EnforceFields), both at once.
  std::string errors;
  if (!kind.empty() && kind != "Kustomization" && kind != "Component") {
    errors = "kind should be Kustomization or Component";
  }
  k.component = kind == "Component";
  const char* required =
      k.component ? "kustomize.config.k8s.io/v1alpha1" : "kustomize.config.k8s.io/v1beta1";
  if (!apiVersion.empty() && apiVersion != required) {
    if (!errors.empty()) errors += "; ";
    errors += "apiVersion for " + (kind.empty() ? std::string("Kustomization") : kind) +
              " should be " + required;
  }
  if (!errors.empty()) return Status::invalidArgument(k.file + ": " + errors);
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    const JsonValue& v = it->value;
    if (key == "namePrefix")
      WINDLASS_RETURN_IF_ERROR(r.string(key, v, k.namePrefix));
    else if (key == "nameSuffix")
      WINDLASS_RETURN_IF_ERROR(r.string(key, v, k.nameSuffix));
    else if (key == "namespace")
      WINDLASS_RETURN_IF_ERROR(r.string(key, v, k.nameSpace));
    else if (key == "commonLabels")
      WINDLASS_RETURN_IF_ERROR(r.stringMap(key, v, k.commonLabels));
    else if (key == "commonAnnotations") {
      WINDLASS_RETURN_IF_ERROR(r.stringMap(key, v, k.commonAnnotations));
    } else if (key == "resources" || key == "bases") {
      WINDLASS_RETURN_IF_ERROR(r.strings(key, v, k.resources));
    } else if (key == "components")
      WINDLASS_RETURN_IF_ERROR(r.strings(key, v, k.components));
    else if (key == "crds")
      WINDLASS_RETURN_IF_ERROR(r.strings(key, v, k.crds));
    else if (key == "configurations")
      WINDLASS_RETURN_IF_ERROR(r.strings(key, v, k.configurations));
    else if (key == "patchesStrategicMerge") {
      std::vector<std::string> list;
      WINDLASS_RETURN_IF_ERROR(r.strings(key, v, list));
      for (std::string& s : list) {
        PatchEntry p;
        // An entry is a file path, or (when it spans lines or is a map) the patch itself.
        if (s.find('\n') != std::string::npos || s.find(": ") != std::string::npos) {
          p.inlinePatch = std::move(s);
        } else {
          p.path = std::move(s);
        }
        k.patchesStrategicMerge.push_back(std::move(p));
      }
    } else if (key == "patches") {
      WINDLASS_RETURN_IF_ERROR(readPatches(v, r, key, false, k.patches));
    } else if (key == "patchesJson6902") {
      WINDLASS_RETURN_IF_ERROR(readPatches(v, r, key, true, k.patchesJson6902));
    } else if (key == "images" || key == "imageTags") {
      if (v.IsNull()) continue;
      if (!v.IsArray()) return r.fail(key, "expected a list");
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        std::string f = std::string(key) + "[" + std::to_string(i) + "]";
        WINDLASS_RETURN_IF_ERROR(r.map(f, v[i]));
        WINDLASS_RETURN_IF_ERROR(
            checkKeys(v[i], r, f, {"name", "newName", "newTag", "digest", "tagSuffix"}));
        ImageEntry img;
        for (auto m = v[i].MemberBegin(); m != v[i].MemberEnd(); ++m) {
          std::string_view mk(m->name.GetString(), m->name.GetStringLength());
          std::string sub = f + "." + std::string(mk);
          std::string* out = mk == "name"      ? &img.name
                             : mk == "newName" ? &img.newName
                             : mk == "newTag"  ? &img.newTag
                             : mk == "digest"  ? &img.digest
                                               : &img.tagSuffix;
          WINDLASS_RETURN_IF_ERROR(r.string(sub, m->value, *out));
        }
        k.images.push_back(std::move(img));
      }
    } else if (key == "replicas") {
      if (v.IsNull()) continue;
      if (!v.IsArray()) return r.fail(key, "expected a list");
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        std::string f = "replicas[" + std::to_string(i) + "]";
        WINDLASS_RETURN_IF_ERROR(r.map(f, v[i]));
        WINDLASS_RETURN_IF_ERROR(checkKeys(v[i], r, f, {"name", "count"}));
        ReplicaEntry rep;
        if (auto* n = findMember(v[i], "name"))
          WINDLASS_RETURN_IF_ERROR(r.string(f + ".name", *n, rep.name));
        const JsonValue* c = findMember(v[i], "count");
        if (c == nullptr || !c->IsInt64()) return r.fail(f + ".count", "expected an integer");
        rep.count = c->GetInt64();
        k.replicas.push_back(std::move(rep));
      }
    } else if (key == "labels") {
      if (v.IsNull()) continue;
      if (!v.IsArray()) return r.fail(key, "expected a list");
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        std::string f = "labels[" + std::to_string(i) + "]";
        WINDLASS_RETURN_IF_ERROR(r.map(f, v[i]));
        WINDLASS_RETURN_IF_ERROR(
            checkKeys(v[i], r, f, {"pairs", "includeSelectors", "includeTemplates", "fields"}));
        LabelEntry le;
        for (auto m = v[i].MemberBegin(); m != v[i].MemberEnd(); ++m) {
          std::string_view mk(m->name.GetString(), m->name.GetStringLength());
          std::string sub = f + "." + std::string(mk);
          if (mk == "pairs") WINDLASS_RETURN_IF_ERROR(r.stringMap(sub, m->value, le.pairs));
          if (mk == "includeSelectors")
            WINDLASS_RETURN_IF_ERROR(r.boolean(sub, m->value, le.includeSelectors));
          if (mk == "includeTemplates")
            WINDLASS_RETURN_IF_ERROR(r.boolean(sub, m->value, le.includeTemplates));
          if (mk == "fields" && !m->value.IsNull()) {
            if (!m->value.IsArray()) return r.fail(sub, "expected a list");
            for (rapidjson::SizeType j = 0; j < m->value.Size(); ++j) {
              auto fs =
                  parseFieldSpec(m->value[j], k.file + ": " + sub + "[" + std::to_string(j) + "]");
              if (!fs) return fs.error();
              le.fieldSpecs.push_back(std::move(*fs));
            }
          }
        }
        k.labels.push_back(std::move(le));
      }
    } else if (key == "configMapGenerator") {
      WINDLASS_RETURN_IF_ERROR(readGenerators(v, r, key, false, k.generators));
    } else if (key == "generatorOptions") {
      WINDLASS_RETURN_IF_ERROR(readGeneratorOptions(v, r, key, k.generatorOptions));
    } else if (key == "replacements") {
      if (!v.IsNull() && !v.IsArray()) return r.fail(key, "expected a list");
      k.replacements = &v;
    } else if (key == "vars") {
      if (!v.IsNull() && !v.IsArray()) return r.fail(key, "expected a list");
      k.vars = &v;
    } else if (key == "transformers") {
      if (!v.IsNull() && !v.IsArray()) return r.fail(key, "expected a list");
      k.transformers = &v;
    } else if (key == "sortOptions") {
      if (v.IsNull()) continue;
      WINDLASS_RETURN_IF_ERROR(r.map(key, v));
      WINDLASS_RETURN_IF_ERROR(checkKeys(v, r, key, {"order", "legacySortOptions"}));
      k.hasSortOptions = true;
      std::string order;
      if (auto* o = findMember(v, "order"))
        WINDLASS_RETURN_IF_ERROR(r.string("sortOptions.order", *o, order));
      if (order != "legacy" && order != "fifo") {
        return r.fail("sortOptions.order",
                      "expected \"legacy\" or \"fifo\", found \"" + order + "\"");
      }
      k.sortFifo = order == "fifo";
      if (auto* l = findMember(v, "legacySortOptions"); l != nullptr && !l->IsNull()) {
        if (k.sortFifo)
          return r.fail("sortOptions.legacySortOptions", "is only allowed with order legacy");
        WINDLASS_RETURN_IF_ERROR(r.map("sortOptions.legacySortOptions", *l));
        if (auto* f = findMember(*l, "orderFirst")) {
          WINDLASS_RETURN_IF_ERROR(
              r.strings("sortOptions.legacySortOptions.orderFirst", *f, k.orderFirst));
        }
        if (auto* f = findMember(*l, "orderLast")) {
          WINDLASS_RETURN_IF_ERROR(
              r.strings("sortOptions.legacySortOptions.orderLast", *f, k.orderLast));
        }
      }
    } else if (key == "helmCharts" || key == "helmGlobals" ||
               key == "helmChartInflationGenerator" || key == "helmChartRelease") {
      if (!v.IsNull()) return r.fail(key, "Helm charts are not supported by windlass");
    } else if (key == "generators" || key == "validators") {
      if (!v.IsNull() && !(v.IsArray() && v.Empty())) {
        return r.fail(key, "generator and validator plugins are not supported by windlass");
      }
    } else if (key == "openapi") {
      WINDLASS_RETURN_IF_ERROR(r.stringMap(key, v, k.openApi));
    }
  }
  // Kustomize runs the ConfigMap generators before the Secret generators.
  if (auto* v = findMember(doc, "secretGenerator")) {
    WINDLASS_RETURN_IF_ERROR(readGenerators(*v, r, "secretGenerator", true, k.generators));
  }
  return {};
}

}  // namespace

Result<Kustomization> loadKustomization(const FileSource& fs, const std::string& dir,
                                        JsonAllocator& alloc) {
  auto realDir = fs.realPath(dir);
  if (!realDir) return realDir.error();
  std::string file, listed;
  for (const char* name : kKustomizationFileNames) {
    auto p = joinPath(dir, name);
    if (!p) return p.error();
    if (fs.kind(*p) != FileKind::kFile) continue;
    // Kustomize reads the file under its load restrictor: a symlink to a file
    // outside the folder is as good as no file.
    auto real = fs.realPath(*p);
    if (!real || !isInOrBelow(*real, *realDir)) continue;
    if (!file.empty()) {
      return Status::invalidArgument(fs.describe(dir) + ": found multiple kustomization files");
    }
    file = *real;
    listed = *p;
  }
  if (file.empty()) {
    return Status::notFound(
        "unable to find one of 'kustomization.yaml', 'kustomization.yml' or "
        "'Kustomization' in directory '" +
        fs.describe(dir) + "'");
  }
  auto text = fs.read(file, kMaxKustomizationBytes);
  if (!text) return text.error();
  Kustomization k;
  k.dir = std::move(*realDir);
  auto named = joinPath(k.dir, baseName(listed));  // the name it is listed by, in its real folder
  if (!named) return named.error();
  k.file = fs.describe(*named);
  auto docs = parseYaml(*text, k.file, YamlDialect::kKustomization, alloc);
  if (!docs) return docs.error();
  if (docs->size() > 1) {
    return Status::invalidArgument(k.file + ": a kustomization file must hold one document");
  }
  auto onlyTypeMeta = [](const JsonValue& d) {
    if (!d.IsObject()) return false;
    for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it) {
      std::string_view key(it->name.GetString(), it->name.GetStringLength());
      if (key != "apiVersion" && key != "kind") return false;
    }
    return true;
  };
  if (docs->empty() || (*docs)[0].IsNull() || onlyTypeMeta((*docs)[0])) {
    return Status::invalidArgument(k.file + ": kustomization.yaml is empty");
  }
  // The values must outlive this call: move the document into the allocator's care.
  auto* doc = static_cast<JsonValue*>(alloc.Malloc(sizeof(JsonValue)));
  new (doc) JsonValue(std::move((*docs)[0]));
  WINDLASS_RETURN_IF_ERROR(readKustomization(*doc, k));
  return k;
}

}  // namespace windlass::overlays
