// The Kustomize-compatible renderer: a kustomization folder in a FileSource →
// the ordered list of objects `kustomize build` (v5.5.0) prints.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/file_source.h"
#include "core/json.h"
#include "core/status.h"

namespace windlass::overlays {

struct RenderOptions {
  // Kustomize's --load-restrictor=LoadRestrictionsNone: files a kustomization
  // reads (patches, generator sources, resource files) may lie outside its own
  // folder. Default false: they must be in or below it, as in Kustomize. The
  // FileSource's root is a hard limit either way.
  bool loadRestrictionsNone = false;
  // Largest file read, in bytes. Default 64 MiB.
  size_t maxFileBytes = 64u << 20;
  // Deepest chain of kustomizations (overlays of overlays, bases of bases).
  // Kustomize has no limit; this bounds the render thread's stack (16 KiB a
  // level, reserved, not committed). Default 20,000.
  int maxDepth = 20000;
};

struct RenderedSet {
  std::vector<JsonValue> objects;  // in output order, allocated from the caller's allocator
};

// Renders the kustomization in folder `dir` of `fs`. Objects are allocated from
// `alloc`, which must outlive the result. Errors are InvalidArgument (bad
// input, naming the file and field), NotFound (a missing file or folder) or
// Unimplemented (a Kustomize feature windlass does not support, such as remote
// bases or Helm charts). Thread-compatible: one render per allocator at a time.
// The work runs on a thread of its own (for its stack) while the caller waits.
Result<RenderedSet> render(const FileSource& fs, const std::string& dir, JsonAllocator& alloc,
                           const RenderOptions& options = {});

// The rendered set as Kustomize prints it: documents joined by "---\n".
std::string toYaml(const RenderedSet& set);
// As a JSON list (one object per line is not promised; valid JSON is).
std::string toJson(const RenderedSet& set);

}  // namespace windlass::overlays
