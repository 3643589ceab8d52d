// A kustomization file read into plain fields, with every field checked for
// its type before anything is rendered.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/file_source.h"
#include "core/json.h"
#include "core/status.h"
#include "overlays/field_spec.h"

namespace windlass::overlays {

// Which resources a patch or replacement applies to. Empty fields match all;
// name and namespace are anchored regular expressions.
struct Selector {
  std::string group, version, kind, name, ns, labelSelector, annotationSelector;
};

struct PatchEntry {
  std::string path;         // a file relative to the kustomization, or
  std::string inlinePatch;  // the patch text itself
  std::optional<Selector> target;
  bool allowNameChange = false;
  bool allowKindChange = false;
  bool json6902 = false;  // from the legacy patchesJson6902 field
};

struct ImageEntry {
  std::string name, newName, newTag, digest, tagSuffix;
};

struct ReplicaEntry {
  std::string name;
  int64_t count = 0;
};

struct LabelEntry {
  std::map<std::string, std::string> pairs;
  bool includeSelectors = false;
  bool includeTemplates = false;
  std::vector<FieldSpec> fieldSpecs;
};

struct GeneratorOptions {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::optional<bool> disableNameSuffixHash;
  std::optional<bool> immutable;
};

struct GeneratorEntry {
  bool secret = false;
  std::string name, ns, behavior, type;
  std::vector<std::string> literals, files, envs;
  GeneratorOptions options;
};

struct Kustomization {
  std::string file;  // the kustomization file, as FileSource::describe names it
  // Its folder with symlinks resolved (FileSource::realPath), as Kustomize roots
  // a kustomization: relative paths are joined to it, and the files it reads must
  // stay in or below it (LoadRestrictionsRootOnly).
  std::string dir;
  bool component = false;
  std::string namePrefix, nameSuffix, nameSpace;
  std::map<std::string, std::string> commonLabels, commonAnnotations;
  std::map<std::string, std::string> openApi;  // `openapi:`: "path" or "version"
  std::vector<LabelEntry> labels;
  std::vector<std::string> resources;  // resources + legacy bases, in order
  std::vector<std::string> components, crds, configurations;
  std::vector<PatchEntry> patchesStrategicMerge, patches, patchesJson6902;
  std::vector<ImageEntry> images;
  std::vector<ReplicaEntry> replicas;
  std::vector<GeneratorEntry> generators;  // ConfigMaps first, then Secrets
  GeneratorOptions generatorOptions;
  const JsonValue* replacements = nullptr;  // the raw list, read by the replacement step
  const JsonValue* vars = nullptr;
  const JsonValue* transformers = nullptr;
  bool sortFifo = false;
  bool hasSortOptions = false;
  std::vector<std::string> orderFirst, orderLast;
};

// The kustomization file names Kustomize accepts, in its order of preference.
inline constexpr const char* kKustomizationFileNames[] = {"kustomization.yaml", "kustomization.yml",
                                                          "Kustomization"};

// Finds and reads the kustomization in `dir`. NotFound when the folder has none
// (a kustomization file that is a symlink to a file outside `dir` counts as
// none, as in Kustomize); InvalidArgument (naming the file and field) when it is
// malformed, including a wrong apiVersion or kind. The returned
// raw pointers point into values allocated from `alloc`.
Result<Kustomization> loadKustomization(const FileSource& fs, const std::string& dir,
                                        JsonAllocator& alloc);

}  // namespace windlass::overlays
