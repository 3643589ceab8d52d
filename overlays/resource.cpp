#include "overlays/resource.h"

#include <algorithm>
#include <array>

namespace windlass::overlays {

std::string Gvk::sortString() const {
  std::string s = group.empty() ? "~G" : group;
  s += '_';
  s += version.empty() ? "~V" : version;
  s += '_';
  s += kind.empty() ? "~K" : kind;
  return s;
}

bool isClusterScopedKind(std::string_view kind) {
  static constexpr std::array<std::string_view, 32> kKinds = {"APIService",
                                                              "CSIDriver",
                                                              "CSINode",
                                                              "CertificateSigningRequest",
                                                              "ClusterIssuer",
                                                              "ClusterRole",
                                                              "ClusterRoleBinding",
                                                              "ClusterTrustBundle",
                                                              "ComponentStatus",
                                                              "CustomResourceDefinition",
                                                              "FlowSchema",
                                                              "IngressClass",
                                                              "MutatingAdmissionPolicy",
                                                              "MutatingAdmissionPolicyBinding",
                                                              "MutatingWebhookConfiguration",
                                                              "Namespace",
                                                              "Node",
                                                              "PersistentVolume",
                                                              "PodSecurityPolicy",
                                                              "PriorityClass",
                                                              "PriorityLevelConfiguration",
                                                              "RuntimeClass",
                                                              "SelfSubjectAccessReview",
                                                              "SelfSubjectRulesReview",
                                                              "StorageClass",
                                                              "StorageVersionMigration",
                                                              "SubjectAccessReview",
                                                              "TokenReview",
                                                              "ValidatingAdmissionPolicy",
                                                              "ValidatingAdmissionPolicyBinding",
                                                              "ValidatingWebhookConfiguration",
                                                              "VolumeAttachment"};
  return std::find(kKinds.begin(), kKinds.end(), kind) != kKinds.end();
}

bool isKustomizeClusterScoped(const Gvk& gvk) {
  // The group/versions and kinds Kustomize v5.5 knows to be cluster-scoped: those
  // of its built-in OpenAPI schema (Kubernetes 1.21). Any other kind, newer
  // built-in kinds included, is namespaced there.
  struct Row {
    std::string_view apiVersion;
    std::string_view kinds;  // space-separated
  };
  static constexpr Row kRows[] = {
      {"admissionregistration.k8s.io/v1",
       "MutatingWebhookConfiguration ValidatingWebhookConfiguration"},
      {"admissionregistration.k8s.io/v1beta1",
       "MutatingWebhookConfiguration ValidatingWebhookConfiguration"},
      {"apiextensions.k8s.io/v1", "CustomResourceDefinition"},
      {"apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"},
      {"apiregistration.k8s.io/v1", "APIService"},
      {"apiregistration.k8s.io/v1beta1", "APIService"},
      {"certificates.k8s.io/v1", "CertificateSigningRequest"},
      {"certificates.k8s.io/v1beta1", "CertificateSigningRequest"},
      {"flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema PriorityLevelConfiguration"},
      {"networking.k8s.io/v1", "IngressClass"},
      {"networking.k8s.io/v1beta1", "IngressClass"},
      {"node.k8s.io/v1", "RuntimeClass"},
      {"node.k8s.io/v1beta1", "RuntimeClass"},
      {"policy/v1beta1", "PodSecurityPolicy"},
      {"rbac.authorization.k8s.io/v1", "ClusterRole ClusterRoleBinding"},
      {"rbac.authorization.k8s.io/v1beta1", "ClusterRole ClusterRoleBinding"},
      {"scheduling.k8s.io/v1", "PriorityClass"},
      {"scheduling.k8s.io/v1beta1", "PriorityClass"},
      {"storage.k8s.io/v1", "CSIDriver CSINode StorageClass VolumeAttachment"},
      {"storage.k8s.io/v1beta1", "CSIDriver CSINode StorageClass VolumeAttachment"},
      {"v1", "ComponentStatus Namespace Node NodeProxyOptions PersistentVolume"},
  };
  std::string apiVersion = gvk.group.empty() ? gvk.version : gvk.group + "/" + gvk.version;
  for (const Row& row : kRows) {
    if (row.apiVersion != apiVersion) continue;
    std::string_view kinds = row.kinds;
    while (!kinds.empty()) {
      size_t sp = kinds.find(' ');
      if (kinds.substr(0, sp) == gvk.kind) return true;
      if (sp == std::string_view::npos) break;
      kinds.remove_prefix(sp + 1);
    }
    return false;
  }
  return false;
}

int legacyKindOrder(std::string_view kind) {
  static constexpr std::array<std::string_view, 22> kFirst = {"Namespace",
                                                              "ResourceQuota",
                                                              "StorageClass",
                                                              "CustomResourceDefinition",
                                                              "ServiceAccount",
                                                              "PodSecurityPolicy",
                                                              "Role",
                                                              "ClusterRole",
                                                              "RoleBinding",
                                                              "ClusterRoleBinding",
                                                              "ConfigMap",
                                                              "Secret",
                                                              "Endpoints",
                                                              "Service",
                                                              "LimitRange",
                                                              "PriorityClass",
                                                              "PersistentVolume",
                                                              "PersistentVolumeClaim",
                                                              "Deployment",
                                                              "StatefulSet",
                                                              "CronJob",
                                                              "PodDisruptionBudget"};
  static constexpr std::array<std::string_view, 2> kLast = {"MutatingWebhookConfiguration",
                                                            "ValidatingWebhookConfiguration"};
  for (size_t i = 0; i < kFirst.size(); ++i) {
    if (kFirst[i] == kind) return -static_cast<int>(kFirst.size()) + static_cast<int>(i);
  }
  for (size_t i = 0; i < kLast.size(); ++i) {
    if (kLast[i] == kind) return 1 + static_cast<int>(i);
  }
  return 0;
}

bool ResId::isClusterScoped() const { return isKustomizeClusterScoped(gvk); }

std::string ResId::effectiveNamespace() const {
  if (isClusterScoped()) return "_non_namespaceable_";
  return ns.empty() ? "default" : ns;
}

bool ResId::equals(const ResId& o) const {
  if (!(gvk == o.gvk) || name != o.name) return false;
  auto norm = [](const std::string& n) -> std::string_view {
    return n.empty() ? std::string_view("default") : std::string_view(n);
  };
  return norm(ns) == norm(o.ns);
}

std::string ResId::describe() const {
  std::string s = gvk.kind.empty() ? std::string("<no kind>") : gvk.kind;
  s += ' ';
  if (!ns.empty()) s += ns + "/";
  s += name;
  return s;
}

Gvk parseApiVersion(std::string_view apiVersion, std::string_view kind) {
  Gvk g;
  size_t slash = apiVersion.find('/');
  if (slash == std::string_view::npos) {
    g.version = apiVersion;
  } else {
    g.group = apiVersion.substr(0, slash);
    g.version = apiVersion.substr(slash + 1);
  }
  g.kind = kind;
  return g;
}

const JsonValue* findMember(const JsonValue& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    if (std::string_view(it->name.GetString(), it->name.GetStringLength()) == key) {
      return &it->value;
    }
  }
  return nullptr;
}

