#include "overlays/render.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <unordered_set>

#include "core/base64.h"
#include "overlays/generator_hash.h"
#include "overlays/json_patch.h"
#include "overlays/kustomization.h"
#include "overlays/merge_schema.h"
#include "overlays/references.h"
#include "overlays/strategic_merge.h"
#include "overlays/transformers.h"
#include "overlays/yaml.h"

namespace windlass::overlays {

namespace {

std::string_view sv(const JsonValue& v) { return {v.GetString(), v.GetStringLength()}; }

bool isRemote(std::string_view entry) {
  return entry.find("://") != std::string_view::npos || entry.rfind("github.com/", 0) == 0 ||
         entry.rfind("git@", 0) == 0 || entry.rfind("gitlab.com/", 0) == 0 ||
         entry.rfind("bitbucket.org/", 0) == 0;
}

bool isValidConfigMapKey(std::string_view key) {
  if (key.empty() || key.size() > 253 || key == "." || key == "..") return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n;
  }
  return true;
}

// Base64 as Kustomize's generators write it: values of 70 or more encoded
// characters are cut into lines of 70, each ending in a newline.
std::string generatorBase64(std::string_view in) {
  constexpr size_t kLine = 70;
  std::string enc = base64Encode(in);
  if (enc.size() < kLine) return enc;
  std::string out;
  out.reserve(enc.size() + enc.size() / kLine + 1);
  for (size_t i = 0; i < enc.size(); i += kLine) {
    out.append(enc, i, kLine);
    out += '\n';
  }
  return out;
}

// Kustomize's legacy output order: listed kinds first and last, the rest by
// group/version/kind, ties by namespace and name.
class LegacyOrder {
 public:
  // Custom lists replace the built-in order (legacyKindOrder) entirely.
  LegacyOrder(const std::vector<std::string>& first, const std::vector<std::string>& last)
      : custom_(!first.empty() || !last.empty()) {
    for (size_t i = 0; i < first.size(); ++i) {
      index_[first[i]] = -static_cast<int>(first.size()) + static_cast<int>(i);
    }
    for (size_t i = 0; i < last.size(); ++i) index_[last[i]] = 1 + static_cast<int>(i);
  }

  struct Key {
    int index;
    std::string gvk;
    std::string rest;
  };

  Key key(const JsonValue& obj) const {
    ResId id = idOf(obj);
    int index = 0;
    if (custom_) {
      auto it = index_.find(id.gvk.kind);
      if (it != index_.end()) index = it->second;
    } else {
      index = legacyKindOrder(id.gvk.kind);
    }
    std::string rest = (id.ns.empty() ? std::string("~X") : id.ns) + "|" +
                       (id.name.empty() ? std::string("~N") : id.name);
    return {index, id.gvk.sortString(), std::move(rest)};
  }

 private:
  bool custom_;
  std::map<std::string, int> index_;
};

// What a kustomization and its bases have built so far.
struct Accumulator {
  ResourceList resources;
  std::vector<Var> vars;
  // The keys (Renderer::idKey) of the resources' ids, while `idsKnown`: a parent
  // appends a base's resources checking only the smaller side for duplicates,
  // which keeps a chain of nested bases linear.
  std::unordered_set<std::string> ids;
  bool idsKnown = true;

  // The transformer config: the built-in one, shared, until `configurations:`,
  // `crds:` or a base's own config changes it (copied on the first write).
  const TransformerConfig& config() const { return own_ ? *own_ : builtinConfig(); }
  TransformerConfig& mutableConfig() {
    if (!own_) own_ = std::make_unique<TransformerConfig>(builtinConfig());
    return *own_;
  }
  bool customConfig() const { return own_ != nullptr; }

 private:
  std::unique_ptr<TransformerConfig> own_;
};

// Whether building `k` itself (its generators, patches and transformers, not its
// bases) may add resources or change their ids behind appendAll's back.
bool mayChangeIds(const Kustomization& k) {
  return !k.generators.empty() || !k.patchesStrategicMerge.empty() || !k.patches.empty() ||
         !k.patchesJson6902.empty() || !k.namePrefix.empty() || !k.nameSuffix.empty() ||
         !k.nameSpace.empty() || k.replacements != nullptr || k.transformers != nullptr ||
         k.vars != nullptr || k.generatorConfigs != nullptr;
}

class Renderer {
 public:
  Renderer(const FileSource& fs, JsonAllocator& alloc, const RenderOptions& options)
      : fs_(fs), alloc_(alloc), options_(options) {}

  Result<RenderedSet> run(const std::string& dir) {
    auto k = loadKustomization(fs_, dir, alloc_);
    if (!k) return k.error();
    WINDLASS_RETURN_IF_ERROR(setSchema(*k, /*reset=*/true));
    Accumulator ra;
    building_.insert(k->dir);
    WINDLASS_RETURN_IF_ERROR(accumulateTarget(*k, ra));
    WINDLASS_RETURN_IF_ERROR(addHashes(ra.resources));
    WINDLASS_RETURN_IF_ERROR(fixNameReferences(ra.resources, ra.config(), alloc_));
    WINDLASS_RETURN_IF_ERROR(resolveVars(ra.resources, ra.vars, ra.config(), alloc_));
    RenderedSet out;
    out.remotes = std::move(ownRemotes_);
    out.objects.reserve(ra.resources.size());
    if (!k->sortFifo) sortLegacy(ra.resources, k->orderFirst, k->orderLast);
    for (Resource& r : ra.resources) {
      // Kustomize rewrites annotations (as map[string]string) when it drops its
      // build annotations: an empty or null annotations field disappears, and a
      // value that is not a string becomes its text. Those read from YAML are
      // strings already (parseYaml keeps their text) but for empty ones (`key:`,
      // ""); what a JSON patch, replacement or List item set is printed as the
      // emitter prints it.
      if (JsonValue* md = findMember(r.obj, "metadata")) {
        JsonValue* a = findMember(*md, "annotations");
        if (a != nullptr && (a->IsNull() || (a->IsObject() && a->ObjectEmpty()))) {
          md->RemoveMember("annotations");
        } else if (a != nullptr && a->IsObject()) {
          for (auto& m : a->GetObject()) {
            if (m.value.IsString() || m.value.IsObject() || m.value.IsArray()) continue;
            std::string text;
            if (!m.value.IsNull()) {
              emitYaml(m.value, text);
              if (!text.empty() && text.back() == '\n') text.pop_back();
            } else {
              std::vector<std::string> path = {"metadata", "annotations", std::string(sv(m.name))};
              bool empty =
                  std::find(r.emptyNulls.begin(), r.emptyNulls.end(), path) != r.emptyNulls.end();
              text = empty ? "" : "null";  // `key:` or a null set by a JSON patch
            }
            m.value.SetString(text.data(), static_cast<rapidjson::SizeType>(text.size()), alloc_);
          }
        }
      }
      out.objects.push_back(std::move(r.obj));
    }
    return out;
  }

 private:
  // --- loading -------------------------------------------------------------

  // Reads a file that field `field` of kustomization `k` names, under the load
  // restrictor: with symlinks resolved, the file must be in or below the
  // kustomization's own folder (Kustomize's LoadRestrictionsRootOnly), unless
  // options_.loadRestrictionsNone. `pathOut` receives its name for messages.
  Result<std::string> readFile(const Kustomization& k, std::string_view field,
                               const std::string& entry, std::string* pathOut = nullptr) {
    auto path = joinPath(k.dir, entry);
    if (isRemote(entry) && (!path || fs_.kind(*path) == FileKind::kMissing)) {
      return unsupportedRemote(k, field, entry, "files");
    }
    std::string where = k.file + ": " + std::string(field);
    if (!path) return path.error().withContext(where);
    std::string target = *path;
    if (!options_.loadRestrictionsNone) {
      auto real = fs_.realPath(*path);
      if (real) {
        if (!isInOrBelow(*real, k.dir)) return securityError(k, field, *path, "");
        target = std::move(*real);
      } else if (real.error().code() != Code::kNotFound) {
        // It resolves outside the source, and so outside the kustomization too.
        return securityError(k, field, *path, real.error().message());
      }
    }
    if (k.dir.empty() && !options_.loadRestrictionsNone && path->empty()) {
      return Status::invalidArgument(where + ": '" + entry + "' is not a file");
    }
    auto text = fs_.read(target, options_.maxFileBytes);
    if (!text) return text.error().withContext(where);
    if (pathOut != nullptr) *pathOut = fs_.describe(*path);  // for messages
    return text;
  }

