#include "overlays/render.h"

#include <doctest/doctest.h>

#include "overlays/transformers.h"

namespace windlass::overlays {
namespace {

Result<std::string> renderFiles(std::map<std::string, std::string> files, const std::string& dir,
                                const RenderOptions& options = {}) {
  auto fs = makeMemorySource(std::move(files));
  JsonAllocator alloc;
  auto set = render(*fs, dir, alloc, options);
  if (!set) return set.error();
  return toYaml(*set);
}

const char* kDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      serviceAccountName: web
      containers:
      - name: web
        image: nginx:1.25
        envFrom:
        - configMapRef:
            name: settings
)";

}  // namespace

TEST_CASE("prefix and generator hash follow into references") {
  auto out = renderFiles(
      {{"base/kustomization.yaml",
        "resources: [web.yaml, sa.yaml]\nconfigMapGenerator:\n- name: settings\n  literals: "
        "[a=b]\n"},
       {"base/web.yaml", kDeployment},
       {"base/sa.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n"},
       {"prod/kustomization.yaml",
        "resources: [../base]\nnamePrefix: prod-\nimages:\n- name: nginx\n  newTag: \"1.26\"\n"}},
      "prod");
  REQUIRE(out);
  CHECK(out->find("name: prod-web\n") != std::string::npos);
  CHECK(out->find("serviceAccountName: prod-web\n") != std::string::npos);
  CHECK(out->find("image: nginx:1.26\n") != std::string::npos);
  // The reference carries the prefix and the content hash, like the ConfigMap's own name.
  size_t cm = out->find("name: prod-settings-");
  REQUIRE(cm != std::string::npos);
  std::string name = out->substr(cm + 6, out->find('\n', cm) - cm - 6);
  CHECK(name.size() == std::string("prod-settings-").size() + 10);
  CHECK(out->find("          name: " + name + "\n") != std::string::npos);
}

TEST_CASE("a resource path that climbs out of the kustomization is refused") {
  auto out = renderFiles({{"app/kustomization.yaml", "resources: [../secret.yaml]\n"},
                          {"secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"}},
                         "app");
  REQUIRE(!out);
  CHECK(out.error().message() ==
        "app/kustomization.yaml: resources: security; file 'secret.yaml' is not in or below 'app'");
  RenderOptions none;
  none.loadRestrictionsNone = true;
  CHECK(renderFiles({{"app/kustomization.yaml", "resources: [../secret.yaml]\n"},
                     {"secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"}},
                    "app", none));
}

TEST_CASE("a path above the source root is refused") {
  auto out = renderFiles({{"kustomization.yaml", "resources: [../../etc/passwd]\n"}}, "");
  REQUIRE(!out);
  CHECK(out.error().message().find("escapes the root") != std::string::npos);
}

TEST_CASE("a kustomization that includes itself is a cycle") {
  auto out = renderFiles({{"a/kustomization.yaml", "resources: [../b]\n"},
                          {"b/kustomization.yaml", "resources: [../a]\n"}},
                         "a");
  REQUIRE(!out);
  CHECK(out.error().message() ==
        "b/kustomization.yaml: cycle detected: '../a' refers back to a kustomization that includes "
        "it");
}

TEST_CASE("remote bases and Helm charts are reported as unsupported") {
  auto remote = renderFiles(
      {{"kustomization.yaml", "resources:\n- https://github.com/org/repo//deploy?ref=v1\n"}}, "");
  REQUIRE(!remote);
  CHECK(remote.error().code() == Code::kUnimplemented);
  CHECK(remote.error().message() ==
        "kustomization.yaml: resources: 'https://github.com/org/repo//deploy?ref=v1' is a remote "
        "reference; remote bases are not supported yet (vendor it into the repository)");
  auto helm = renderFiles({{"kustomization.yaml", "helmCharts:\n- name: x\n"}}, "");
  REQUIRE(!helm);
  CHECK(helm.error().message() ==
        "kustomization.yaml: field \"helmCharts\": Helm charts are not supported by windlass");
}