JsonValue* findMember(JsonValue& obj, std::string_view key) {
  return const_cast<JsonValue*>(findMember(static_cast<const JsonValue&>(obj), key));
}

std::string_view stringField(const JsonValue& obj, std::string_view key) {
  const JsonValue* v = findMember(obj, key);
  if (v == nullptr || !v->IsString()) return {};
  return {v->GetString(), v->GetStringLength()};
}

std::string_view metadataField(const JsonValue& obj, std::string_view key) {
  const JsonValue* md = findMember(obj, "metadata");
  return md == nullptr ? std::string_view() : stringField(*md, key);
}

JsonValue makeString(std::string_view s, JsonAllocator& alloc) {
  return JsonValue(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

void setMember(JsonValue& obj, std::string_view key, JsonValue value, JsonAllocator& alloc) {
  if (JsonValue* v = findMember(obj, key)) {
    *v = std::move(value);
    return;
  }
  obj.AddMember(makeString(key, alloc), value, alloc);
}

JsonValue& ensureObject(JsonValue& obj, std::string_view key, JsonAllocator& alloc) {
  JsonValue* v = findMember(obj, key);
  if (v == nullptr) {
    obj.AddMember(makeString(key, alloc), JsonValue(rapidjson::kObjectType), alloc);
    v = findMember(obj, key);
  } else if (!v->IsObject()) {
    v->SetObject();
  }
  return *v;
}

ResId idOf(const JsonValue& obj) {
  ResId id;
  id.gvk = parseApiVersion(stringField(obj, "apiVersion"), stringField(obj, "kind"));
  id.name = metadataField(obj, "name");
  id.ns = metadataField(obj, "namespace");
  return id;
}

ResId Resource::curId() const { return idOf(obj); }

void Resource::storePreviousId() { prevIds.push_back(curId()); }

bool Resource::matchesAnyId(const ResId& id) const {
  if (orgId.equals(id)) return true;
  for (const ResId& p : prevIds) {
    if (p.equals(id)) return true;
  }
  return curId().equals(id);
}

}  // namespace windlass::overlays
