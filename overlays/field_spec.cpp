#include "overlays/field_spec.h"

#include <algorithm>

namespace windlass::overlays {

bool FieldSpec::selects(const Gvk& g) const {
  return (gvk.group.empty() || gvk.group == g.group) &&
         (gvk.version.empty() || gvk.version == g.version) &&
         (gvk.kind.empty() || gvk.kind == g.kind);
}

std::vector<std::string> splitFieldPath(std::string_view path, std::vector<size_t>* lookupOnly) {
  std::vector<std::string> parts;
  std::string cur;
  auto finish = [&] {
    bool list = cur.size() >= 2 && cur.compare(cur.size() - 2, 2, "[]") == 0;
    if (list) cur.resize(cur.size() - 2);
    if (cur.empty()) return;
    if (list && lookupOnly != nullptr) lookupOnly->push_back(parts.size());
    parts.push_back(std::move(cur));
    cur.clear();
  };
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '\\' && i + 1 < path.size() && path[i + 1] == '/') {
      cur += '/';
      ++i;
    } else if (c == '/') {
      finish();
    } else {
      cur += c;
    }
  }
  finish();
  return parts;
}

namespace {

void addUnique(std::vector<FieldSpec>& to, const FieldSpec& fs) {
  if (std::find(to.begin(), to.end(), fs) == to.end()) to.push_back(fs);
}

void mergeSpecs(std::vector<FieldSpec>& to, const std::vector<FieldSpec>& from) {
  for (const FieldSpec& fs : from) addUnique(to, fs);
}

FieldSpec fs(std::string_view path, std::string_view kind = {}, std::string_view group = {},
             bool create = false, std::string_view version = {}) {
  FieldSpec f;
  f.gvk.group = group;
  f.gvk.version = version;
  f.gvk.kind = kind;
  f.path = splitFieldPath(path, &f.lookupOnly);
  f.create = create;
  return f;
}

// The workload kinds and the path of their pod template's spec.
struct PodSpecHolder {
  std::string_view kind;
  std::string_view group;
  std::string_view podSpec;  // path to the PodSpec
  std::string_view meta;     // path to the pod template's metadata ("" for Pod)
};
constexpr PodSpecHolder kPodHolders[] = {
    {"Pod", "", "spec", ""},
    {"PodTemplate", "", "template/spec", "template/metadata"},
    {"ReplicationController", "", "spec/template/spec", "spec/template/metadata"},
    {"Deployment", "", "spec/template/spec", "spec/template/metadata"},
    {"ReplicaSet", "", "spec/template/spec", "spec/template/metadata"},
    {"DaemonSet", "", "spec/template/spec", "spec/template/metadata"},
    {"StatefulSet", "apps", "spec/template/spec", "spec/template/metadata"},
    {"Job", "batch", "spec/template/spec", "spec/template/metadata"},
    {"CronJob", "batch", "spec/jobTemplate/spec/template/spec",
     "spec/jobTemplate/spec/template/metadata"},
};

std::string cat(std::string_view a, std::string_view b) {
  std::string s(a);
  s += '/';
  s += b;
  return s;
}

// Adds `sub` under the pod spec of every workload kind.
void podPaths(std::vector<FieldSpec>& to, std::string_view sub) {
  for (const PodSpecHolder& h : kPodHolders)
    addUnique(to, fs(cat(h.podSpec, sub), h.kind, h.group));
}

NameBackReference backRef(std::string_view kind, std::string_view group, std::string_view version) {
  NameBackReference r;
  r.gvk.kind = kind;
  r.gvk.group = group;
  r.gvk.version = version;
  return r;
}

TransformerConfig makeBuiltin() {
  TransformerConfig c;
  c.namePrefix.push_back(fs("metadata/name"));
  c.nameSuffix.push_back(fs("metadata/name"));

  c.nameSpace.push_back(fs("metadata/namespace", {}, {}, true));
  c.nameSpace.push_back(fs("metadata/name", "Namespace", {}, true));
  c.nameSpace.push_back(fs("subjects", "RoleBinding", "rbac.authorization.k8s.io"));
  c.nameSpace.push_back(fs("subjects", "ClusterRoleBinding", "rbac.authorization.k8s.io"));
  c.nameSpace.push_back(fs("spec/service/namespace", "APIService", "apiregistration.k8s.io", true));
  c.nameSpace.push_back(fs("spec/conversion/webhook/clientConfig/service/namespace",
                           "CustomResourceDefinition", "apiextensions.k8s.io"));

  // Labels: selectors and templates (includeSelectors), templates only (includeTemplates).
  auto& L = c.commonLabels;
  L.push_back(fs("metadata/labels", {}, {}, true));
  L.push_back(fs("spec/selector", "Service", {}, true, "v1"));
  L.push_back(fs("spec/selector", "ReplicationController", {}, true, "v1"));
  L.push_back(fs("spec/template/metadata/labels", "ReplicationController", {}, true, "v1"));
  for (std::string_view k : {"Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"}) {
    std::string_view g = k == "StatefulSet" ? "apps" : "";
    L.push_back(fs("spec/selector/matchLabels", k, g, true));
    L.push_back(fs("spec/template/metadata/labels", k, g, true));
    if (k == "Deployment" || k == "StatefulSet") {
      for (std::string_view aff : {"podAffinity", "podAntiAffinity"}) {
        L.push_back(fs(cat(cat("spec/template/spec/affinity", aff),
                           "preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/"
                           "labelSelector/matchLabels"),
                       k, "apps"));
        L.push_back(
            fs(cat(cat("spec/template/spec/affinity", aff),
                   "requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels"),
               k, "apps"));
      }
      L.push_back(
          fs("spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", k, "apps"));
    }
    if (k == "StatefulSet")
      L.push_back(fs("spec/volumeClaimTemplates[]/metadata/labels", k, g, true));
  }
  L.push_back(fs("spec/selector/matchLabels", "Job", "batch"));
  L.push_back(fs("spec/template/metadata/labels", "Job", "batch", true));
  L.push_back(fs("spec/jobTemplate/spec/selector/matchLabels", "CronJob", "batch"));
  L.push_back(fs("spec/jobTemplate/metadata/labels", "CronJob", "batch", true));
  L.push_back(fs("spec/jobTemplate/spec/template/metadata/labels", "CronJob", "batch", true));
  L.push_back(fs("spec/selector/matchLabels", "PodDisruptionBudget", "policy"));
  L.push_back(fs("spec/podSelector/matchLabels", "NetworkPolicy", "networking.k8s.io"));
  L.push_back(
      fs("spec/ingress/from/podSelector/matchLabels", "NetworkPolicy", "networking.k8s.io"));
  L.push_back(fs("spec/egress/to/podSelector/matchLabels", "NetworkPolicy", "networking.k8s.io"));

  auto& T = c.templateLabels;
  T.push_back(fs("spec/template/metadata/labels", "ReplicationController", {}, true, "v1"));
  for (std::string_view k : {"Deployment", "ReplicaSet", "DaemonSet"}) {
    T.push_back(fs("spec/template/metadata/labels", k, {}, true));
  }
  T.push_back(fs("spec/template/metadata/labels", "StatefulSet", "apps", true));
  T.push_back(fs("spec/volumeClaimTemplates[]/metadata/labels", "StatefulSet", "apps", true));
  T.push_back(fs("spec/template/metadata/labels", "Job", "batch", true));
  T.push_back(fs("spec/jobTemplate/metadata/labels", "CronJob", "batch", true));
  T.push_back(fs("spec/jobTemplate/spec/template/metadata/labels", "CronJob", "batch", true));

  auto& A = c.commonAnnotations;
  A.push_back(fs("metadata/annotations", {}, {}, true));
  A.push_back(fs("spec/template/metadata/annotations", "ReplicationController", {}, true, "v1"));
  for (std::string_view k : {"Deployment", "ReplicaSet", "DaemonSet"}) {
    A.push_back(fs("spec/template/metadata/annotations", k, {}, true));
  }
  A.push_back(fs("spec/template/metadata/annotations", "StatefulSet", "apps", true));
  A.push_back(fs("spec/template/metadata/annotations", "Job", "batch", true));
  A.push_back(fs("spec/jobTemplate/metadata/annotations", "CronJob", "batch", true));
  A.push_back(fs("spec/jobTemplate/spec/template/metadata/annotations", "CronJob", "batch", true));

  for (std::string_view p :
       {"spec/containers/image", "spec/initContainers/image", "spec/template/spec/containers/image",
        "spec/template/spec/initContainers/image"}) {
    c.images.push_back(fs(p, {}, {}, true));
  }

  for (std::string_view k : {"Deployment", "ReplicationController", "ReplicaSet", "StatefulSet"}) {
    c.replicas.push_back(fs("spec/replicas", k, {}, true));
  }

  // $(VAR) references.
  for (std::string_view sub :
       {"containers/args", "containers/command", "containers/env/value", "initContainers/args",
        "initContainers/command", "initContainers/env/value", "volumes/nfs/server"}) {
    podPaths(c.varReference, sub);
  }
  c.varReference.push_back(fs("metadata/annotations"));
  c.varReference.push_back(fs("spec/rules/host", "Ingress"));
  c.varReference.push_back(fs("spec/tls/hosts", "Ingress"));
  c.varReference.push_back(fs("spec/tls/secretName", "Ingress"));
  c.varReference.push_back(fs("spec/serviceName", "StatefulSet", "apps"));
  c.varReference.push_back(fs("spec/service/name", "APIService"));
  c.varReference.push_back(fs("webhooks/clientConfig/service", "MutatingWebhookConfiguration"));
  c.varReference.push_back(fs("webhooks/clientConfig/service", "ValidatingWebhookConfiguration"));

  // Name references.
  for (std::string_view k : {"Deployment", "ReplicationController", "ReplicaSet", "StatefulSet"}) {
    auto r = backRef(k, {}, {});
    r.referrers.push_back(fs("spec/scaleTargetRef/name", "HorizontalPodAutoscaler"));
    c.nameReference.push_back(std::move(r));
  }
  {
    auto r = backRef("ConfigMap", {}, "v1");
    for (std::string_view sub :
         {"volumes/configMap/name", "containers/env/valueFrom/configMapKeyRef/name",
          "initContainers/env/valueFrom/configMapKeyRef/name",
          "containers/envFrom/configMapRef/name", "initContainers/envFrom/configMapRef/name",
          "volumes/projected/sources/configMap/name",
          "ephemeralContainers/env/valueFrom/configMapKeyRef/name",
          "ephemeralContainers/envFrom/configMapRef/name"}) {
      podPaths(r.referrers, sub);
    }
    r.referrers.push_back(fs("spec/configSource/configMap", "Node"));
    c.nameReference.push_back(std::move(r));
  }
  {
    auto r = backRef("Secret", {}, "v1");
    for (std::string_view sub :
         {"volumes/secret/secretName", "containers/env/valueFrom/secretKeyRef/name",
          "initContainers/env/valueFrom/secretKeyRef/name", "containers/envFrom/secretRef/name",
          "initContainers/envFrom/secretRef/name", "imagePullSecrets/name",
          "volumes/projected/sources/secret/name", "volumes/csi/nodePublishSecretRef/name",
          "ephemeralContainers/env/valueFrom/secretKeyRef/name",
          "ephemeralContainers/envFrom/secretRef/name"}) {
      podPaths(r.referrers, sub);
    }
    r.referrers.push_back(fs("spec/tls/secretName", "Ingress"));
    r.referrers.push_back(fs("imagePullSecrets/name", "ServiceAccount"));
    r.referrers.push_back(fs("secrets/name", "ServiceAccount"));
    r.referrers.push_back(fs("parameters/secretName", "StorageClass"));
    c.nameReference.push_back(std::move(r));
  }
  {
    auto r = backRef("Service", {}, "v1");
    r.referrers.push_back(fs("spec/serviceName", "StatefulSet", "apps"));
    r.referrers.push_back(fs("spec/rules/http/paths/backend/serviceName", "Ingress"));
    r.referrers.push_back(fs("spec/backend/serviceName", "Ingress"));
    r.referrers.push_back(fs("spec/rules/http/paths/backend/service/name", "Ingress"));
    r.referrers.push_back(fs("spec/defaultBackend/service/name", "Ingress"));
    r.referrers.push_back(fs("spec/service/name", "APIService", "apiregistration.k8s.io"));
    r.referrers.push_back(fs("webhooks/clientConfig/service", "ValidatingWebhookConfiguration"));
    r.referrers.push_back(fs("webhooks/clientConfig/service", "MutatingWebhookConfiguration"));
    r.referrers.push_back(
        fs("spec/conversion/webhook/clientConfig/service", "CustomResourceDefinition"));
    c.nameReference.push_back(std::move(r));
  }
  {
    auto r = backRef("Role", "rbac.authorization.k8s.io", {});
    r.referrers.push_back(fs("roleRef/name", "RoleBinding", "rbac.authorization.k8s.io"));
    c.nameReference.push_back(std::move(r));
  }
  {
    auto r = backRef("ClusterRole", "rbac.authorization.k8s.io", {});
    r.referrers.push_back(fs("roleRef/name", "RoleBinding", "rbac.authorization.k8s.io"));
    r.referrers.push_back(fs("roleRef/name", "ClusterRoleBinding", "rbac.authorization.k8s.io"));
    c.nameReference.push_back(std::move(r));
  }
  {
    auto r = backRef("ServiceAccount", {}, "v1");
    r.referrers.push_back(fs("subjects", "RoleBinding", "rbac.authorization.k8s.io"));
    r.referrers.push_back(fs("subjects", "ClusterRoleBinding", "rbac.authorization.k8s.io"));
    podPaths(r.referrers, "serviceAccountName");
    podPaths(r.referrers, "serviceAccount");
    c.nameReference.push_back(std::move(r));
  }
  {
    auto r = backRef("PersistentVolumeClaim", {}, "v1");
    podPaths(r.referrers, "volumes/persistentVolumeClaim/claimName");
    c.nameReference.push_back(std::move(r));
  }
  {
    auto r = backRef("PersistentVolume", {}, "v1");
    r.referrers.push_back(fs("spec/volumeName", "PersistentVolumeClaim"));
    c.nameReference.push_back(std::move(r));
  }
  {
    auto r = backRef("StorageClass", "storage.k8s.io", {});
    r.referrers.push_back(fs("spec/storageClassName", "PersistentVolume"));
    r.referrers.push_back(fs("spec/storageClassName", "PersistentVolumeClaim"));
    r.referrers.push_back(fs("spec/volumeClaimTemplates/spec/storageClassName", "StatefulSet"));
    c.nameReference.push_back(std::move(r));
  }
  {
    auto r = backRef("PriorityClass", "scheduling.k8s.io", {});
    podPaths(r.referrers, "priorityClassName");
    c.nameReference.push_back(std::move(r));
  }
  {
    auto r = backRef("IngressClass", "networking.k8s.io", {});
    r.referrers.push_back(fs("spec/ingressClassName", "Ingress"));
    c.nameReference.push_back(std::move(r));
  }
  return c;
}

}  // namespace