// A fake fetcher over in-memory trees, one per repository URL; every reference
// resolves to "commit-<ref>". For the renderer's side of remote bases.
struct FakeRemotes {
  std::map<std::string, std::shared_ptr<const FileSource>> repos;
  std::vector<std::string> asked;
  Result<RemoteTree> operator()(const RemoteRef& ref) {
    asked.push_back(ref.url + "@" + ref.ref);
    auto it = repos.find(ref.url);
    if (it == repos.end()) return Status::notFound("no repository " + ref.url);
    return RemoteTree{it->second, ref.path, "commit-" + ref.ref};
  }
};

TEST_CASE("remote bases render through RenderOptions::remote, nested ones too") {
  const char* cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";
  FakeRemotes fake;
  fake.repos["https://git.example/org/base.git"] = makeMemorySource(
      {{"deploy/kustomization.yaml",
        "resources:\n- cm.yaml\n- git@git.example:org/inner.git//x?ref=v9\nnamePrefix: b-\n"},
       {"deploy/cm.yaml", cm}});
  fake.repos["git@git.example:org/inner.git"] =
      makeMemorySource({{"x/kustomization.yaml", "resources: [s.yaml]\n"},
                        {"x/s.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"}});
  RenderOptions options;
  options.remote = [&](const RemoteRef& r) { return fake(r); };
  auto fs = makeMemorySource(
      {{"kustomization.yaml",
        "resources:\n- https://git.example/org/base.git//deploy?ref=v1\nnamespace: prod\n"}});
  JsonAllocator alloc;
  auto set = render(*fs, "", alloc, options);
  REQUIRE_MESSAGE(set, (set ? "" : set.error().message()));
  CHECK(toYaml(*set) ==
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b-cm\n  namespace: prod\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: b-s\n  namespace: prod\n");
  REQUIRE(set->remotes.size() == 2);
  CHECK(set->remotes[0].reference == "https://git.example/org/base.git//deploy?ref=v1");
  CHECK(set->remotes[0].resolved == "commit-v1");
  CHECK(set->remotes[1].reference == "git@git.example:org/inner.git//x?ref=v9");
  CHECK(set->remotes[1].resolved == "commit-v9");

  // A fetch error names the file, the field and the reference.
  auto missing = makeMemorySource(
      {{"kustomization.yaml", "resources:\n- https://git.example/org/none.git//d?ref=v1\n"}});
  auto failed = render(*missing, "", alloc, options);
  REQUIRE(!failed);
  CHECK(failed.error().code() == Code::kNotFound);
  CHECK(failed.error().message() ==
        "kustomization.yaml: resources: 'https://git.example/org/none.git//d?ref=v1': no "
        "repository https://git.example/org/none.git");

  // A folder missing from the remote tree.
  auto noDir = makeMemorySource(
      {{"kustomization.yaml", "resources:\n- https://git.example/org/base.git//nope?ref=v1\n"}});
  auto nd = render(*noDir, "", alloc, options);
  REQUIRE(!nd);
  CHECK(nd.error().message() ==
        "kustomization.yaml: resources: 'https://git.example/org/base.git//nope?ref=v1': no "
        "folder 'nope' at commit-v1");

  // A remote that includes itself stops at the depth limit.
  fake.repos["https://git.example/org/loop.git"] = makeMemorySource(
      {{"kustomization.yaml", "resources:\n- https://git.example/org/loop.git\n"}});
  auto loop = makeMemorySource(
      {{"kustomization.yaml", "resources:\n- https://git.example/org/loop.git\n"}});
  auto looped = render(*loop, "", alloc, options);
  REQUIRE(!looped);
  CHECK(looped.error().message().find("remote bases nested deeper than 20") != std::string::npos);
}

TEST_CASE("a remote component is built into the kustomization that lists it") {
  FakeRemotes fake;
  fake.repos["https://git.example/org/comp.git"] = makeMemorySource(
      {{"c/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonLabels: {tier: "
        "web}\n"},
       {"k/kustomization.yaml", "resources: []\n"}});
  RenderOptions options;
  options.remote = [&](const RemoteRef& r) { return fake(r); };
  auto out = renderFiles(
      {{"kustomization.yaml",
        "resources: [cm.yaml]\ncomponents:\n- https://git.example/org/comp.git//c?ref=v1\n"},
       {"cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"}},
      "", options);
  REQUIRE_MESSAGE(out, (out ? "" : out.error().message()));
  CHECK(*out ==
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    tier: web\n  name: cm\n");
  auto notComponent = renderFiles(
      {{"kustomization.yaml", "components:\n- https://git.example/org/comp.git//k?ref=v1\n"}}, "",
      options);
  REQUIRE(!notComponent);
  CHECK(notComponent.error().message() ==
        "kustomization.yaml: accumulating components: expected kind 'Component' for path "
        "'https://git.example/org/comp.git//k?ref=v1' but got 'Kustomization'");
}

TEST_CASE("a remote file's objects join the resource files") {
  RenderOptions options;
  options.remote = [](const RemoteRef& r) -> Result<RemoteTree> {
    CHECK(r.kind == RemoteRef::Kind::kFile);
    return RemoteTree{
        makeMemorySource({{"f.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f\n"}}),
        "f.yaml", "sha256:abc"};
  };
  auto out = renderFiles(
      {{"kustomization.yaml", "resources:\n- https://files.example/app/f.yaml\nnamePrefix: p-\n"}},
      "", options);
  REQUIRE_MESSAGE(out, (out ? "" : out.error().message()));
  CHECK(*out == "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p-f\n");
}

TEST_CASE("every field that takes a remote reference says remote, naming the file and field") {
  const char* cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";
  struct Case {
    const char* kustomization;
    const char* expected;
  } cases[] = {
      {"resources:\n- github.com/org/repo/deploy?ref=v1\n",
       "k/kustomization.yaml: resources: 'github.com/org/repo/deploy?ref=v1' is a remote "
       "reference; remote bases are not supported yet"},
      {"resources:\n- git@github.com:org/repo.git//deploy?ref=v1\n",
       "k/kustomization.yaml: resources: 'git@github.com:org/repo.git//deploy?ref=v1' is a remote "
       "reference; remote bases are not supported yet"},
      {"configMapGenerator:\n- name: x\n  files: [https://example.com/app.properties]\n",
       "k/kustomization.yaml: configMapGenerator \"x\": files: "
       "'https://example.com/app.properties' "
       "is a remote reference; remote files are not supported yet"},
      {"configMapGenerator:\n- name: x\n  files: [key=https://example.com/a]\n",
       "k/kustomization.yaml: configMapGenerator \"x\": files: 'https://example.com/a' is a remote "
       "reference; remote files are not supported yet"},
      {"secretGenerator:\n- name: x\n  envs: [https://example.com/a.env]\n",
       "k/kustomization.yaml: secretGenerator \"x\": envs: 'https://example.com/a.env' is a remote "
       "reference; remote files are not supported yet"},
      {"resources: [cm.yaml]\npatches:\n- path: https://example.com/p.yaml\n",
       "k/kustomization.yaml: patches: 'https://example.com/p.yaml' is a remote reference; remote "
       "files are not supported yet"},
      {"components:\n- https://github.com/org/repo//comp\n",
       "k/kustomization.yaml: components: 'https://github.com/org/repo//comp' is a remote "
       "reference; remote components are not supported yet"},
      {"resources: [cm.yaml]\ncrds: [https://example.com/crd.json]\n",
       "k/kustomization.yaml: crds: 'https://example.com/crd.json' is a remote reference; remote "
       "files are not supported yet"},
  };
  for (const Case& c : cases) {
    std::string input = c.kustomization;
    CAPTURE(input);
    auto out = renderFiles({{"k/kustomization.yaml", c.kustomization}, {"k/cm.yaml", cm}}, "k");
    REQUIRE(!out);
    std::string got = out.error().message();
    CAPTURE(got);
    CHECK(out.error().code() == Code::kUnimplemented);
    CHECK(out.error().message().rfind(c.expected, 0) == 0);
  }
  // A local file whose name looks like a host is read as the file it is.
  auto local = renderFiles(
      {{"k/kustomization.yaml", "resources: [github.com/cm.yaml]\n"}, {"k/github.com/cm.yaml", cm}},
      "k");
  CHECK_MESSAGE(local, local.error().message());
}

TEST_CASE("apiVersion and kind are checked with Kustomize's words") {
  const char* cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";
  struct Case {
    const char* head;
    const char* error;  // "" when it renders
  } cases[] = {
      {"", ""},
      {"kind: Kustomization\n", ""},
      {"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n", ""},
      {"apiVersion: kustomize.config.k8s.io/v1beta1\n", ""},
      {"apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n", ""},
      {"kind: Component\n", ""},
      {"kind: Foo\n", "k/kustomization.yaml: kind should be Kustomization or Component"},
      {"kind: kustomization\n", "k/kustomization.yaml: kind should be Kustomization or Component"},
      {"apiVersion: v1\n",
       "k/kustomization.yaml: apiVersion for Kustomization should be "
       "kustomize.config.k8s.io/v1beta1"},
      {"apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Kustomization\n",
       "k/kustomization.yaml: apiVersion for Kustomization should be "
       "kustomize.config.k8s.io/v1beta1"},
      {"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Component\n",
       "k/kustomization.yaml: apiVersion for Component should be kustomize.config.k8s.io/v1alpha1"},
      {"apiVersion: v1\nkind: Foo\n",
       "k/kustomization.yaml: kind should be Kustomization or Component; apiVersion for Foo should "
       "be kustomize.config.k8s.io/v1beta1"},
  };
  for (const Case& c : cases) {
    std::string head = c.head;
    CAPTURE(head);
    auto out =
        renderFiles({{"k/kustomization.yaml", std::string(c.head) + "resources: [cm.yaml]\n"},
                     {"k/cm.yaml", cm}},
                    "k");
    if (*c.error == '\0') {
      CHECK_MESSAGE(out, out.error().message());
    } else {
      REQUIRE(!out);
      CHECK(out.error().message() == c.error);
    }
  }
}

TEST_CASE("Components and Kustomizations listed in the wrong field") {
  const char* comp =
      "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnamePrefix: p-\n";
  auto asResource = renderFiles(
      {{"k/kustomization.yaml", "resources: [../c]\n"}, {"c/kustomization.yaml", comp}}, "k");
  REQUIRE(!asResource);
  CHECK(asResource.error().message() ==
        "k/kustomization.yaml: accumulating resources from '../c': expected kind != 'Component' "
        "for path 'c' (list it under components)");
  auto asComponent = renderFiles({{"k/kustomization.yaml", "components: [../b]\n"},
                                  {"b/kustomization.yaml", "namePrefix: p-\n"}},
                                 "k");
  REQUIRE(!asComponent);
  CHECK(asComponent.error().message() ==
        "k/kustomization.yaml: accumulating components: expected kind 'Component' for path 'b' "
        "but got 'Kustomization'");
}

TEST_CASE("patch targets match names and namespaces as Go regexps") {
  std::map<std::string, std::string> files = {
      {"k/cms.yaml",
       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Web-1}\n---\napiVersion: v1\nkind: "
       "ConfigMap\nmetadata: {name: \"\u00fcmlaut\"}\n---\napiVersion: v1\nkind: "
       "ConfigMap\nmetadata: {name: other, namespace: Prod}\n"},
      {"k/kustomization.yaml",
       "resources: [cms.yaml]\npatches:\n"
       "- target: {name: \"(?i)web.*\"}\n  patch: '[{op: add, path: /data, value: {a: \"1\"}}]'\n"
       "- target: {name: \"\\\\pL+\"}\n  patch: '[{op: add, path: /metadata/annotations, "
       "value: {b: \"2\"}}]'\n"
       "- target: {name: \"(?P<n>Web)-\\\\d\"}\n  patch: '[{op: add, path: /metadata/labels, "
       "value: {d: \"4\"}}]'\n"
       "- target: {namespace: \"(?i)prod\"}\n  patch: '[{op: add, path: /metadata/labels, "
       "value: {c: \"3\"}}]'\n"}};
  auto out = renderFiles(files, "k");
  REQUIRE_MESSAGE(out, out.error().message());
  // Kustomize's output (kubectl kustomize, v5.5.0).
  CHECK(*out ==
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    b: \"2\"\n  labels:\n    "
        "c: \"3\"\n  name: other\n  namespace: Prod\n---\napiVersion: v1\ndata:\n  a: \"1\"\nkind: "
        "ConfigMap\nmetadata:\n  labels:\n    d: \"4\"\n  name: Web-1\n---\napiVersion: v1\nkind: "
        "ConfigMap\nmetadata:\n  annotations:\n    b: \"2\"\n  name: \u00fcmlaut\n");
  files["k/kustomization.yaml"] =
      "resources: [cms.yaml]\npatches:\n- target: {name: \"web(\"}\n  patch: '[]'\n";
  auto bad = renderFiles(files, "k");
  REQUIRE(!bad);
  CHECK(bad.error().message().find("target name: invalid regular expression \"web(\": error "
                                   "parsing regexp: missing closing ): `^(?:web()$`") !=
        std::string::npos);
}

TEST_CASE("kustomization errors name the file and the field") {
  auto unknown = renderFiles({{"kustomization.yaml", "patchesJson: []\n"}}, "");
  REQUIRE(!unknown);
  CHECK(unknown.error().message() == "kustomization.yaml: unknown field \"patchesJson\"");
  auto wrongType = renderFiles({{"kustomization.yaml", "resources: web.yaml\n"}}, "");
  REQUIRE(!wrongType);
  CHECK(wrongType.error().message().rfind(
            "kustomization.yaml: field \"resources\": expected a list of strings, found a string",
            0) == 0);
  auto yaml11 = renderFiles({{"kustomization.yaml", "commonLabels:\n  enabled: yes\n"}}, "");
  REQUIRE(!yaml11);
  CHECK(yaml11.error().message().find("commonLabels.enabled") != std::string::npos);
}

TEST_CASE("generator literals need key=value and unique keys") {
  auto bad = renderFiles(
      {{"kustomization.yaml", "configMapGenerator:\n- name: c\n  literals: [JUST_A_KEY]\n"}}, "");
  REQUIRE(!bad);
  CHECK(bad.error().message().find("invalid literal source JUST_A_KEY") != std::string::npos);
  auto dup = renderFiles(
      {{"kustomization.yaml", "configMapGenerator:\n- name: c\n  literals: [a=1, a=2]\n"}}, "");
  REQUIRE(!dup);
  CHECK(dup.error().message().find("illegally repeats the key `a`") != std::string::npos);
}

TEST_CASE("a strategic merge drops fields written with no value, unless JSON came first") {
  // Outputs of kubectl kustomize v5.5.0 on the same trees. The items of a List
  // go through JSON when read, so their empty `labels:` stays.
  const std::map<std::string, std::string> base = {
      {"base/kustomization.yaml", "resources: [deploy.yaml, list.yaml]\n"},
      {"base/deploy.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels:
  template:
    spec:
      containers:
      - name: web
        image: nginx
        resources:
        livenessProbe: ~
      volumes:
      - name: cache
        emptyDir:
)"},
      {"base/list.yaml", R"(apiVersion: v1
kind: ConfigMapList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: listed
    labels:
)"}};
  auto withOverlay = [&](const std::string& kustomization) {
    std::map<std::string, std::string> files = base;
    files["overlay/kustomization.yaml"] = kustomization;
    return files;
  };
  const std::string smp =
      "- patch: '{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {replicas: "
      "2}}'\n";

  auto merged = renderFiles(
      withOverlay("resources: [../base]\npatches:\n" + smp +
                  "- patch: '{apiVersion: v1, kind: ConfigMap, metadata: {name: listed}, data: "
                  "{a: b}}'\n"),
      "overlay");
  REQUIRE_MESSAGE(merged, merged.error().message());
  CHECK(*merged == R"(apiVersion: v1
data:
  a: b
kind: ConfigMap
metadata:
  labels: null
  name: listed
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {}
  template:
    spec:
      containers:
      - image: nginx
        livenessProbe: null
        name: web
      volumes:
      - name: cache
)");

  auto jsonFirst = renderFiles(
      withOverlay("resources: [../base]\npatches:\n- target: {kind: Deployment}\n  patch: |-\n"
                  "    - {op: add, path: /spec/paused, value: true}\n" +
                  smp),
      "overlay");
  REQUIRE_MESSAGE(jsonFirst, jsonFirst.error().message());
  CHECK(*jsonFirst == R"(apiVersion: v1
kind: ConfigMap
metadata:
  labels: null
  name: listed
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  paused: true
  replicas: 2
  selector:
    matchLabels: null
  template:
    spec:
      containers:
      - image: nginx
        livenessProbe: null
        name: web
        resources: null
      volumes:
      - emptyDir: null
        name: cache
)");
}

TEST_CASE("splitImage follows Kustomize with registry ports and digests") {
  CHECK(splitImage("nginx").name == "nginx");
  ImageRef a = splitImage("registry:5000/team/app:1.2@sha256:abc");
  CHECK(a.name == "registry:5000/team/app");
  CHECK(a.tag == "1.2");
  CHECK(a.digest == "sha256:abc");
  ImageRef b = splitImage("registry:5000/app");
  CHECK(b.name == "registry:5000/app");
  CHECK(b.tag.empty());
  ImageRef c = splitImage("app@sha256:def");
  CHECK(c.name == "app");
  CHECK(c.digest == "sha256:def");
}

TEST_CASE("label selectors") {
  JsonDocument d;
  d.Parse(R"({"app":"web","tier":"front"})");
  const JsonValue& labels = d;
  CHECK(*matchesLabelSelector(labels, "app=web"));
  CHECK(*matchesLabelSelector(labels, "app==web,tier"));
  CHECK(!*matchesLabelSelector(labels, "app!=web"));
  CHECK(*matchesLabelSelector(labels, "tier in (back, front)"));
  CHECK(!*matchesLabelSelector(labels, "tier notin (front)"));
  CHECK(*matchesLabelSelector(labels, "!canary"));
  CHECK(!*matchesLabelSelector(labels, "canary"));
}

TEST_CASE("openapi: a custom schema replaces the built-in one for the whole build") {
  // Widget's items merge by name; Deployment is not in the schema, so its containers
  // list is replaced (as kubectl kustomize does). The schema comes from the base: the
  // first kustomization that names one sets it for the rest of the build.
  const char* schema = R"({"definitions": {
    "com.example.v1.Widget": {
      "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Widget"}],
      "properties": {"spec": {"$ref": "#/definitions/com.example.v1.WidgetSpec"}}},
    "com.example.v1.WidgetSpec": {"properties": {"items": {"type": "array",
      "items": {"$ref": "#/definitions/com.example.v1.Item"},
      "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"}}},
    "com.example.v1.Item": {"properties": {"name": {"type": "string"}}}}})";
  const char* resources = R"(apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
