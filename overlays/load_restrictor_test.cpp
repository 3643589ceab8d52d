// The load restrictor on disk: every field that names a file refuses one that,
// symlinks resolved, lies outside the kustomization's folder, as Kustomize's
// LoadRestrictionsRootOnly does; LoadRestrictionsNone lifts it.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "overlays/render.h"

namespace windlass::overlays {
namespace {

namespace fs = std::filesystem;

// A temporary folder holding `app/` (the kustomization) and `outside/` (files it
// must not read), removed on destruction.
class Tree {
 public:
  Tree() {
    char tmpl[] = "/tmp/windlass-restrict-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    root_ = fs::canonical(tmpl).string();
    fs::create_directories(root_ + "/app");
    fs::create_directories(root_ + "/outside");
  }
  ~Tree() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories(fs::path(root_ + "/" + rel).parent_path());
    std::ofstream(root_ + "/" + rel) << text;
  }
  void link(const std::string& target, const std::string& rel) const {
    fs::create_directories(fs::path(root_ + "/" + rel).parent_path());
    fs::create_symlink(target, root_ + "/" + rel);
  }
  const std::string& root() const { return root_; }

  // Renders app/ as `windlass render` does outside a Git work tree (the source is
  // the whole disk) or inside one (the source is the tree's folder).
  Result<std::string> render(bool wholeDisk, bool none = false) const {
    auto src = openDiskSource(wholeDisk ? "/" : root_);
    if (!src) return src.error();
    RenderOptions options;
    options.loadRestrictionsNone = none;
    JsonAllocator alloc;
    std::string dir = wholeDisk ? root_.substr(1) + "/app" : "app";
    auto set = overlays::render(**src, dir, alloc, options);
    if (!set) return set.error();
    return toYaml(*set);
  }