  // Kustomize's words for a file outside the kustomization's folder.
  Status securityError(const Kustomization& k, std::string_view field, const std::string& path,
                       const std::string& cause) {
    std::string msg = k.file + ": " + std::string(field) + ": security; file '" +
                      fs_.describe(path) + "' is not in or below '" + fs_.describe(k.dir) + "'";
    if (!cause.empty()) msg += " (" + cause + ")";
    return Status::invalidArgument(std::move(msg));
  }

  Status loadResourceFile(const std::string& path, const std::string& text, ResourceList& out) {
    std::vector<EmptyNullPaths> emptyNulls;
    auto docs = parseYaml(text, path, YamlDialect::kResource, alloc_, YamlLimits{}, &emptyNulls);
    if (!docs) return docs.error();
    for (size_t i = 0; i < docs->size(); ++i) {
      JsonValue& doc = (*docs)[i];
      if (!doc.IsObject()) {
        return Status::invalidArgument(path + ": document " + std::to_string(i + 1) +
                                       " is not a map (a Kubernetes object must be a map)");
      }
      std::string_view kind = stringField(doc, "kind");
      JsonValue* items = findMember(doc, "items");
      if (kind.size() >= 4 && kind.substr(kind.size() - 4) == "List" && items != nullptr &&
          items->IsArray()) {
        // Kustomize reads the items of a List through JSON: their empty nulls
        // become plain nulls.
        for (JsonValue& item : items->GetArray()) {
          WINDLASS_RETURN_IF_ERROR(addObject(path, std::move(item), out));
        }
        continue;
      }
      WINDLASS_RETURN_IF_ERROR(addObject(path, std::move(doc), out));
      if (i < emptyNulls.size()) out.back().emptyNulls = std::move(emptyNulls[i]);
    }
    return {};
  }

  Status addObject(const std::string& path, JsonValue obj, ResourceList& out) {
    if (!obj.IsObject()) return Status::invalidArgument(path + ": a list item is not a map");
    if (stringField(obj, "kind").empty()) {
      return Status::invalidArgument(path + ": missing kind in object");
    }
    if (stringField(obj, "apiVersion") == "kustomize.config.k8s.io/v1beta1" ||
        stringField(obj, "apiVersion") == "kustomize.config.k8s.io/v1alpha1") {
      return Status::invalidArgument(path +
                                     ": a kustomization listed as a resource file; list its "
                                     "folder instead");
    }
    if (metadataField(obj, "name").empty()) {
      return Status::invalidArgument(path + ": missing metadata.name in object of kind " +
                                     std::string(stringField(obj, "kind")));
    }
    Resource r;
    r.obj = std::move(obj);
    r.orgId = r.curId();
    out.push_back(std::move(r));
    return {};
  }

  // The key under which two ids are equal (ResId::equals): "" reads as "default".
  static std::string idKey(const ResId& id) {
    std::string key = id.gvk.group;
    key += '\x1f';
    key += id.gvk.version;
    key += '\x1f';
    key += id.gvk.kind;
    key += '\x1f';
    key += id.name;
    key += '\x1f';
    key += id.ns.empty() ? std::string_view("default") : std::string_view(id.ns);
    return key;
  }

  // Appends `from` to `to.resources`; InvalidArgument when an id is already
  // there or twice in `from`. `fromIds`, when not null, holds the keys of
  // `from`'s ids (a base's Accumulator::ids): then only the smaller side is
  // hashed and the smaller list moved, so a chain of N nested bases costs O(N).
  static Status appendAll(Accumulator& to, ResourceList&& from,
                          std::unordered_set<std::string>* fromIds) {
    if (!to.idsKnown) {
      to.ids.clear();
      for (const Resource& e : to.resources) to.ids.insert(idKey(e.curId()));
      to.idsKnown = to.ids.size() == to.resources.size();
    }
    bool fast = to.idsKnown && fromIds != nullptr && fromIds->size() == from.size();
    if (fast) {
      const auto& small = fromIds->size() < to.ids.size() ? *fromIds : to.ids;
      const auto& large = fromIds->size() < to.ids.size() ? to.ids : *fromIds;
      for (const std::string& key : small) {
        if (large.count(key) > 0) {
          fast = false;  // the one-by-one path names the first duplicate, in order
          break;
        }
      }
    }
    if (!fast) {
      for (Resource& r : from) {
        ResId id = r.curId();
        if (!to.ids.insert(idKey(id)).second) {
          return Status::invalidArgument("may not add resource with an already registered id: " +
                                         id.describe());
        }
        to.resources.push_back(std::move(r));
      }
      return {};
    }
    if (fromIds->size() > to.ids.size()) std::swap(to.ids, *fromIds);
    to.ids.insert(fromIds->begin(), fromIds->end());
    if (from.size() > to.resources.size()) {
      for (auto it = to.resources.rbegin(); it != to.resources.rend(); ++it) {
        from.push_front(std::move(*it));
      }
      to.resources = std::move(from);
    } else {
      for (Resource& r : from) to.resources.push_back(std::move(r));
    }
    return {};
  }

  // --- the kustomization -----------------------------------------------------

  Status accumulateTarget(const Kustomization& k, Accumulator& ra) {
    WINDLASS_RETURN_IF_ERROR(accumulateResources(k, ra));
    for (const std::string& c : k.configurations) {
      std::string path;
      auto text = readFile(k, "configurations", c, &path);
      if (!text) return text.error();
      auto docs = parseYaml(*text, path, YamlDialect::kKustomization, alloc_);
      if (!docs) return docs.error();
      for (const JsonValue& d : *docs) {
        auto tc = parseTransformerConfig(d, path);
        if (!tc) return tc.error();
        ra.mutableConfig().merge(*tc);
      }
    }
    for (const std::string& c : k.crds) WINDLASS_RETURN_IF_ERROR(loadCrd(k, c, ra.mutableConfig()));
    for (const std::string& c : k.components) {
      auto dir = joinPath(k.dir, c);
      if (isRemote(c) && (!dir || fs_.kind(*dir) == FileKind::kMissing)) {
        if (!options_.remote) return unsupportedRemote(k, "components", c, "components");
        WINDLASS_RETURN_IF_ERROR(accumulateRemoteComponent(k, c, ra));
        continue;
      }
      if (!dir) return dir.error().withContext(k.file);
      auto ck = loadDir(k, *dir, c);
      if (!ck) return ck.error();
      if (!ck->component) {
        return Status::invalidArgument(k.file + ": accumulating components: expected kind " +
                                       "'Component' for path '" + fs_.describe(*dir) +
                                       "' but got 'Kustomization'");
      }
      WINDLASS_RETURN_IF_ERROR(accumulateTarget(*ck, ra));
      building_.erase(ck->dir);
    }
    WINDLASS_RETURN_IF_ERROR(runGenerators(k, ra));
    WINDLASS_RETURN_IF_ERROR(runTransformers(k, ra));
    if (k.vars != nullptr) {
      auto vars = parseVars(*k.vars, k.file + ": vars");
      if (!vars) return vars.error();
      WINDLASS_RETURN_IF_ERROR(bindVars(ra.resources, *vars).withContext(k.file));
      for (Var& v : *vars) {
        for (const Var& e : ra.vars) {
          if (e.name == v.name) {
            return Status::invalidArgument(k.file + ": var '" + v.name + "' already encountered");
          }
        }
        ra.vars.push_back(std::move(v));
      }
    }
    if (mayChangeIds(k)) ra.idsKnown = false;
    return {};
  }

  // Builds base `sub` (loaded by `owner`, this renderer or one over a remote tree)
  // and appends what it built to `ra`, after the resource files gathered so far.
  Status appendBase(const Kustomization& k, Renderer& owner, const Kustomization& sub,
                    Accumulator& ra, ResourceList& files) {
    WINDLASS_RETURN_IF_ERROR(appendAll(ra, std::move(files), nullptr).withContext(k.file));
    files.clear();
    Accumulator subRa;
    WINDLASS_RETURN_IF_ERROR(owner.accumulateTarget(sub, subRa));
    owner.building_.erase(sub.dir);
    WINDLASS_RETURN_IF_ERROR(
        appendAll(ra, std::move(subRa.resources), subRa.idsKnown ? &subRa.ids : nullptr)
            .withContext(k.file));
    if (subRa.customConfig()) ra.mutableConfig().merge(subRa.config());
    for (Var& v : subRa.vars) {
      for (const Var& e : ra.vars) {
        if (e.name == v.name) {
          return Status::invalidArgument(k.file + ": var '" + v.name + "' already encountered");
        }
      }
      ra.vars.push_back(std::move(v));
    }
    return {};
  }