void TransformerConfig::merge(const TransformerConfig& o) {
  mergeSpecs(namePrefix, o.namePrefix);
  mergeSpecs(nameSuffix, o.nameSuffix);
  mergeSpecs(nameSpace, o.nameSpace);
  mergeSpecs(commonLabels, o.commonLabels);
  mergeSpecs(templateLabels, o.templateLabels);
  mergeSpecs(commonAnnotations, o.commonAnnotations);
  mergeSpecs(images, o.images);
  mergeSpecs(replicas, o.replicas);
  mergeSpecs(varReference, o.varReference);
  for (const NameBackReference& br : o.nameReference) {
    auto it = std::find_if(nameReference.begin(), nameReference.end(),
                           [&](const NameBackReference& x) { return x.gvk == br.gvk; });
    if (it == nameReference.end()) {
      nameReference.push_back(br);
    } else {
      mergeSpecs(it->referrers, br.referrers);
    }
  }
}

const TransformerConfig& builtinConfig() {
  static const TransformerConfig config = makeBuiltin();
  return config;
}

Result<FieldSpec> parseFieldSpec(const JsonValue& v, std::string_view where) {
  if (!v.IsObject())
    return Status::invalidArgument(std::string(where) + ": expected a field spec map");
  FieldSpec f;
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    const JsonValue& val = it->value;
    if (key == "create") {
      if (!val.IsBool()) {
        return Status::invalidArgument(std::string(where) + ": field \"create\" must be a bool");
      }
      f.create = val.GetBool();
      continue;
    }
    if (!val.IsString()) {
      return Status::invalidArgument(std::string(where) + ": field \"" + std::string(key) +
                                     "\" must be a string");
    }
    std::string_view s(val.GetString(), val.GetStringLength());
    if (key == "group") {
      f.gvk.group = s;
    } else if (key == "version") {
      f.gvk.version = s;
    } else if (key == "kind") {
      f.gvk.kind = s;
    } else if (key == "path") {
      f.lookupOnly.clear();
      f.path = splitFieldPath(s, &f.lookupOnly);
    } else if (key != "behavior") {
      return Status::invalidArgument(std::string(where) + ": unknown field \"" + std::string(key) +
                                     "\"");
    }
  }
  if (f.path.empty()) return Status::invalidArgument(std::string(where) + ": missing \"path\"");
  return f;
}