spec:
  items: [{name: a, v: 1}, {name: b, v: 2}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      containers: [{name: c1, image: old}, {name: c2, image: old}]
)";
  const char* patches = R"(resources: [../base]
patches:
- patch: '{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {items: [{name: b, v: 20}]}}'
- patch: '{apiVersion: apps/v1, kind: Deployment, metadata: {name: d}, spec: {template: {spec: {containers: [{name: c2, image: new}]}}}}'
)";
  std::map<std::string, std::string> files = {
      {"base/kustomization.yaml", "resources: [r.yaml]\nopenapi:\n  path: schema.json\n"},
      {"base/r.yaml", resources},
      {"base/schema.json", schema},
      {"overlay/kustomization.yaml", patches}};
  auto out = renderFiles(files, "overlay");
  REQUIRE(out);
  CHECK(*out == R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  template:
    spec:
      containers:
      - image: new
        name: c2
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
spec:
  items:
  - name: b
    v: 20
  - name: a
    v: 1
)");
  // Without the schema, Widget's list is replaced and the containers merge.
  files["base/kustomization.yaml"] = "resources: [r.yaml]\n";
  auto builtin = renderFiles(files, "overlay");
  REQUIRE(builtin);
  CHECK(builtin->find("name: c1") != std::string::npos);
  CHECK(builtin->find("name: a\n") == std::string::npos);
}