  // Fetches remote reference `entry` (from `field` of `k`) through options_.remote
  // and notes it in remotes_.
  Result<RemoteTree> fetchRemote(const Kustomization& k, std::string_view field,
                                 const std::string& entry) {
    std::string where = k.file + ": " + std::string(field) + ": '" + entry + "'";
    auto ref = parseRemoteRef(entry);
    if (!ref) return ref.error().withContext(k.file + ": " + std::string(field));
    constexpr int kMaxRemoteDepth = 20;
    if (remoteDepth_ >= kMaxRemoteDepth) {
      return Status::invalidArgument(where + ": remote bases nested deeper than " +
                                     std::to_string(kMaxRemoteDepth));
    }
    auto tree = options_.remote(*ref);
    if (!tree) return tree.error().withContext(where);
    if (tree->fs == nullptr) return Status::internal(where + ": the remote fetcher gave no tree");
    bool seen = std::any_of(remotes_->begin(), remotes_->end(),
                            [&](const RemoteUse& u) { return u.reference == entry; });
    if (!seen) remotes_->push_back({entry, tree->resolved});
    return tree;
  }

  // A renderer over a remote tree, sharing this one's list of remotes and schema.
  std::unique_ptr<Renderer> remoteRenderer(const FileSource& rfs) {
    auto sub = std::make_unique<Renderer>(rfs, alloc_, options_);
    sub->remotes_ = remotes_;
    sub->remoteDepth_ = remoteDepth_ + 1;
    sub->mergeSchema_ = mergeSchema_;
    sub->schemaSet_ = schemaSet_;
    return sub;
  }

  // A remote component: built by a renderer over its tree, into `ra` itself.
  Status accumulateRemoteComponent(const Kustomization& k, const std::string& entry,
                                   Accumulator& ra) {
    auto tree = fetchRemote(k, "components", entry);
    if (!tree) return tree.error();
    if (tree->fs->kind(tree->path) != FileKind::kDirectory) {
      return Status::invalidArgument(k.file + ": components: '" + entry + "': no folder '" +
                                     tree->path + "' at " + tree->resolved);
    }
    auto sub = remoteRenderer(*tree->fs);
    auto ck = sub->loadDir(k, tree->path, entry);
    if (!ck) return ck.error();
    if (!ck->component) {
      return Status::invalidArgument(k.file + ": accumulating components: expected kind " +
                                     "'Component' for path '" + entry +
                                     "' but got 'Kustomization'");
    }
    WINDLASS_RETURN_IF_ERROR(sub->accumulateTarget(*ck, ra));
    sub->building_.erase(ck->dir);
    return {};
  }

  // A remote base or file, fetched through options_.remote: a file's objects join
  // `files`; a folder is built by a renderer over the remote tree, with the same
  // options (so remotes inside it are fetched the same way).
  Status accumulateRemote(const Kustomization& k, std::string_view field, const std::string& entry,
                          Accumulator& ra, ResourceList& files) {
    std::string where = k.file + ": " + std::string(field) + ": '" + entry + "'";
    auto tree = fetchRemote(k, field, entry);
    if (!tree) return tree.error();
    const FileSource& rfs = *tree->fs;
    FileKind kind = rfs.kind(tree->path);
    if (kind == FileKind::kFile) {
      auto text = rfs.read(tree->path, options_.maxFileBytes);
      if (!text) return text.error().withContext(where);
      return loadResourceFile(entry, *text, files);
    }
    if (kind != FileKind::kDirectory) {
      return Status::invalidArgument(where + ": no folder '" + tree->path + "' at " +
                                     tree->resolved);
    }
    auto sub = remoteRenderer(rfs);
    auto subK = sub->loadDir(k, tree->path, entry);
    if (!subK) return subK.error();
    if (subK->component) {
      return Status::invalidArgument(where +
                                     ": expected kind != 'Component' (list it under "
                                     "components)");
    }
    return appendBase(k, *sub, *subK, ra, files);
  }

  // A remote base or file (a URL, github.com/…, git@…): named as such, with the
  // kustomization file and the field that lists it.
  Status unsupportedRemote(const Kustomization& k, std::string_view field, const std::string& entry,
                           const char* what) {
    return Status::unimplemented(k.file + ": " + std::string(field) + ": '" + entry +
                                 "' is a remote reference; remote " + what +
                                 " are not supported yet (vendor it into the repository)");
  }

  // Loads the kustomization in `dir` and marks its folder as being built (callers
  // unmark it when done). A folder already being built, symlinks resolved, is a cycle.
  Result<Kustomization> loadDir(const Kustomization& parent, const std::string& dir,
                                const std::string& entry) {
    if (auto real = fs_.realPath(dir); real && building_.count(*real) > 0) {
      return Status::invalidArgument(parent.file + ": cycle detected: '" + entry +
                                     "' refers back to a kustomization that includes it");
    }
    if (static_cast<int>(building_.size()) >= options_.maxDepth) {
      return Status::invalidArgument(parent.file + ": kustomizations nested deeper than " +
                                     std::to_string(options_.maxDepth));
    }
    auto k = loadKustomization(fs_, dir, alloc_);
    if (!k) {
      if (k.error().code() == Code::kNotFound) {
        return Status::invalidArgument(parent.file + ": accumulating resources from '" + entry +
                                       "': unable to find one of 'kustomization.yaml', "
                                       "'kustomization.yml' or 'Kustomization' in directory '" +
                                       fs_.describe(dir) + "'");
      }
      return k.error();
    }
    WINDLASS_RETURN_IF_ERROR(setSchema(*k, /*reset=*/false));
    building_.insert(k->dir);
    return k;
  }

  // `openapi:` as Kustomize applies it: one schema for the rest of the build, set
  // by the root kustomization (`reset`) or else by the first kustomization loaded
  // that names one. `path` replaces the built-in schema (kinds it does not define
  // have none: their lists are replaced); `version` picks a built-in one.
  Status setSchema(const Kustomization& k, bool reset) {
    if (schemaSet_ && !reset) return {};
    auto path = k.openApi.find("path");
    auto version = k.openApi.find("version");
    auto fail = [&](const std::string& what) {
      return Status::invalidArgument(k.file + ": field \"openapi\": " + what);
    };
    if (path != k.openApi.end() && version != k.openApi.end()) {
      return fail("builtin version and custom schema provided, cannot use both");
    }
    if (path != k.openApi.end()) {
      std::string file;
      auto text = readFile(k, "openapi.path", path->second, &file);
      if (!text) return text.error();
      auto docs = parseYaml(*text, file, YamlDialect::kResource, alloc_);
      if (!docs) return docs.error();
      if (docs->size() != 1)
        return Status::invalidArgument(file + ": expected one OpenAPI document");
      auto schema = MergeSchema::fromOpenApi((*docs)[0], file);
      if (!schema) return schema.error();
      customSchema_ = std::move(*schema);
      mergeSchema_ = &customSchema_;
      schemaSet_ = true;
      return {};
    }
    if (version == k.openApi.end() || version->second.empty()) return {};
    if (version->second != "v1.21.2") return fail("the specified OpenAPI version is not built in");
    mergeSchema_ = &MergeSchema::kubernetes();
    schemaSet_ = true;
    return {};
  }

