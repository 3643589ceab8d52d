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
        "app/kustomization.yaml: security; file '../secret.yaml' is not in or below 'app'");
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
  auto helm = renderFiles({{"kustomization.yaml", "helmCharts:\n- name: x\n"}}, "");
  REQUIRE(!helm);
  CHECK(helm.error().message() ==
        "kustomization.yaml: field \"helmCharts\": Helm charts are not supported by windlass");
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