namespace {

Status parseSpecList(const JsonValue& list, std::string_view where, std::vector<FieldSpec>& out) {
  if (list.IsNull()) return {};
  if (!list.IsArray()) return Status::invalidArgument(std::string(where) + ": expected a list");
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    auto f = parseFieldSpec(list[i], std::string(where) + "[" + std::to_string(i) + "]");
    if (!f) return f.error();
    addUnique(out, *f);
  }
  return {};
}

}  // namespace

Result<TransformerConfig> parseTransformerConfig(const JsonValue& doc, std::string_view file) {
  TransformerConfig c;
  if (doc.IsNull()) return c;
  if (!doc.IsObject()) return Status::invalidArgument(std::string(file) + ": expected a map");
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string key(it->name.GetString(), it->name.GetStringLength());
    std::string where = std::string(file) + ": " + key;
    std::vector<FieldSpec>* target = nullptr;
    if (key == "namePrefix")
      target = &c.namePrefix;
    else if (key == "nameSuffix")
      target = &c.nameSuffix;
    else if (key == "namespace")
      target = &c.nameSpace;
    else if (key == "commonLabels")
      target = &c.commonLabels;
    else if (key == "templateLabels")
      target = &c.templateLabels;
    else if (key == "commonAnnotations")
      target = &c.commonAnnotations;
    else if (key == "images")
      target = &c.images;
    else if (key == "replicas")
      target = &c.replicas;
    else if (key == "varReference")
      target = &c.varReference;
    if (target != nullptr) {
      WINDLASS_RETURN_IF_ERROR(parseSpecList(it->value, where, *target));
      continue;
    }
    if (key != "nameReference") {
      return Status::invalidArgument(where + ": unknown transformer configuration field");
    }
    const JsonValue& list = it->value;
    if (list.IsNull()) continue;
    if (!list.IsArray()) return Status::invalidArgument(where + ": expected a list");
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      const JsonValue& e = list[i];
      std::string ewhere = where + "[" + std::to_string(i) + "]";
      if (!e.IsObject()) return Status::invalidArgument(ewhere + ": expected a map");
      NameBackReference br;
      br.gvk.group = stringField(e, "group");
      br.gvk.version = stringField(e, "version");
      br.gvk.kind = stringField(e, "kind");
      if (const JsonValue* specs = findMember(e, "fieldSpecs")) {
        WINDLASS_RETURN_IF_ERROR(parseSpecList(*specs, ewhere + ".fieldSpecs", br.referrers));
      }
      TransformerConfig one;
      one.nameReference.push_back(std::move(br));
      c.merge(one);
    }
  }
  return c;
}