  // `field`: the kustomization field the entries come from, for messages (plugin
  // configs named as files under `transformers:` or `generators:` are read this way).
  Status accumulateResources(const Kustomization& k, Accumulator& ra,
                             std::string_view field = "resources") {
    // Resources from files are gathered and appended at the end, in order with
    // the bases before them checked for duplicate ids once.
    ResourceList files;
    for (const std::string& entry : k.resources) {
      auto path = joinPath(k.dir, entry);
      FileKind kind = path ? fs_.kind(*path) : FileKind::kMissing;
      if (kind == FileKind::kMissing && isRemote(entry)) {
        if (!options_.remote) return unsupportedRemote(k, field, entry, "bases");
        WINDLASS_RETURN_IF_ERROR(accumulateRemote(k, field, entry, ra, files));
        continue;
      }
      if (!path) return path.error().withContext(k.file);
      if (kind == FileKind::kDirectory) {
        auto sub = loadDir(k, *path, entry);
        if (!sub) return sub.error();
        if (sub->component) {
          return Status::invalidArgument(k.file + ": accumulating resources from '" + entry +
                                         "': expected kind != 'Component' for path '" +
                                         fs_.describe(*path) + "' (list it under components)");
        }
        WINDLASS_RETURN_IF_ERROR(appendBase(k, *this, *sub, ra, files));
        continue;
      }
      if (kind == FileKind::kMissing) {
        if (auto real = fs_.realPath(*path); !real && real.error().code() != Code::kNotFound) {
          return Status::invalidArgument(k.file + ": accumulating resources from '" + entry +
                                         "': " + real.error().message());
        }
        return Status::notFound(k.file + ": accumulating resources: '" + fs_.describe(*path) +
                                "': no such file or directory");
      }
      std::string file;
      auto text = readFile(k, field, entry, &file);
      if (!text) return text.error();
      WINDLASS_RETURN_IF_ERROR(loadResourceFile(file, *text, files));
    }
    return appendAll(ra, std::move(files), nullptr).withContext(k.file);
  }

  // A `crds:` file: Go OpenAPI definitions (type name → {Schema, Dependencies})
  // whose x-kubernetes-object-ref-* marks make fields name references.
  Status loadCrd(const Kustomization& k, const std::string& entry, TransformerConfig& config) {
    std::string path;
    auto text = readFile(k, "crds", entry, &path);
    if (!text) return text.error();
    auto docs = parseYaml(*text, path, YamlDialect::kResource, alloc_);
    if (!docs) return docs.error();
    for (const JsonValue& doc : *docs) {
      const JsonValue* defs = findMember(doc, "definitions");
      if (defs == nullptr) defs = &doc;
      if (!defs->IsObject()) continue;
      for (auto it = defs->MemberBegin(); it != defs->MemberEnd(); ++it) {
        const JsonValue* schema = crdSchema(it->value);
        const JsonValue* props = schema ? findMember(*schema, "properties") : nullptr;
        if (props == nullptr || findMember(*props, "kind") == nullptr ||
            findMember(*props, "apiVersion") == nullptr) {
          continue;  // not a top-level type
        }
        // "example.com/app/pkg/apis/data/v1alpha1.Database" → kind Database, version v1alpha1.
        std::string_view typeName = sv(it->name);
        size_t dot = typeName.rfind('.');
        Gvk referrer;
        referrer.kind = dot == std::string_view::npos ? typeName : typeName.substr(dot + 1);
        std::string_view pkg =
            dot == std::string_view::npos ? std::string_view() : typeName.substr(0, dot);
        size_t slash = pkg.rfind('/');
        referrer.version = slash == std::string_view::npos ? pkg : pkg.substr(slash + 1);
        collectCrdRefs(*defs, *schema, referrer, {}, config, 0);
      }
    }
    return {};
  }

  static const JsonValue* crdSchema(const JsonValue& def) {
    if (const JsonValue* s = findMember(def, "Schema")) return s;
    return def.IsObject() ? &def : nullptr;
  }

  void collectCrdRefs(const JsonValue& defs, const JsonValue& schema, const Gvk& referrer,
                      const std::vector<std::string>& path, TransformerConfig& config, int depth) {
    const JsonValue* props = findMember(schema, "properties");
    if (depth > 32 || props == nullptr || !props->IsObject()) return;
    for (auto it = props->MemberBegin(); it != props->MemberEnd(); ++it) {
      std::vector<std::string> sub = path;
      sub.emplace_back(sv(it->name));
      const JsonValue& prop = it->value;
      std::string_view refKind = stringField(prop, "x-kubernetes-object-ref-kind");
      if (!refKind.empty()) {
        NameBackReference br;
        br.gvk.kind = refKind;
        br.gvk.version = stringField(prop, "x-kubernetes-object-ref-api-version");
        FieldSpec f;
        f.gvk = referrer;
        f.path = sub;
        std::string_view nameKey = stringField(prop, "x-kubernetes-object-ref-name-key");
        f.path.emplace_back(nameKey.empty() ? std::string_view("name") : nameKey);
        br.referrers.push_back(std::move(f));
        TransformerConfig one;
        one.nameReference.push_back(std::move(br));
        config.merge(one);
      }
      std::string_view ref = stringField(prop, "$ref");
      if (ref.rfind("#/definitions/", 0) == 0) ref.remove_prefix(14);
      if (const JsonValue* target = ref.empty() ? nullptr : findMember(defs, ref)) {
        if (const JsonValue* ts = crdSchema(*target)) {
          collectCrdRefs(defs, *ts, referrer, sub, config, depth + 1);
        }
      }
    }
  }

  // --- generators -------------------------------------------------------------

  Status runGenerators(const Kustomization& k, Accumulator& ra) {
    for (const GeneratorEntry& g : k.generators) {
      auto r = generate(k, g);
      if (!r) return r.error();
      WINDLASS_RETURN_IF_ERROR(absorb(ra.resources, std::move(*r), g));
    }
    if (k.generatorConfigs == nullptr) return {};
    auto configs = loadPluginConfigs(k, *k.generatorConfigs, "generators");
    if (!configs) return configs.error();
    // The kustomization's generatorOptions do not apply to these.
    Kustomization own = k;
    own.generatorOptions = GeneratorOptions{};
    for (const Resource& c : *configs) {
      std::string where = pluginWhere(k, "generators", c.obj);
      WINDLASS_RETURN_IF_ERROR(checkBuiltin(c.obj, where));
      std::string_view kind = stringField(c.obj, "kind");
      if (kind != "ConfigMapGenerator" && kind != "SecretGenerator") {
        return isBuiltinKind(kind) ? Status::invalidArgument(where + ": plugin " +
                                                             std::string(kind) + " not a generator")
                                   : unsupportedPlugin(where, kind);
      }
      auto g = readGeneratorConfig(c.obj, kind == "SecretGenerator", where);
      if (!g) return g.error();
      auto r = generate(own, *g);
      if (!r) return r.error();
      WINDLASS_RETURN_IF_ERROR(absorb(ra.resources, std::move(*r), *g));
    }
    return {};
  }

  // --- builtin plugin configs (`transformers:`, `generators:`) -------------------

  // The configs a `transformers:` or `generators:` list names, in order: an entry
  // that reads as YAML maps is an inline config; any other is a file or folder
  // read as `resources:` reads it (under the load restrictor).
  Result<ResourceList> loadPluginConfigs(const Kustomization& k, const JsonValue& list,
                                         const char* field) {
    ResourceList inlineConfigs;
    Kustomization paths = k;
    paths.resources.clear();
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      std::string where = k.file + ": " + field + "[" + std::to_string(i) + "]";
      if (!list[i].IsString()) return Status::invalidArgument(where + ": expected a string");
      std::string entry(sv(list[i]));
      auto docs = parseYaml(entry, where, YamlDialect::kResource, alloc_);
      bool isInline =
          docs && !docs->empty() &&
          std::all_of(docs->begin(), docs->end(), [](const JsonValue& d) { return d.IsObject(); });
      if (!isInline) {
        paths.resources.push_back(std::move(entry));
        continue;
      }
      for (JsonValue& d : *docs)
        WINDLASS_RETURN_IF_ERROR(addObject(where, std::move(d), inlineConfigs));
    }
    Accumulator fromPaths;
    WINDLASS_RETURN_IF_ERROR(accumulateResources(paths, fromPaths, field));
    ResourceList all = std::move(inlineConfigs);
    for (Resource& r : fromPaths.resources) all.push_back(std::move(r));
    return all;
  }

  static std::string pluginWhere(const Kustomization& k, const char* field, const JsonValue& c) {
    return k.file + ": " + field + ": " + std::string(stringField(c, "kind")) + " " +
           std::string(metadataField(c, "name"));
  }

  static bool isBuiltinKind(std::string_view kind) {
    static constexpr std::string_view kKinds[] = {
        "AnnotationsTransformer", "ConfigMapGenerator",          "IAMPolicyGenerator",
        "HashTransformer",        "ImageTagTransformer",         "LabelTransformer",
        "NamespaceTransformer",   "PatchJson6902Transformer",    "PatchStrategicMergeTransformer",
        "PatchTransformer",       "PrefixSuffixTransformer",     "PrefixTransformer",
        "SuffixTransformer",      "ReplicaCountTransformer",     "SecretGenerator",
        "ValueAddTransformer",    "HelmChartInflationGenerator", "ReplacementTransformer"};
    return std::find(std::begin(kKinds), std::end(kKinds), kind) != std::end(kKinds);
  }

