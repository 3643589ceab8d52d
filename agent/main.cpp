// windlass: the command line.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/file_source.h"
#include "core/json.h"
#include "overlays/render.h"

namespace windlass::agent {
namespace {

constexpr const char* kVersion = "0.1.0";

constexpr const char* kUsage = R"(windlass: a GitOps pull-agent with a Kustomize-compatible renderer

Usage:
  windlass render DIR [-o yaml|json] [--load-restrictor=LoadRestrictionsRootOnly|LoadRestrictionsNone]
      Print what `kustomize build DIR` (Kustomize v5.5) prints.
  windlass version
      Print the version.
  windlass --help
      Print this help.

Exit status: 0 on success, 2 on a usage error, 1 when rendering fails (the
message on stderr names the file and field).
)";

int usageError(const std::string& msg) {
  std::fprintf(stderr, "windlass: %s\n(see `windlass --help`)\n", msg.c_str());
  return 2;
}

// The folder the renderer may read: the Git work tree holding `dir`, or "/".
std::string repositoryRoot(const std::string& realDir) {
  std::string cur = realDir;
  while (true) {
    if (::access((cur + "/.git").c_str(), F_OK) == 0) return cur;
    size_t slash = cur.rfind('/');
    if (slash == std::string::npos || cur == "/") return "/";
    cur = slash == 0 ? "/" : cur.substr(0, slash);
    if (cur == "/") return "/";
  }
}

int render(const std::vector<std::string>& args) {
  std::string dir, output = "yaml";
  overlays::RenderOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "-o" || a == "--output") {
      if (i + 1 == args.size()) return usageError("-o needs a value: yaml or json");
      output = args[++i];
    } else if (a.rfind("-o", 0) == 0 && a.size() > 2 && a[2] != '-') {
      output = a.substr(2);
    } else if (a.rfind("--output=", 0) == 0) {
      output = a.substr(9);
    } else if (a.rfind("--load-restrictor", 0) == 0) {
      std::string value;
      if (a == "--load-restrictor") {
        if (i + 1 == args.size()) return usageError("--load-restrictor needs a value");
        value = args[++i];
      } else if (a.rfind("--load-restrictor=", 0) == 0) {
        value = a.substr(18);
      } else {
        return usageError("unknown flag " + std::string(a));
      }
      if (value == "LoadRestrictionsNone") {
        options.loadRestrictionsNone = true;
      } else if (value != "LoadRestrictionsRootOnly") {
        return usageError("--load-restrictor must be LoadRestrictionsRootOnly or LoadRestrictionsNone");
      }
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      return usageError("unknown flag " + std::string(a));
    } else if (dir.empty()) {
      dir = a;
    } else {
      return usageError("render takes one folder");
    }
  }
  if (dir.empty()) dir = ".";
  if (output != "yaml" && output != "json") return usageError("-o must be yaml or json");
  char real[PATH_MAX];
  if (::realpath(dir.c_str(), real) == nullptr) {
    std::fprintf(stderr, "windlass: %s: %s\n", dir.c_str(), std::strerror(errno));
    return 1;
  }
  std::string realDir = real;
  std::string root = repositoryRoot(realDir);
  auto source = openDiskSource(root);
  if (!source) {
    std::fprintf(stderr, "windlass: %s\n", source.error().message().c_str());
    return 1;
  }
  std::string rel = root == "/" ? realDir.substr(1)
                                : (realDir == root ? std::string() : realDir.substr(root.size() + 1));
  JsonAllocator alloc;
  auto set = overlays::render(**source, rel, alloc, options);
  if (!set) {
    std::fprintf(stderr, "windlass: render failed: %s\n", set.error().message().c_str());
    return 1;
  }
  std::string out = output == "json" ? overlays::toJson(*set) : overlays::toYaml(*set);
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "windlass: writing the output failed: %s\n", std::strerror(errno));
    return 1;
  }
  return 0;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    std::printf("windlass %s\n", kVersion);
    return 0;
  }
  if (cmd == "render" || cmd == "build") return render(args);
  return usageError("unknown command \"" + cmd + "\"");
}

}  // namespace
}  // namespace windlass::agent

int main(int argc, char** argv) { return windlass::agent::run(argc, argv); }
