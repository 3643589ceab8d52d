// The Kustomize-compatible renderer: a kustomization folder in a FileSource →
// the ordered list of objects `kustomize build` (v5.5.0) prints.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/file_source.h"
#include "core/json.h"
#include "core/status.h"
#include "overlays/remote_ref.h"

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
  // Fetches remote bases and files (`resources:` entries such as
  // "https://host/org/repo//path?ref=v1", remote_ref.h). Empty (the default):
  // remote references are refused as Unimplemented, naming the file and field.
  // An error it returns fails the render, prefixed with the kustomization file,
  // the field and the reference. A remote tree renders with the same options, so
  // remotes inside remotes are fetched through it too (at most 20 deep).
  std::function<Result<RemoteTree>(const RemoteRef&)> remote;
};

// A remote reference the render used and what it resolved to.
struct RemoteUse {
  std::string reference;  // as written in the kustomization
  std::string resolved;   // RemoteTree::resolved: a commit id or "sha256:<hex>"
};

struct RenderedSet {
  std::vector<JsonValue> objects;  // in output order, allocated from the caller's allocator
  std::vector<RemoteUse> remotes;  // in the order they were first used, each reference once
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