TEST_CASE("openapi: path and version exclude each other; only v1.21.2 is built in") {
  auto both = renderFiles(
      {{"k/kustomization.yaml", "openapi:\n  path: s.json\n  version: v1.21.2\n"}}, "k");
  REQUIRE(!both);
  CHECK(both.error().message() ==
        "k/kustomization.yaml: field \"openapi\": builtin version and custom schema provided, "
        "cannot use both");
  auto old = renderFiles({{"k/kustomization.yaml", "openapi:\n  version: v1.20.0\n"}}, "k");
  REQUIRE(!old);
  CHECK(old.error().message() ==
        "k/kustomization.yaml: field \"openapi\": the specified OpenAPI version is not built in");
  auto bad = renderFiles({{"k/kustomization.yaml", "openapi:\n  path: s.json\n"},
                          {"k/s.json", "{\"swagger\": \"2.0\"}"}},
                         "k");
  REQUIRE(!bad);
  CHECK(bad.error().message() == "k/s.json: not an OpenAPI v2 document: no \"definitions\" map");
}

TEST_CASE("annotations come out as strings, as Kustomize's map[string]string rewrite leaves them") {
  // Read from YAML: the text; `e:` is "" unless a strategic merge drops it; a JSON
  // patch's values print as the emitter prints them. Template annotations stay typed.
  std::map<std::string, std::string> files = {
      {"k/kustomization.yaml",
       "resources: [r.yaml]\npatches:\n- target: {kind: ConfigMap}\n  patch: '[{op: add, "
       "path: /metadata/annotations/j, value: 1.50}]'\n"},
      {"k/r.yaml",
       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: {x: 1}\n---\n"
       "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    e:\n    n: "
       "null\n    b: yes\n"}};
  auto out = renderFiles(files, "k");
  REQUIRE(out);
  CHECK(*out ==
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    j: \"1.5\"\n    x: "
        "\"1\"\n  name: a\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  annotations:\n    b: "
        "\"yes\"\n    e: \"\"\n    \"n\": \"null\"\n  name: s\n");
  files["k/kustomization.yaml"] =
      "resources: [r.yaml]\npatches:\n- patch: '{apiVersion: v1, kind: Secret, metadata: {name: "
      "s}, type: Opaque}'\n";
  auto merged = renderFiles(files, "k");
  REQUIRE(merged);
  CHECK(merged->find("    e: \"\"") == std::string::npos);  // dropped by the merge
  CHECK(merged->find("\"n\": \"null\"") != std::string::npos);
}

}  // namespace windlass::overlays