  // Only builtin plugins (apiVersion "builtin") run; external ones need exec or
  // Go plugins, which Kustomize itself refuses without --enable-alpha-plugins.
  static Status checkBuiltin(const JsonValue& c, const std::string& where) {
    if (stringField(c, "apiVersion") == "builtin") return {};
    return Status::unimplemented(where +
                                 ": external plugins are not supported by windlass "
                                 "(only apiVersion: builtin)");
  }

  static Status unsupportedPlugin(const std::string& where, std::string_view kind) {
    return Status::unimplemented(where + ": builtin plugin " + std::string(kind) +
                                 " is not supported by windlass");
  }

  static Result<std::vector<FieldSpec>> pluginFieldSpecs(const JsonValue& c,
                                                         const std::string& where) {
    std::vector<FieldSpec> specs;
    const JsonValue* fss = findMember(c, "fieldSpecs");
    if (fss == nullptr || fss->IsNull()) return specs;
    if (!fss->IsArray()) return Status::invalidArgument(where + ": fieldSpecs: expected a list");
    for (rapidjson::SizeType j = 0; j < fss->Size(); ++j) {
      auto f = parseFieldSpec((*fss)[j], where + ": fieldSpecs[" + std::to_string(j) + "]");
      if (!f) return f.error();
      specs.push_back(std::move(*f));
    }
    return specs;
  }

  static Status pluginString(const JsonValue& c, const char* field, const std::string& where,
                             std::string& out) {
    const JsonValue* v = findMember(c, field);
    if (v == nullptr || v->IsNull()) return {};
    if (!v->IsString()) {
      return Status::invalidArgument(where + ": " + field + ": expected a string");
    }
    out = std::string(sv(*v));
    return {};
  }