 private:
  std::string root_;
};

const char* kConfigMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";

// What each field needs to read the file `F`, and what the file holds so that
// the render succeeds when the restrictor is lifted.
struct FieldCase {
  const char* field;
  const char* kustomization;  // "F" stands for the file's path
  const char* content;
};

const FieldCase kCases[] = {
    {"resources", "resources: [F]\n", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"},
    {"patchesStrategicMerge", "resources: [cm.yaml]\npatchesStrategicMerge: [F]\n",
     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n"},
    {"patches", "resources: [cm.yaml]\npatches:\n- path: F\n",
     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n"},
    {"patchesJson6902",
     "resources: [cm.yaml]\npatchesJson6902:\n- path: F\n  target: {version: v1, kind: ConfigMap, "
     "name: cm}\n",
     "- {op: add, path: /data, value: {a: b}}\n"},
    {"configMapGenerator \"x\": files", "configMapGenerator:\n- name: x\n  files: [F]\n",
     "secret\n"},
    {"configMapGenerator \"x\": envs", "configMapGenerator:\n- name: x\n  envs: [F]\n", "A=1\n"},
    {"secretGenerator \"x\": files", "secretGenerator:\n- name: x\n  files: [key=F]\n", "k\n"},
    {"openapi.path", "resources: [cm.yaml]\nopenapi:\n  path: F\n", "definitions: {}\n"},
    {"configurations", "resources: [cm.yaml]\nconfigurations: [F]\n", "nameReference: []\n"},
    {"transformers", "resources: [cm.yaml]\ntransformers: [F]\n",
     "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\nlabels:\n  a: b\n"
     "fieldSpecs:\n- path: metadata/labels\n  create: true\n"},
    {"crds", "resources: [cm.yaml]\ncrds: [F]\n", "{}\n"},
    {"replacements.path", "resources: [cm.yaml]\nreplacements:\n- path: F\n", "[]\n"},
};

std::string withFile(const char* kustomization, const std::string& file) {
  std::string out = kustomization;
  size_t at;
  while ((at = out.find("[F]")) != std::string::npos) out.replace(at, 3, "[" + file + "]");
  while ((at = out.find("=F]")) != std::string::npos) out.replace(at, 3, "=" + file + "]");
  while ((at = out.find(": F\n")) != std::string::npos) out.replace(at, 4, ": " + file + "\n");
  return out;
}

}  // namespace

TEST_CASE("etc -> /etc: a generator cannot read /etc/passwd (the reported hole)") {
  Tree t;
  t.link("/etc", "app/etc");
  t.write("app/kustomization.yaml", "configMapGenerator:\n- name: x\n  files: [etc/passwd]\n");
  for (bool wholeDisk : {true, false}) {
    CAPTURE(wholeDisk);
    auto out = t.render(wholeDisk);
    REQUIRE(!out);
    CHECK(out.error().code() == Code::kInvalidArgument);
    // Inside a Git work tree the message goes on to say where the link leads.
    CHECK(out.error().message().rfind(
              t.root() +
                  "/app/kustomization.yaml: configMapGenerator \"x\": files: security; file '" +
                  t.root() + "/app/etc/passwd' is not in or below '" + t.root() + "/app'",
              0) == 0);
  }
  // Lifted outside a Git work tree, as Kustomize; inside one the tree's folder
  // stays a hard limit.
  auto none = t.render(/*wholeDisk=*/true, /*none=*/true);
  REQUIRE_MESSAGE(none, none.error().message());
  CHECK(none->find("  passwd: |\n    root:") != std::string::npos);
  CHECK(!t.render(/*wholeDisk=*/false, /*none=*/true));
}

TEST_CASE("every field that names a file is restricted, through a symlink and through ../") {
  for (const FieldCase& c : kCases) {
    for (bool viaLink : {true, false}) {
      std::string field = c.field;
      CAPTURE(field);
      CAPTURE(viaLink);
      Tree t;
      t.write("app/cm.yaml", kConfigMap);
      t.write("outside/f.yaml", c.content);
      std::string file = viaLink ? "link/f.yaml" : "../outside/f.yaml";
      if (viaLink) t.link(t.root() + "/outside", "app/link");
      t.write("app/kustomization.yaml", withFile(c.kustomization, file));
      for (bool wholeDisk : {true, false}) {
        CAPTURE(wholeDisk);
        auto out = t.render(wholeDisk);
        REQUIRE(!out);
        std::string shown = t.root() + (viaLink ? "/app/link/f.yaml" : "/outside/f.yaml");
        CHECK(out.error().message() == t.root() + "/app/kustomization.yaml: " + c.field +
                                           ": security; file '" + shown + "' is not in or below '" +
                                           t.root() + "/app'");
        auto none = t.render(wholeDisk, /*none=*/true);
        CHECK_MESSAGE(none, none.error().message());
      }
      // The same file inside the folder is read.
      t.write("app/in/f.yaml", c.content);
      t.write("app/kustomization.yaml", withFile(c.kustomization, "in/f.yaml"));
      auto in = t.render(true);
      CHECK_MESSAGE(in, in.error().message());
    }
  }
}

TEST_CASE("a symlink that stays inside the folder is followed") {
  Tree t;
  t.write("app/data/real.txt", "hello\n");
  t.link("data/real.txt", "app/alias.txt");
  t.write("app/kustomization.yaml", "configMapGenerator:\n- name: x\n  files: [alias.txt]\n");
  auto out = t.render(true);
  REQUIRE_MESSAGE(out, out.error().message());
  CHECK(out->find("  alias.txt: |\n    hello\n") != std::string::npos);
}

TEST_CASE("a component's files are restricted to the component's folder") {
  Tree t;
  t.write("app/secret.txt", "s\n");
  t.write("app/comp/kustomization.yaml",
          "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nconfigMapGenerator:\n"
          "- name: x\n  files: [../secret.txt]\n");
  t.write("app/kustomization.yaml", "components: [comp]\n");
  auto out = t.render(true);
  REQUIRE(!out);
  CHECK(out.error().message() == t.root() +
                                     "/app/comp/kustomization.yaml: configMapGenerator \"x\": "
                                     "files: security; file '" +
                                     t.root() + "/app/secret.txt' is not in or below '" + t.root() +
                                     "/app/comp'");
  CHECK(t.render(true, /*none=*/true));
}

TEST_CASE("a base reached through a symlink is restricted to its real folder") {
  Tree t;
  // app/base -> ../outside/base: the base itself may live anywhere (as in
  // Kustomize), but its files must be below its real folder.
  t.write("outside/base/kustomization.yaml", "resources: [../secret.yaml]\n");
  t.write("outside/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n");
  t.link("../outside/base", "app/base");
  t.write("app/kustomization.yaml", "resources: [base]\n");
  auto out = t.render(true);
  REQUIRE(!out);
  // Kustomize roots the base at its real folder: "../secret.yaml" is outside/secret.yaml.
  CHECK(out.error().message() ==
        t.root() + "/outside/base/kustomization.yaml: resources: security; file '" + t.root() +
            "/outside/secret.yaml' is not in or below '" + t.root() + "/outside/base'");
  t.write("outside/base/kustomization.yaml", "resources: [s.yaml]\n");
  t.write("outside/base/s.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n");
  CHECK(t.render(true));
}

TEST_CASE("a symlinked kustomization.yaml counts only when its file is in the folder") {
  Tree t;
  t.write("app/cm.yaml", kConfigMap);
  t.write("app/real.yaml", "resources: [cm.yaml]\n");
  t.link("real.yaml", "app/kustomization.yaml");
  auto out = t.render(true);
  REQUIRE_MESSAGE(out, out.error().message());
  CHECK(out->find("name: cm") != std::string::npos);
  // Pointing outside the folder, it is as if there were none (Kustomize's words).
  fs::remove(t.root() + "/app/kustomization.yaml");
  t.write("outside/k.yaml", "resources: [cm.yaml]\n");
  t.link("../outside/k.yaml", "app/kustomization.yaml");
  for (bool wholeDisk : {true, false}) {
    auto bad = t.render(wholeDisk);
    REQUIRE(!bad);
    CHECK(bad.error().message() ==
          "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in "
          "directory '" +
              t.root() + "/app'");
  }
  // Also when it is a base.
  t.write("top/kustomization.yaml", "resources: [../app]\n");
  auto src = openDiskSource("/");
  REQUIRE(src);
  JsonAllocator alloc;
  auto set = overlays::render(**src, t.root().substr(1) + "/top", alloc);
  REQUIRE(!set);
  CHECK(set.error().message().find("accumulating resources from '../app': unable to find one of "
                                   "'kustomization.yaml'") != std::string::npos);
}

TEST_CASE("a cycle through a symlinked folder is found") {
  Tree t;
  t.link(".", "app/again");
  t.write("app/kustomization.yaml", "resources: [again]\n");
  auto out = t.render(true);
  REQUIRE(!out);
  CHECK(out.error().message().find("cycle detected: 'again'") != std::string::npos);
}

}  // namespace windlass::overlays