namespace windlass::overlays {

TEST_CASE("a chain of 5,000 nested bases renders, in Kustomize's order") {
  std::map<std::string, std::string> files;
  constexpr int kDepth = 5000;
  for (int i = 0; i < kDepth; ++i) {
    std::string dir = "k" + std::to_string(i);
    files[dir + "/cm.yaml"] =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-" + std::to_string(i) + "\n";
    std::string k = "resources:\n- cm.yaml\n";
    if (i + 1 < kDepth) k += "- ../k" + std::to_string(i + 1) + "\n";
    if (i == 0) k += "sortOptions:\n  order: fifo\n";
    files[dir + "/kustomization.yaml"] = k;
  }
  auto out = renderFiles(files, "k0");
  REQUIRE_MESSAGE(out, out.error().message());
  // FIFO: each kustomization's own file first, then its base's objects.
  size_t a = out->find("name: cm-0\n"), b = out->find("name: cm-1\n"),
         c = out->find("name: cm-4999\n");
  CHECK(a < b);
  CHECK(b < c);
  CHECK(c != std::string::npos);
  RenderOptions shallow;
  shallow.maxDepth = 100;
  auto limited = renderFiles(files, "k0", shallow);
  REQUIRE(!limited);
  CHECK(limited.error().message() ==
        "k99/kustomization.yaml: kustomizations nested deeper than 100");
}

TEST_CASE("duplicate ids across nested bases are still found") {
  const char* cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n";
  // Deep in the chain, and from a base whose patch renames into a clash.
  auto dup = renderFiles({{"a/kustomization.yaml", "resources: [cm.yaml, ../b]\n"},
                          {"a/cm.yaml", cm},
                          {"b/kustomization.yaml", "resources: [../c]\n"},
                          {"c/kustomization.yaml", "resources: [cm.yaml]\n"},
                          {"c/cm.yaml", cm}},
                         "a");
  REQUIRE(!dup);
  CHECK(dup.error().message() ==
        "a/kustomization.yaml: may not add resource with an already registered id: ConfigMap "
        "same");
  auto renamed = renderFiles(
      {{"a/kustomization.yaml", "resources: [../b]\n"},
       {"b/kustomization.yaml",
        "resources: [one.yaml, ../c]\npatches:\n- target: {name: other}\n  options: "
        "{allowNameChange: true}\n  patch: |-\n    - {op: replace, path: /metadata/name, value: "
        "one}\n"},
       {"b/one.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n"},
       {"c/kustomization.yaml", "resources: [other.yaml]\n"},
       {"c/other.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n"},
       {"top/kustomization.yaml", "resources: [../a, x.yaml]\n"},
       {"top/x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n"}},
      "top");
  REQUIRE(!renamed);
  CHECK(renamed.error().message().find("already registered id: ConfigMap one") !=
        std::string::npos);
}

TEST_CASE("Kustomize's cluster-scoped table goes by group, version and kind") {
  CHECK(isKustomizeClusterScoped({"flowcontrol.apiserver.k8s.io", "v1beta1", "FlowSchema"}));
  CHECK_FALSE(isKustomizeClusterScoped({"flowcontrol.apiserver.k8s.io", "v1", "FlowSchema"}));
  CHECK_FALSE(isKustomizeClusterScoped(
      {"admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy"}));
  CHECK(isKustomizeClusterScoped({"", "v1", "Namespace"}));
  CHECK_FALSE(isKustomizeClusterScoped({"example.com", "v1", "Namespace"}));
  CHECK(isKustomizeClusterScoped({"apiregistration.k8s.io", "v1", "APIService"}));
  // The cluster's view (apply order) still knows the newer kinds.
  CHECK(isClusterScopedKind("ValidatingAdmissionPolicy"));
}

TEST_CASE("transformer configs that are not builtin, or not run by windlass, are refused") {
  const std::string cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
  auto external =
      renderFiles({{"k/kustomization.yaml", "resources: [cm.yaml]\ntransformers: [t.yaml]\n"},
                   {"k/cm.yaml", cm},
                   {"k/t.yaml", "apiVersion: example.com/v1\nkind: Mine\nmetadata:\n  name: t\n"}},
                  "k");
  REQUIRE_FALSE(external);
  CHECK(external.error().code() == Code::kUnimplemented);
  CHECK(external.error().message().find("transformers: Mine t: external plugins are not "
                                        "supported") != std::string::npos);
  auto hash =
      renderFiles({{"k/kustomization.yaml",
                    "resources: [cm.yaml]\ntransformers:\n- |\n  apiVersion: builtin\n  kind: "
                    "HashTransformer\n  metadata:\n    name: h\n"},
                   {"k/cm.yaml", cm}},
                  "k");
  REQUIRE_FALSE(hash);
  CHECK(hash.error().code() == Code::kUnimplemented);
  CHECK(hash.error().message().find("builtin plugin HashTransformer is not supported") !=
        std::string::npos);
  auto generator =
      renderFiles({{"k/kustomization.yaml",
                    "resources: [cm.yaml]\ntransformers:\n- |\n  apiVersion: builtin\n  kind: "
                    "ConfigMapGenerator\n  metadata:\n    name: g\n"},
                   {"k/cm.yaml", cm}},
                  "k");
  REQUIRE_FALSE(generator);
  CHECK(generator.error().message().find("plugin ConfigMapGenerator not a transformer") !=
        std::string::npos);
}

TEST_CASE("a replacement into a missing field names the field") {
  auto out = renderFiles(
      {{"k/kustomization.yaml",
        "resources: [r.yaml]\nreplacements:\n- source: {kind: ConfigMap, name: a, fieldPath: "
        "data.x}\n  targets:\n  - select: {kind: ConfigMap}\n    fieldPaths: [data.missing]\n"},
       {"k/r.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: y\n"}},
      "k");
  REQUIRE_FALSE(out);
  CHECK(out.error().message().find(
            "ConfigMap a: unable to find field \"data.missing\" in replacement target") !=
        std::string::npos);
}

}  // namespace windlass::overlays
