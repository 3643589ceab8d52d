#include "core/file_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace windlass {

Result<std::string> normalisePath(std::string_view path) {
  if (!path.empty() && path.front() == '/') {
    return Status::invalidArgument("absolute path \"" + std::string(path) + "\" is not allowed");
  }
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(pos, end - pos);
    if (part == "..") {
      if (parts.empty()) {
        return Status::invalidArgument("path \"" + std::string(path) + "\" escapes the root");
      }
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = end + 1;
  }
  std::string out;
  for (std::string_view p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

Result<std::string> joinPath(std::string_view dir, std::string_view rel) {
  if (!rel.empty() && rel.front() == '/') {
    return Status::invalidArgument("absolute path \"" + std::string(rel) + "\" is not allowed");
  }
  std::string joined(dir);
  if (!joined.empty() && !rel.empty()) joined += '/';
  joined += rel;
  return normalisePath(joined);
}

bool isInOrBelow(std::string_view path, std::string_view dir) {
  if (dir.empty() || path == dir) return true;
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

std::string_view parentPath(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string_view baseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

namespace {

class DiskSource final : public FileSource {
 public:
  explicit DiskSource(std::string root) : root_(std::move(root)) {}

  FileKind kind(std::string_view path) const override {
    std::string real;
    if (!resolve(path, &real)) return FileKind::kMissing;
    struct stat st {};
    if (::stat(real.c_str(), &st) != 0) return FileKind::kMissing;
    if (S_ISDIR(st.st_mode)) return FileKind::kDirectory;
    if (S_ISREG(st.st_mode)) return FileKind::kFile;
    return FileKind::kMissing;
  }

  Result<std::string> read(std::string_view path, size_t maxBytes) const override {
    std::string real;
    if (!resolve(path, &real)) {
      if (exists(path)) {
        return Status::invalidArgument(describe(path) + ": resolves outside the root " + root_);
      }
      return Status::notFound(describe(path) + ": no such file");
    }
    int fd = ::open(real.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::notFound(describe(path) + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::invalidArgument(describe(path) + ": not a regular file");
    }
    if (static_cast<size_t>(st.st_size) > maxBytes) {
      ::close(fd);
      return Status::invalidArgument(describe(path) + ": file is larger than the limit of " +
                                     std::to_string(maxBytes) + " bytes");
    }
    std::string data(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < data.size()) {
      ssize_t n = ::read(fd, data.data() + got, data.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    data.resize(got);
    return data;
  }

  Result<std::string> realPath(std::string_view path) const override {
    char buf[PATH_MAX];
    if (::realpath(describe(path).c_str(), buf) == nullptr) {
      return Status::notFound(describe(path) + ": " + std::strerror(errno));
    }
    std::string_view r = buf;
    if (!inside(r)) {
      return Status::invalidArgument(describe(path) + ": resolves to " + std::string(r) +
                                     ", outside the root " + root_);
    }
    if (r == root_) return std::string();
    return std::string(r.substr(root_ == "/" ? 1 : root_.size() + 1));
  }

  Result<std::vector<std::string>> list(std::string_view path) const override {
    std::string real;
    if (!resolve(path, &real)) return Status::notFound(describe(path) + ": no such folder");
    DIR* dir = ::opendir(real.c_str());
    if (dir == nullptr) return Status::notFound(describe(path) + ": " + std::strerror(errno));
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(dir)) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string describe(std::string_view path) const override {
    if (path.empty()) return root_;
    std::string out = root_;
    if (out != "/") out += '/';
    out += path;
    return out;
  }

 private:
  bool exists(std::string_view path) const {
    struct stat st {};
    return ::lstat(describe(path).c_str(), &st) == 0;
  }

  // The real path of `path`, when it exists and stays inside the root.
  bool resolve(std::string_view path, std::string* real) const {
    char buf[PATH_MAX];
    if (::realpath(describe(path).c_str(), buf) == nullptr) return false;
    if (!inside(buf)) return false;
    *real = buf;
    return true;
  }

  bool inside(std::string_view r) const {
    return r == root_ || root_ == "/" ||
           (r.size() > root_.size() && r.compare(0, root_.size(), root_) == 0 &&
            r[root_.size()] == '/');
  }

  std::string root_;  // real path, no trailing slash (except "/")
};

class MemorySource final : public FileSource {
 public:
  explicit MemorySource(std::map<std::string, std::string> files) : files_(std::move(files)) {}

  FileKind kind(std::string_view path) const override {
    if (files_.count(std::string(path)) > 0) return FileKind::kFile;
    if (path.empty()) return FileKind::kDirectory;
    std::string prefix = std::string(path) + "/";
    auto it = files_.lower_bound(prefix);
    if (it != files_.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
      return FileKind::kDirectory;
    }
    return FileKind::kMissing;
  }

  Result<std::string> read(std::string_view path, size_t maxBytes) const override {
    auto it = files_.find(std::string(path));
    if (it == files_.end()) return Status::notFound(describe(path) + ": no such file");
    if (it->second.size() > maxBytes) {
      return Status::invalidArgument(describe(path) + ": file is larger than the limit of " +
                                     std::to_string(maxBytes) + " bytes");
    }
    return it->second;
  }

  Result<std::string> realPath(std::string_view path) const override {
    if (kind(path) == FileKind::kMissing) {
      return Status::notFound(describe(path) + ": no such file or folder");
    }
    return std::string(path);
  }

  Result<std::vector<std::string>> list(std::string_view path) const override {
    if (kind(path) != FileKind::kDirectory)
      return Status::notFound(describe(path) + ": no such folder");
    std::string prefix = path.empty() ? std::string() : std::string(path) + "/";
    std::vector<std::string> names;
    for (auto it = files_.lower_bound(prefix);
         it != files_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      std::string rest = it->first.substr(prefix.size());
      std::string name = rest.substr(0, rest.find('/'));
      if (names.empty() || names.back() != name) names.push_back(name);
    }
    return names;
  }

  std::string describe(std::string_view path) const override { return std::string(path); }

 private:
  std::map<std::string, std::string> files_;
};

}  // namespace

std::unique_ptr<FileSource> makeMemorySource(std::map<std::string, std::string> files) {
  return std::make_unique<MemorySource>(std::move(files));
}

Result<std::unique_ptr<FileSource>> openDiskSource(const std::string& root) {
  char buf[PATH_MAX];
  if (::realpath(root.c_str(), buf) == nullptr) {
    return Status::invalidArgument(root + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::invalidArgument(root + ": not a folder");
  }
  return std::unique_ptr<FileSource>(new DiskSource(buf));
}

}  // namespace windlass