  Result<Resource> generate(const Kustomization& k, const GeneratorEntry& g) {
    const char* what = g.secret ? "secretGenerator" : "configMapGenerator";
    std::string where = k.file + ": " + what + " \"" + g.name + "\"";
    if (g.name.empty()) return Status::invalidArgument(k.file + ": " + what + " entry has no name");
    std::vector<std::pair<std::string, std::string>> kvs;
    for (const std::string& lit : g.literals) {
      size_t eq = lit.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Status::invalidArgument(where + ": invalid literal source " + lit +
                                       ", expected key=value");
      }
      std::string value = lit.substr(eq + 1);
      if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
          value.back() == value.front()) {
        value = value.substr(1, value.size() - 2);
      }
      kvs.emplace_back(lit.substr(0, eq), std::move(value));
    }
    for (const std::string& f : g.files) {
      std::string key, file = f;
      if (size_t eq = f.find('='); eq != std::string::npos) {
        key = f.substr(0, eq);
        file = f.substr(eq + 1);
        if (key.empty())
          return Status::invalidArgument(where + ": file source \"" + f + "\" has an empty key");
      } else {
        key = std::string(baseName(file));
      }
      auto text = readFile(k, std::string(what) + " \"" + g.name + "\": files", file);
      if (!text) return text.error();
      kvs.emplace_back(std::move(key), std::move(*text));
    }
    for (const std::string& env : g.envs) {
      std::string path;
      auto text = readFile(k, std::string(what) + " \"" + g.name + "\": envs", env, &path);
      if (!text) return text.error();
      WINDLASS_RETURN_IF_ERROR(parseEnvFile(*text, path, kvs));
    }
    JsonValue obj(rapidjson::kObjectType);
    obj.AddMember("apiVersion", "v1", alloc_);
    obj.AddMember("kind", rapidjson::StringRef(g.secret ? "Secret" : "ConfigMap"), alloc_);
    JsonValue md(rapidjson::kObjectType);
    md.AddMember("name", makeString(g.name, alloc_), alloc_);
    if (!g.ns.empty()) md.AddMember("namespace", makeString(g.ns, alloc_), alloc_);
    GeneratorOptions opt = k.generatorOptions;
    for (const auto& [key, v] : g.options.labels) opt.labels[key] = v;
    for (const auto& [key, v] : g.options.annotations) opt.annotations[key] = v;
    if (g.options.disableNameSuffixHash)
      opt.disableNameSuffixHash = g.options.disableNameSuffixHash;
    if (g.options.immutable) opt.immutable = g.options.immutable;
    auto addMap = [&](const char* field, const std::map<std::string, std::string>& m) {
      if (m.empty()) return;
      JsonValue v(rapidjson::kObjectType);
      for (const auto& [key, val] : m)
        v.AddMember(makeString(key, alloc_), makeString(val, alloc_), alloc_);
      md.AddMember(rapidjson::StringRef(field), v, alloc_);
    };
    addMap("labels", opt.labels);
    addMap("annotations", opt.annotations);
    obj.AddMember("metadata", md, alloc_);
    JsonValue data(rapidjson::kObjectType), binary(rapidjson::kObjectType);
    std::set<std::string> seen;
    for (auto& [key, value] : kvs) {
      if (!isValidConfigMapKey(key)) {
        return Status::invalidArgument(where + ": \"" + key + "\" is not a valid key name");
      }
      if (!seen.insert(key).second) {
        return Status::invalidArgument(where + ": " + (g.secret ? "secret" : "configmap") + " " +
                                       g.name + " illegally repeats the key `" + key + "`");
      }
      if (g.secret) {
        data.AddMember(makeString(key, alloc_), makeString(generatorBase64(value), alloc_), alloc_);
      } else if (isValidUtf8(value)) {
        data.AddMember(makeString(key, alloc_), makeString(value, alloc_), alloc_);
      } else {
        binary.AddMember(makeString(key, alloc_), makeString(generatorBase64(value), alloc_),
                         alloc_);
      }
    }
    // An empty ConfigMap has no data field; an empty Secret has "data: {}".
    if (!data.ObjectEmpty() || g.secret) obj.AddMember("data", data, alloc_);
    if (!binary.ObjectEmpty()) obj.AddMember("binaryData", binary, alloc_);
    if (g.secret)
      obj.AddMember("type", makeString(g.type.empty() ? "Opaque" : g.type, alloc_), alloc_);
    if (opt.immutable.value_or(false)) obj.AddMember("immutable", true, alloc_);
    Resource r;
    r.obj = std::move(obj);
    r.orgId = r.curId();
    r.needsHash = !opt.disableNameSuffixHash.value_or(false);
    r.behavior = g.behavior == "merge"     ? GeneratorBehavior::kMerge
                 : g.behavior == "replace" ? GeneratorBehavior::kReplace
                                           : GeneratorBehavior::kCreate;
    return r;
  }

  static Status parseEnvFile(std::string_view text, const std::string& path,
                             std::vector<std::pair<std::string, std::string>>& kvs) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    size_t pos = 0;
    int lineNo = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      std::string_view line = text.substr(pos, nl - pos);
      pos = nl + 1;
      ++lineNo;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())))
        line.remove_prefix(1);
      if (line.empty() || line.front() == '#') continue;
      // A bare name takes its value from Kustomize's environment; windlass never
      // reads its own, so the key gets the empty value of an unset variable.
      size_t eq = line.find('=');
      std::string key(line.substr(0, eq));
      if (key.empty() || key.find_first_of(" \t") != std::string::npos) {
        return Status::invalidArgument(path + ":" + std::to_string(lineNo) + ": invalid key \"" +
                                       key + "\" in env file");
      }
      kvs.emplace_back(std::move(key), eq == std::string_view::npos
                                           ? std::string()
                                           : std::string(line.substr(eq + 1)));
    }
    return {};
  }

  // Adds a generated resource, merging or replacing an earlier one as its behavior says.
  Status absorb(ResourceList& list, Resource r, const GeneratorEntry& g) {
    ResId id = r.curId();
    Resource* match = nullptr;
    for (Resource& e : list) {
      if (e.matchesAnyId(id)) {
        if (match != nullptr) {
          return Status::invalidArgument("generator " + id.describe() +
                                         " matches more than one resource");
        }
        match = &e;
      }
    }
    if (match == nullptr) {
      if (r.behavior == GeneratorBehavior::kMerge || r.behavior == GeneratorBehavior::kReplace) {
        return Status::invalidArgument(id.describe() +
                                       " does not exist; cannot merge or replace (behavior " +
                                       g.behavior + ")");
      }
      list.push_back(std::move(r));
      return {};
    }
    if (r.behavior == GeneratorBehavior::kCreate) {
      return Status::invalidArgument(id.describe() + " exists; behavior must be merge or replace");
    }
    JsonValue& md = ensureObject(r.obj, "metadata", alloc_);
    const JsonValue* oldMd = findMember(match->obj, "metadata");
    for (const char* field : {"labels", "annotations"}) {
      const JsonValue* oldMap = oldMd ? findMember(*oldMd, field) : nullptr;
      if (oldMap == nullptr || !oldMap->IsObject()) continue;
      JsonValue merged(*oldMap, alloc_);
      if (const JsonValue* newMap = findMember(md, field);
          newMap != nullptr && newMap->IsObject()) {
        for (auto it = newMap->MemberBegin(); it != newMap->MemberEnd(); ++it) {
          setMember(merged, sv(it->name), JsonValue(it->value, alloc_), alloc_);
        }
      }
      setMember(md, field, std::move(merged), alloc_);
    }
    setMember(md, "name", makeString(metadataField(match->obj, "name"), alloc_), alloc_);
    std::string_view oldNs = metadataField(match->obj, "namespace");
    if (oldNs.empty()) {
      if (md.HasMember("namespace")) md.RemoveMember("namespace");
    } else {
      setMember(md, "namespace", makeString(oldNs, alloc_), alloc_);
    }
    if (r.behavior == GeneratorBehavior::kMerge) {
      for (const char* field : {"data", "binaryData"}) {
        const JsonValue* oldMap = findMember(match->obj, field);
        if (oldMap == nullptr || !oldMap->IsObject()) continue;
        JsonValue merged(*oldMap, alloc_);
        if (const JsonValue* newMap = findMember(r.obj, field)) {
          for (auto it = newMap->MemberBegin(); it != newMap->MemberEnd(); ++it) {
            setMember(merged, sv(it->name), JsonValue(it->value, alloc_), alloc_);
          }
        }
        setMember(r.obj, field, std::move(merged), alloc_);
      }
    }
    r.orgId = match->orgId;
    r.prevIds = match->prevIds;
    r.refVarNames = match->refVarNames;  // vars bound to the earlier object follow it
    r.prefixes = match->prefixes;
    r.suffixes = match->suffixes;
    // A hash suffix survives only when both the earlier resource and this
    // generator ask for one (a plain ConfigMap merged by a generator stays
    // plain; disableNameSuffixHash on the merging generator drops the hash).
    r.needsHash = r.needsHash && match->needsHash;
    *match = std::move(r);
    return {};
  }

  // --- transformers ------------------------------------------------------------

  Status runTransformers(const Kustomization& k, Accumulator& ra) {
    for (const PatchEntry& p : k.patchesStrategicMerge)
      WINDLASS_RETURN_IF_ERROR(applyPatch(k, p, ra, "patchesStrategicMerge", true));
    for (const PatchEntry& p : k.patches) WINDLASS_RETURN_IF_ERROR(applyPatch(k, p, ra, "patches"));
    if (!k.nameSpace.empty()) {
      WINDLASS_RETURN_IF_ERROR(
          applyNamespace(ra.resources, k.nameSpace, ra.config().nameSpace, alloc_)
              .withContext(k.file));
    }
    WINDLASS_RETURN_IF_ERROR(
        applyNamePrefixSuffix(ra.resources, k.namePrefix, k.nameSuffix, ra.config(), alloc_));
    WINDLASS_RETURN_IF_ERROR(
        applyStringMap(ra.resources, k.commonLabels, ra.config().commonLabels, alloc_));
    for (const LabelEntry& l : k.labels) {
      std::vector<FieldSpec> specs;
      if (l.includeSelectors) {
        specs = ra.config().commonLabels;
      } else {
        if (l.includeTemplates) specs = ra.config().templateLabels;
        FieldSpec meta;
        meta.path = {"metadata", "labels"};
        meta.create = true;
        if (std::find(specs.begin(), specs.end(), meta) == specs.end()) specs.push_back(meta);
      }
      specs.insert(specs.end(), l.fieldSpecs.begin(), l.fieldSpecs.end());
      WINDLASS_RETURN_IF_ERROR(applyStringMap(ra.resources, l.pairs, specs, alloc_));
    }
    WINDLASS_RETURN_IF_ERROR(
        applyStringMap(ra.resources, k.commonAnnotations, ra.config().commonAnnotations, alloc_));
    for (const PatchEntry& p : k.patchesJson6902)
      WINDLASS_RETURN_IF_ERROR(applyPatch(k, p, ra, "patchesJson6902"));
    WINDLASS_RETURN_IF_ERROR(
        applyReplicas(ra.resources, k.replicas, ra.config().replicas, alloc_).withContext(k.file));
    WINDLASS_RETURN_IF_ERROR(applyImages(ra.resources, k.images, ra.config().images, alloc_));
    if (k.replacements != nullptr) WINDLASS_RETURN_IF_ERROR(runReplacements(k, ra));
    if (k.transformers != nullptr) WINDLASS_RETURN_IF_ERROR(runTransformerConfigs(k, ra));
    return {};
  }

  Status runReplacements(const Kustomization& k, Accumulator& ra) {
    return runReplacementList(k, *k.replacements, k.file + ": replacements", ra);
  }

  Status runReplacementList(const Kustomization& k, const JsonValue& list, const std::string& field,
                            Accumulator& ra) {
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      const JsonValue& e = list[i];
      std::string where = field + "[" + std::to_string(i) + "]";
      std::string_view path = stringField(e, "path");
      if (path.empty()) {
        WINDLASS_RETURN_IF_ERROR(applyReplacement(ra.resources, e, where, alloc_));
        continue;
      }
      std::string file;
      auto text = readFile(k, "replacements.path", std::string(path), &file);
      if (!text) return text.error();
      auto docs = parseYaml(*text, file, YamlDialect::kResource, alloc_);
      if (!docs) return docs.error();
      for (const JsonValue& d : *docs) {
        if (d.IsArray()) {
          for (rapidjson::SizeType j = 0; j < d.Size(); ++j) {
            WINDLASS_RETURN_IF_ERROR(applyReplacement(
                ra.resources, d[j], file + ": [" + std::to_string(j) + "]", alloc_));
          }
        } else {
          WINDLASS_RETURN_IF_ERROR(applyReplacement(ra.resources, d, file, alloc_));
        }
      }
    }
    return {};
  }

  Status runTransformerConfigs(const Kustomization& k, Accumulator& ra) {
    auto configs = loadPluginConfigs(k, *k.transformers, "transformers");
    if (!configs) return configs.error();
    for (const Resource& c : *configs) {
      std::string where = pluginWhere(k, "transformers", c.obj);
      WINDLASS_RETURN_IF_ERROR(checkBuiltin(c.obj, where));
      WINDLASS_RETURN_IF_ERROR(runTransformerConfig(k, c.obj, where, ra));
    }
    return {};
  }

  Status runTransformerConfig(const Kustomization& k, const JsonValue& c, const std::string& where,
                              Accumulator& ra) {
    std::string_view kind = stringField(c, "kind");
    auto specs = pluginFieldSpecs(c, where);
    if (!specs) return specs.error();
    if (kind == "LabelTransformer" || kind == "AnnotationsTransformer") {
      const char* mapField = kind == "LabelTransformer" ? "labels" : "annotations";
      std::map<std::string, std::string> pairs;
      if (const JsonValue* m = findMember(c, mapField); m != nullptr && m->IsObject()) {
        for (auto it = m->MemberBegin(); it != m->MemberEnd(); ++it) {
          if (!it->value.IsString()) {
            return Status::invalidArgument(where + ": " + mapField + "." +
                                           std::string(sv(it->name)) + ": expected a string");
          }
          pairs[std::string(sv(it->name))] = std::string(sv(it->value));
        }
      }
      return applyStringMap(ra.resources, pairs, *specs, alloc_);
    }
    if (kind == "PrefixSuffixTransformer" || kind == "PrefixTransformer" ||
        kind == "SuffixTransformer") {
      if (findMember(c, "fieldSpecs") == nullptr || findMember(c, "fieldSpecs")->IsNull()) {
        return Status::invalidArgument(where + ": fieldSpecs is not expected to be nil");
      }
      std::string prefix, suffix;
      if (kind != "SuffixTransformer")
        WINDLASS_RETURN_IF_ERROR(pluginString(c, "prefix", where, prefix));
      if (kind != "PrefixTransformer")
        WINDLASS_RETURN_IF_ERROR(pluginString(c, "suffix", where, suffix));
      // PrefixSuffixTransformer runs the prefix plugin, then the suffix plugin.
      WINDLASS_RETURN_IF_ERROR(applyAffixPlugin(ra.resources, prefix, true, *specs, alloc_));
      return applyAffixPlugin(ra.resources, suffix, false, *specs, alloc_);
    }
    if (kind == "NamespaceTransformer") {
      NamespaceOptions o;
      o.ns = std::string(metadataField(c, "namespace"));
      o.specs = std::move(*specs);
      if (const JsonValue* u = findMember(c, "unsetOnly"); u != nullptr && u->IsBool())
        o.unsetOnly = u->GetBool();
      WINDLASS_RETURN_IF_ERROR(pluginString(c, "setRoleBindingSubjects", where, o.subjects));
      return applyNamespacePlugin(ra.resources, o, alloc_).withContext(where);
    }
    if (kind == "ImageTagTransformer") {
      ImageEntry e;
      if (const JsonValue* t = findMember(c, "imageTag"); t != nullptr && t->IsObject()) {
        WINDLASS_RETURN_IF_ERROR(pluginString(*t, "name", where + ": imageTag", e.name));
        WINDLASS_RETURN_IF_ERROR(pluginString(*t, "newName", where + ": imageTag", e.newName));
        WINDLASS_RETURN_IF_ERROR(pluginString(*t, "newTag", where + ": imageTag", e.newTag));
        WINDLASS_RETURN_IF_ERROR(pluginString(*t, "digest", where + ": imageTag", e.digest));
        WINDLASS_RETURN_IF_ERROR(pluginString(*t, "tagSuffix", where + ": imageTag", e.tagSuffix));
      }
      return applyImages(ra.resources, {e}, *specs, alloc_);
    }
    if (kind == "ReplicaCountTransformer") {
      ReplicaEntry e;
      if (const JsonValue* t = findMember(c, "replica"); t != nullptr && t->IsObject()) {
        WINDLASS_RETURN_IF_ERROR(pluginString(*t, "name", where + ": replica", e.name));
        if (const JsonValue* n = findMember(*t, "count"); n != nullptr && n->IsInt64())
          e.count = n->GetInt64();
      }
      return applyReplicas(ra.resources, {e}, *specs, alloc_).withContext(where);
    }
    if (kind == "PatchTransformer") {
      auto p = readPatchConfig(c, where);
      if (!p) return p.error();
      return applyPatch(k, *p, ra, "transformers");
    }
    if (kind == "PatchStrategicMergeTransformer") {
      // `paths` (files) and `patches` (inline text), each applied as a
      // patchesStrategicMerge entry.
      std::vector<PatchEntry> entries;
      if (const JsonValue* paths = findMember(c, "paths"); paths != nullptr && !paths->IsNull()) {
        if (!paths->IsArray()) return Status::invalidArgument(where + ": paths: expected a list");
        for (const JsonValue& e : paths->GetArray()) {
          if (!e.IsString()) return Status::invalidArgument(where + ": paths: expected strings");
          entries.emplace_back().path = std::string(sv(e));
        }
      }
      std::string inlinePatches;
      WINDLASS_RETURN_IF_ERROR(pluginString(c, "patches", where, inlinePatches));
      if (!inlinePatches.empty()) entries.emplace_back().inlinePatch = inlinePatches;
      if (entries.empty()) {
        return Status::invalidArgument(where + ": empty file path and empty patch content");
      }
      for (const PatchEntry& p : entries) {
        WINDLASS_RETURN_IF_ERROR(
            applyPatch(k, p, ra, "transformers", /*strategicMergeField=*/true));
      }
      return {};
    }
    if (kind == "PatchJson6902Transformer") {
      PatchEntry p;
      p.json6902 = true;
      WINDLASS_RETURN_IF_ERROR(pluginString(c, "path", where, p.path));
      WINDLASS_RETURN_IF_ERROR(pluginString(c, "jsonOp", where, p.inlinePatch));
      if (p.path.empty() == p.inlinePatch.empty()) {
        return Status::invalidArgument(where +
                                       ": exactly one of \"path\" and \"jsonOp\" must be set");
      }
      if (const JsonValue* t = findMember(c, "target"); t != nullptr && t->IsObject()) {
        Selector sel;
        for (auto [field, out] : {std::pair<const char*, std::string*>{"group", &sel.group},
                                  {"version", &sel.version},
                                  {"kind", &sel.kind},
                                  {"name", &sel.name},
                                  {"namespace", &sel.ns},
                                  {"labelSelector", &sel.labelSelector},
                                  {"annotationSelector", &sel.annotationSelector}}) {
          WINDLASS_RETURN_IF_ERROR(pluginString(*t, field, where + ": target", *out));
        }
        p.target = sel;
      }
      if (!p.target) return Status::invalidArgument(where + ": missing \"target\"");
      return applyPatch(k, p, ra, "transformers");
    }
    if (kind == "ReplacementTransformer") {
      const JsonValue* list = findMember(c, "replacements");
      if (list == nullptr || list->IsNull()) return {};
      if (!list->IsArray())
        return Status::invalidArgument(where + ": replacements: expected a list");
      return runReplacementList(k, *list, where + ": replacements", ra);
    }
    if (kind == "ConfigMapGenerator" || kind == "SecretGenerator" ||
        kind == "HelmChartInflationGenerator" || kind == "IAMPolicyGenerator") {
      return Status::invalidArgument(where + ": plugin " + std::string(kind) +
                                     " not a transformer");
    }
    return unsupportedPlugin(where, kind);
  }

  // --- patches --------------------------------------------------------------------

  // `field` names the kustomization field the patch comes from, for messages;
  // `strategicMergeField`: from patchesStrategicMerge (or its builtin transformer).
  // Kustomize applies those and the patches with a target through its resource map, which first
  // sets the patch's apiVersion to the target's and reads the patch's labels and annotations as
  // string maps (a null there becomes the text "null"); a `patches` entry without a target is
  // merged as written (a null deletes).
  Status applyPatch(const Kustomization& k, const PatchEntry& p, Accumulator& ra,
                    std::string_view field, bool strategicMergeField = false) {
    std::string text = p.inlinePatch, name = k.file + " (inline patch)";
    if (!p.path.empty()) {
      auto t = readFile(k, field, p.path, &name);
      if (!t) return t.error();
      text = std::move(*t);
    }
    const bool viaResMap = strategicMergeField || p.target.has_value();
    auto docs =
        parseYaml(text, name, viaResMap ? YamlDialect::kResource : YamlDialect::kPatch, alloc_);
    if (!docs) return docs.error();
    if (docs->empty()) return {};
    bool json6902 = p.json6902 || (*docs)[0].IsArray();
    if (json6902) {
      if (!p.target) return Status::invalidArgument(name + ": a JSON 6902 patch needs a target");
      if (docs->size() != 1 || !(*docs)[0].IsArray()) {
        return Status::invalidArgument(name + ": a JSON 6902 patch must be one list of operations");
      }
      auto hits = selectResources(ra.resources, *p.target);
      if (!hits) return hits.error().withContext(name);
      for (size_t i : *hits) {
        Resource& r = ra.resources[i];
        ResId before = r.curId();
        JsonValue copy(r.obj, alloc_);
        WINDLASS_RETURN_IF_ERROR(
            applyJsonPatch(copy, (*docs)[0], alloc_).withContext(name + ": " + before.describe()));
        r.obj = std::move(copy);
        r.emptyNulls.clear();  // Kustomize patches through JSON, which keeps no empty nulls
        if (!r.curId().equals(before)) r.prevIds.push_back(before);
      }
      return {};
    }
    for (JsonValue& patch : *docs) {
      if (!patch.IsObject()) {
        return Status::invalidArgument(name +
                                       ": unable to parse SM or JSON patch: expected a map "
                                       "or a list of operations");
      }
      if (p.target) {
        auto hits = selectResources(ra.resources, *p.target);
        if (!hits) return hits.error().withContext(name);
        std::vector<size_t> deleted;
        stringMapMetadata(patch);
        for (size_t i : *hits) {
          bool gone = false;
          JsonValue copy(patch, alloc_);
          setMember(copy, "apiVersion",
                    makeString(stringField(ra.resources[i].obj, "apiVersion"), alloc_), alloc_);
          WINDLASS_RETURN_IF_ERROR(applySmp(ra.resources[i], copy, p, name, &gone));
          if (gone) deleted.push_back(i);
        }
        for (auto it = deleted.rbegin(); it != deleted.rend(); ++it) {
          ra.resources.erase(ra.resources.begin() + static_cast<long>(*it));
        }
        continue;
      }
      ResId id = idOf(patch);
      std::vector<size_t> matches;
      for (size_t i = 0; i < ra.resources.size(); ++i) {
        if (ra.resources[i].matchesAnyId(id)) matches.push_back(i);
      }
      if (matches.empty()) {
        return Status::invalidArgument(name + ": no resource matches strategic merge patch \"" +
                                       id.describe() + "\"");
      }
      if (matches.size() > 1) {
        return Status::invalidArgument(name + ": strategic merge patch \"" + id.describe() +
                                       "\" matches more than one resource");
      }
      bool gone = false;
      if (viaResMap) {
        stringMapMetadata(patch);
        setMember(patch, "apiVersion",
                  makeString(stringField(ra.resources[matches[0]].obj, "apiVersion"), alloc_),
                  alloc_);
      }
      WINDLASS_RETURN_IF_ERROR(applySmp(ra.resources[matches[0]], patch, p, name, &gone));
      if (gone) ra.resources.erase(ra.resources.begin() + static_cast<long>(matches[0]));
    }
    return {};
  }

  // A patch's metadata.labels and annotations as Kustomize's resource map reads
  // them: maps of strings, a null value as "null"; an empty or null map is dropped.
  void stringMapMetadata(JsonValue& patch) {
    JsonValue* md = findMember(patch, "metadata");
    if (md == nullptr || !md->IsObject()) return;
    for (const char* field : {"labels", "annotations"}) {
      JsonValue* m = findMember(*md, field);
      if (m == nullptr) continue;
      if (!m->IsObject() || m->ObjectEmpty()) {
        md->RemoveMember(field);
        continue;
      }
      for (auto& e : m->GetObject()) {
        if (e.value.IsString() || e.value.IsObject() || e.value.IsArray()) continue;
        std::string text = "null";
        if (!e.value.IsNull()) {
          text.clear();
          emitYaml(e.value, text);
          if (!text.empty() && text.back() == '\n') text.pop_back();
        }
        e.value.SetString(text.data(), static_cast<rapidjson::SizeType>(text.size()), alloc_);
      }
    }
  }

  Status applySmp(Resource& r, const JsonValue& patch, const PatchEntry& p, const std::string& name,
                  bool* deleted) {
    ResId before = r.curId();
    JsonValue copy(r.obj, alloc_);
    std::vector<std::vector<std::string>> emptyNulls = r.emptyNulls;
    auto outcome = strategicMerge(copy, patch, *mergeSchema_, alloc_, &emptyNulls);
    if (!outcome) return outcome.error().withContext(name + ": " + before.describe());
    if (*outcome == MergeOutcome::kDeleted || !copy.IsObject() || copy.ObjectEmpty()) {
      *deleted = true;
      return {};
    }
    if (!p.allowKindChange) setMember(copy, "kind", makeString(before.gvk.kind, alloc_), alloc_);
    JsonValue& md = ensureObject(copy, "metadata", alloc_);
    if (!p.allowNameChange) setMember(md, "name", makeString(before.name, alloc_), alloc_);
    if (before.ns.empty()) {
      if (md.HasMember("namespace")) md.RemoveMember("namespace");
    } else {
      setMember(md, "namespace", makeString(before.ns, alloc_), alloc_);
    }
    r.obj = std::move(copy);
    r.emptyNulls = std::move(emptyNulls);
    if (!r.curId().equals(before)) r.prevIds.push_back(before);
    return {};
  }

  // --- the end of the build ----------------------------------------------------------

  Status addHashes(ResourceList& list) {
    for (Resource& r : list) {
      if (!r.needsHash) continue;
      auto hash = generatorHash(r.obj);
      if (!hash) return hash.error();
      ResId before = r.curId();
      JsonValue& md = ensureObject(r.obj, "metadata", alloc_);
      setMember(md, "name", makeString(before.name + "-" + *hash, alloc_), alloc_);
      r.prevIds.push_back(before);
    }
    return {};
  }

  static void sortLegacy(ResourceList& list, const std::vector<std::string>& first,
                         const std::vector<std::string>& last) {
    LegacyOrder order(first, last);
    std::vector<std::pair<LegacyOrder::Key, size_t>> keys;
    keys.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) keys.emplace_back(order.key(list[i].obj), i);
    std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
      if (a.first.gvk != b.first.gvk) {
        if (a.first.index != b.first.index) return a.first.index < b.first.index;
        return a.first.gvk < b.first.gvk;
      }
      return a.first.rest < b.first.rest;
    });
    ResourceList sorted;
    for (auto& [key, i] : keys) sorted.push_back(std::move(list[i]));
    list = std::move(sorted);
  }

  const FileSource& fs_;
  JsonAllocator& alloc_;
  const RenderOptions& options_;
  // Real folders (FileSource::realPath) of the kustomizations being built, for
  // cycle detection; its size is the nesting depth.
  std::unordered_set<std::string> building_;
  // The merge schema of strategic merge patches (setSchema).
  const MergeSchema* mergeSchema_ = &MergeSchema::kubernetes();
  MergeSchema customSchema_;  // from an `openapi: {path: ...}`
  bool schemaSet_ = false;
  // The remotes used, shared by the renderers of remote trees (the root's own list).
  std::vector<RemoteUse> ownRemotes_;
  std::vector<RemoteUse>* remotes_ = &ownRemotes_;
  int remoteDepth_ = 0;  // how many remote trees this one is inside
};

}  // namespace

