// The renderer's read-only view of a file tree: a folder on disk or a Git tree.
//
// Paths are relative to the source's root, '/'-separated, already normalised
// (no ".", "..", empty or trailing components); "" names the root itself. Use
// joinPath() and normalisePath() to build them. A source never yields anything
// outside its root: on disk, a symlink that resolves outside the root reads as
// an error, not as the file it points at.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace windlass {

enum class FileKind { kMissing, kFile, kDirectory };

class FileSource {
 public:
  virtual ~FileSource() = default;

  // What `path` is. Anything unreadable or escaping the root is kMissing.
  virtual FileKind kind(std::string_view path) const = 0;

  // The whole content of the regular file at `path`. NotFound when there is no
  // such file, InvalidArgument when it escapes the root or exceeds `maxBytes`.
  virtual Result<std::string> read(std::string_view path, size_t maxBytes) const = 0;

  // `path` with every symlink on the way resolved: the source path of the file or
  // folder it names ("" for the root). NotFound when nothing is there (a dangling
  // symlink included); InvalidArgument when it resolves outside the root. The
  // renderer's load restrictor compares these to keep a kustomization's files in
  // or below its folder.
  virtual Result<std::string> realPath(std::string_view path) const = 0;

  // The entry names (not paths) of the folder at `path`, sorted bytewise.
  virtual Result<std::vector<std::string>> list(std::string_view path) const = 0;

  // A human-readable location for messages, e.g. the absolute disk path.
  virtual std::string describe(std::string_view path) const = 0;
};

// A source over the folder `root` on disk. Thread-safe (no mutable state).
// InvalidArgument when `root` is not a readable folder.
Result<std::unique_ptr<FileSource>> openDiskSource(const std::string& root);

// A source over files held in memory: path → content. Folders are implied by
// the paths. For tests and the fuzz target. Thread-safe.
std::unique_ptr<FileSource> makeMemorySource(std::map<std::string, std::string> files);

// Normalises a relative path: resolves "." and "..", drops empty components.
// InvalidArgument when ".." climbs above the root or the path is absolute.
Result<std::string> normalisePath(std::string_view path);

// dir + "/" + rel, normalised. InvalidArgument as normalisePath.
Result<std::string> joinPath(std::string_view dir, std::string_view rel);

// Whether the source path `path` is `dir` or lies below it ("" is the root,
// which holds every path). Both normalised; compares components, not bytes.
bool isInOrBelow(std::string_view path, std::string_view dir);

// The folder part of `path` ("" for a top-level name) and the last component.
std::string_view parentPath(std::string_view path);
std::string_view baseName(std::string_view path);

}  // namespace windlass