namespace {

Status visitAt(JsonValue& node, const std::vector<std::string>& path, size_t i, bool create,
               const std::vector<size_t>& lookupOnly, JsonAllocator& alloc,
               const std::function<Status(JsonValue&)>& fn) {
  if (node.IsArray()) {
    for (auto& el : node.GetArray())
      WINDLASS_RETURN_IF_ERROR(visitAt(el, path, i, create, lookupOnly, alloc, fn));
    return {};
  }
  if (i == path.size()) return fn(node);
  if (!node.IsObject()) return {};
  bool mayCreate = create && std::find(lookupOnly.begin(), lookupOnly.end(), i) == lookupOnly.end();
  JsonValue* child = findMember(node, path[i]);
  if (child == nullptr) {
    if (!mayCreate) return {};
    JsonValue fresh(i + 1 == path.size() ? rapidjson::kNullType : rapidjson::kObjectType);
    node.AddMember(makeString(path[i], alloc), fresh, alloc);
    child = &(node.MemberEnd() - 1)->value;
  } else if (child->IsNull() && mayCreate && i + 1 < path.size()) {
    child->SetObject();
  }
  return visitAt(*child, path, i + 1, create, lookupOnly, alloc, fn);
}

}  // namespace

Status visitField(JsonValue& obj, const std::vector<std::string>& path, bool create,
                  JsonAllocator& alloc, const std::function<Status(JsonValue&)>& fn) {
  if (path.empty()) return {};
  return visitAt(obj, path, 0, create, {}, alloc, fn);
}

Status visitFieldSpec(JsonValue& obj, const FieldSpec& spec, JsonAllocator& alloc,
                      const std::function<Status(JsonValue&)>& fn) {
  if (spec.path.empty()) return {};
  return visitAt(obj, spec.path, 0, spec.create, spec.lookupOnly, alloc, fn);
}

Status visitFieldSpecs(JsonValue& obj, const std::vector<FieldSpec>& specs, JsonAllocator& alloc,
                       const std::function<Status(JsonValue&)>& fn) {
  Gvk g = parseApiVersion(stringField(obj, "apiVersion"), stringField(obj, "kind"));
  for (const FieldSpec& f : specs) {
    if (!f.selects(g)) continue;
    WINDLASS_RETURN_IF_ERROR(visitFieldSpec(obj, f, alloc, fn));
  }
  return {};
}

}  // namespace windlass::overlays