namespace {

// Stack a nested kustomization may take (accumulateTarget recurses once per
// level: about 3 KiB in a release build, more with sanitizers), and the stack of
// everything else.
constexpr size_t kStackPerLevel = 16u << 10;
constexpr size_t kBaseStack = 8u << 20;

struct RenderCall {
  const FileSource& fs;
  const std::string& dir;
  JsonAllocator& alloc;
  const RenderOptions& options;
  std::optional<Result<RenderedSet>> result;
};

void* renderThread(void* arg) {
  auto* call = static_cast<RenderCall*>(arg);
  try {
    call->result.emplace(Renderer(call->fs, call->alloc, call->options).run(call->dir));
  } catch (const JsonAssertion& e) {
    call->result.emplace(Status::internal(call->fs.describe(call->dir) + ": " + e.what()));
  } catch (const std::bad_alloc&) {
    call->result.emplace(Status::resourceExhausted(call->fs.describe(call->dir) +
                                                   ": out of memory while rendering"));
  }
  return nullptr;
}

}  // namespace

Result<RenderedSet> render(const FileSource& fs, const std::string& dir, JsonAllocator& alloc,
                           const RenderOptions& options) {
  // The render runs on a thread of its own whose stack has room for
  // options.maxDepth nested kustomizations (the caller's may be 8 MiB or less).
  // The stack is reserved, not committed: only the depth used is touched.
  RenderCall call{fs, dir, alloc, options, std::nullopt};
  size_t stack = kBaseStack + static_cast<size_t>(std::max(options.maxDepth, 0)) * kStackPerLevel;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  int rc = pthread_attr_setstacksize(&attr, stack);
  pthread_t thread;
  if (rc == 0) rc = pthread_create(&thread, &attr, renderThread, &call);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    return Status::resourceExhausted(fs.describe(dir) +
                                     ": cannot start the render thread: " + std::strerror(rc));
  }
  pthread_join(thread, nullptr);
  return std::move(*call.result);
}

std::string toYaml(const RenderedSet& set) {
  std::string out;
  emitYamlStream(set.objects, out);
  return out;
}

std::string toJson(const RenderedSet& set) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const JsonValue& o : set.objects) o.Accept(w);
  w.EndArray();
  std::string out(buf.GetString(), buf.GetSize());
  out += '\n';
  return out;
}

}  // namespace windlass::overlays
