#include "overlays/merge_schema.h"

#include <string>

#include "overlays/resource.h"

namespace windlass::overlays {
namespace {

// One field of the built-in table. `keys` is space-separated; a list row with no
// keys is a merged list of primitives.
struct FieldRow {
  std::string_view owner;
  std::string_view field;
  bool list;
  std::string_view child;  // object type, or element type of a list ("" for none)
  std::string_view keys;
};

// Written from the Kubernetes 1.21 API reference (the version Kustomize 5.5
// embeds): every list with patch strategy "merge" and the object fields that
// lead to one. Lists not named here (tolerations, args, Ingress rules, Role
// rules, volumeClaimTemplates, HPA metrics, ...) are atomic: a patch replaces them.
constexpr FieldRow kFieldRows[] = {
    {"ObjectMeta", "finalizers", true, "", ""},
    {"ObjectMeta", "ownerReferences", true, "", "uid"},
    {"Object", "metadata", false, "ObjectMeta", ""},

    {"ConditionsStatus", "conditions", true, "", "type"},

    {"Container", "env", true, "", "name"},
    {"Container", "ports", true, "", "containerPort protocol"},
    {"Container", "volumeDevices", true, "", "devicePath"},
    {"Container", "volumeMounts", true, "", "mountPath"},
    {"EphemeralContainer", "env", true, "", "name"},
    {"EphemeralContainer", "volumeDevices", true, "", "devicePath"},
    {"EphemeralContainer", "volumeMounts", true, "", "mountPath"},

    {"PodSpec", "containers", true, "Container", "name"},
    {"PodSpec", "initContainers", true, "Container", "name"},
    {"PodSpec", "ephemeralContainers", true, "EphemeralContainer", "name"},
    {"PodSpec", "hostAliases", true, "", "ip"},
    {"PodSpec", "imagePullSecrets", true, "", "name"},
    {"PodSpec", "topologySpreadConstraints", true, "", "topologyKey whenUnsatisfiable"},
    {"PodSpec", "volumes", true, "Volume", "name"},
    {"Volume", "ephemeral", false, "EphemeralVolumeSource", ""},
    {"EphemeralVolumeSource", "volumeClaimTemplate", false, "PersistentVolumeClaimTemplate", ""},
    {"PersistentVolumeClaimTemplate", "metadata", false, "ObjectMeta", ""},

    {"PodTemplateSpec", "metadata", false, "ObjectMeta", ""},
    {"PodTemplateSpec", "spec", false, "PodSpec", ""},
    {"PodStatus", "conditions", true, "", "type"},
    {"PodStatus", "podIPs", true, "", "ip"},
    {"Pod", "metadata", false, "ObjectMeta", ""},
    {"Pod", "spec", false, "PodSpec", ""},
    {"Pod", "status", false, "PodStatus", ""},
    {"PodTemplate", "metadata", false, "ObjectMeta", ""},
    {"PodTemplate", "template", false, "PodTemplateSpec", ""},

    // Deployment, DaemonSet, ReplicaSet, StatefulSet, ReplicationController, Job.
    {"WorkloadSpec", "template", false, "PodTemplateSpec", ""},
    {"Workload", "metadata", false, "ObjectMeta", ""},
    {"Workload", "spec", false, "WorkloadSpec", ""},
    {"Workload", "status", false, "ConditionsStatus", ""},
    {"JobTemplateSpec", "metadata", false, "ObjectMeta", ""},
    {"JobTemplateSpec", "spec", false, "WorkloadSpec", ""},
    {"CronJobSpec", "jobTemplate", false, "JobTemplateSpec", ""},
    {"CronJob", "metadata", false, "ObjectMeta", ""},
    {"CronJob", "spec", false, "CronJobSpec", ""},

    // Namespace, PersistentVolumeClaim, PodDisruptionBudget, APIService.
    {"ObjectWithConditions", "metadata", false, "ObjectMeta", ""},
    {"ObjectWithConditions", "status", false, "ConditionsStatus", ""},
    {"ComponentStatus", "metadata", false, "ObjectMeta", ""},
    {"ComponentStatus", "conditions", true, "", "type"},

    {"NodeSpec", "podCIDRs", true, "", ""},
    {"NodeStatus", "addresses", true, "", "type"},
    {"NodeStatus", "conditions", true, "", "type"},
    {"Node", "metadata", false, "ObjectMeta", ""},
    {"Node", "spec", false, "NodeSpec", ""},
    {"Node", "status", false, "NodeStatus", ""},

    {"ServiceSpec", "ports", true, "", "port protocol"},
    {"Service", "metadata", false, "ObjectMeta", ""},
    {"Service", "spec", false, "ServiceSpec", ""},
    {"Service", "status", false, "ConditionsStatus", ""},
    {"ServiceAccount", "metadata", false, "ObjectMeta", ""},
    {"ServiceAccount", "secrets", true, "", "name"},

    {"WebhookConfiguration", "metadata", false, "ObjectMeta", ""},
    {"WebhookConfiguration", "webhooks", true, "", "name"},
    {"CSINodeSpec", "drivers", true, "", "name"},
    {"CSINode", "metadata", false, "ObjectMeta", ""},
    {"CSINode", "spec", false, "CSINodeSpec", ""},
};

// apiVersion, root type, space-separated kinds. Kinds whose only merged lists are
// in metadata use "Object".
struct KindRow {
  std::string_view apiVersion;
  std::string_view type;
  std::string_view kinds;
};

constexpr KindRow kKindRows[] = {
    {"v1", "Pod", "Pod"},
    {"v1", "PodTemplate", "PodTemplate"},
    {"v1", "Workload", "ReplicationController"},
    {"v1", "Service", "Service"},
    {"v1", "ServiceAccount", "ServiceAccount"},
    {"v1", "Node", "Node"},
    {"v1", "ComponentStatus", "ComponentStatus"},
    {"v1", "ObjectWithConditions", "Namespace PersistentVolumeClaim"},
    {"v1", "Object",
     "Binding ConfigMap Endpoints Event LimitRange PersistentVolume ResourceQuota Secret"},
    {"apps/v1", "Workload", "DaemonSet Deployment ReplicaSet StatefulSet"},
    {"apps/v1", "Object", "ControllerRevision"},
    {"batch/v1", "Workload", "Job"},
    {"batch/v1", "CronJob", "CronJob"},
    {"batch/v1beta1", "CronJob", "CronJob"},
    {"admissionregistration.k8s.io/v1", "WebhookConfiguration",
     "MutatingWebhookConfiguration ValidatingWebhookConfiguration"},
    {"admissionregistration.k8s.io/v1beta1", "WebhookConfiguration",
     "MutatingWebhookConfiguration ValidatingWebhookConfiguration"},
    {"apiextensions.k8s.io/v1", "Object", "CustomResourceDefinition"},
    {"apiextensions.k8s.io/v1beta1", "Object", "CustomResourceDefinition"},
    {"apiregistration.k8s.io/v1", "ObjectWithConditions", "APIService"},
    {"apiregistration.k8s.io/v1beta1", "ObjectWithConditions", "APIService"},
    {"authentication.k8s.io/v1", "Object", "TokenRequest TokenReview"},
    {"authentication.k8s.io/v1beta1", "Object", "TokenReview"},
    {"authorization.k8s.io/v1", "Object",
     "LocalSubjectAccessReview SelfSubjectAccessReview SelfSubjectRulesReview "
     "SubjectAccessReview"},
    {"authorization.k8s.io/v1beta1", "Object",
     "LocalSubjectAccessReview SelfSubjectAccessReview SelfSubjectRulesReview "
     "SubjectAccessReview"},
    {"autoscaling/v1", "Object", "HorizontalPodAutoscaler Scale"},
    {"autoscaling/v2beta1", "Object", "HorizontalPodAutoscaler"},
    {"autoscaling/v2beta2", "Object", "HorizontalPodAutoscaler"},
    {"certificates.k8s.io/v1", "Object", "CertificateSigningRequest"},
    {"certificates.k8s.io/v1beta1", "Object", "CertificateSigningRequest"},
    {"coordination.k8s.io/v1", "Object", "Lease"},
    {"coordination.k8s.io/v1beta1", "Object", "Lease"},
    {"discovery.k8s.io/v1", "Object", "EndpointSlice"},
    {"discovery.k8s.io/v1beta1", "Object", "EndpointSlice"},
    {"events.k8s.io/v1", "Object", "Event"},
    {"events.k8s.io/v1beta1", "Object", "Event"},
    {"extensions/v1beta1", "Object", "Ingress"},
    {"flowcontrol.apiserver.k8s.io/v1beta1", "Object", "FlowSchema PriorityLevelConfiguration"},
    {"networking.k8s.io/v1", "Object", "Ingress IngressClass NetworkPolicy"},
    {"networking.k8s.io/v1beta1", "Object", "Ingress IngressClass"},
    {"node.k8s.io/v1", "Object", "RuntimeClass"},
    {"node.k8s.io/v1beta1", "Object", "RuntimeClass"},
    {"policy/v1", "ObjectWithConditions", "PodDisruptionBudget"},
    {"policy/v1beta1", "ObjectWithConditions", "PodDisruptionBudget"},
    {"policy/v1beta1", "Object", "Eviction PodSecurityPolicy"},
    {"rbac.authorization.k8s.io/v1", "Object", "ClusterRole ClusterRoleBinding Role RoleBinding"},
    {"rbac.authorization.k8s.io/v1beta1", "Object",
     "ClusterRole ClusterRoleBinding Role RoleBinding"},
    {"scheduling.k8s.io/v1", "Object", "PriorityClass"},
    {"scheduling.k8s.io/v1beta1", "Object", "PriorityClass"},
    {"storage.k8s.io/v1", "CSINode", "CSINode"},
    {"storage.k8s.io/v1", "Object", "CSIDriver StorageClass VolumeAttachment"},
    {"storage.k8s.io/v1beta1", "CSINode", "CSINode"},
    {"storage.k8s.io/v1beta1", "Object",
     "CSIDriver CSIStorageCapacity StorageClass VolumeAttachment"},
};

std::vector<std::string> splitWords(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string resourceKey(std::string_view apiVersion, std::string_view kind) {
  std::string key(apiVersion);
  key += ' ';
  key += kind;
  return key;
}

MergeSchema buildKubernetes() {
  MergeSchema schema;
  for (const FieldRow& row : kFieldRows) {
    if (row.list) {
      schema.addMergeListField(row.owner, row.field, row.child, splitWords(row.keys));
    } else {
      schema.addObjectField(row.owner, row.field, row.child);
    }
  }
  for (const KindRow& row : kKindRows) {
    for (const std::string& kind : splitWords(row.kinds)) {
      schema.addResourceType(row.apiVersion, kind, row.type);
    }
  }
  return schema;
}

// "#/definitions/NAME" → NAME, from a schema's "$ref" or its first allOf entry; "".
std::string_view refOf(const JsonValue& schema) {
  std::string_view ref = stringField(schema, "$ref");
  if (ref.empty()) {
    const JsonValue* all = findMember(schema, "allOf");
    if (all != nullptr && all->IsArray() && !all->Empty()) ref = stringField((*all)[0], "$ref");
  }
  constexpr std::string_view kPrefix = "#/definitions/";
  return ref.substr(0, kPrefix.size()) == kPrefix ? ref.substr(kPrefix.size()) : std::string_view();
}

}  // namespace

Result<MergeSchema> MergeSchema::fromOpenApi(const JsonValue& doc, std::string_view file) {
  const JsonValue* defs = findMember(doc, "definitions");
  if (defs == nullptr || !defs->IsObject()) {
    return Status::invalidArgument(std::string(file) +
                                   ": not an OpenAPI v2 document: no \"definitions\" map");
  }
  MergeSchema schema;
  for (auto d = defs->MemberBegin(); d != defs->MemberEnd(); ++d) {
    std::string_view owner(d->name.GetString(), d->name.GetStringLength());
    schema.internType(owner);
    if (const JsonValue* gvks = findMember(d->value, "x-kubernetes-group-version-kind");
        gvks != nullptr && gvks->IsArray()) {
      for (const JsonValue& g : gvks->GetArray()) {
        std::string group(stringField(g, "group")), version(stringField(g, "version"));
        std::string_view kind = stringField(g, "kind");
        if (version.empty() || kind.empty()) continue;
        schema.addResourceType(group.empty() ? version : group + "/" + version, kind, owner);
      }
    }
    const JsonValue* props = findMember(d->value, "properties");
    if (props == nullptr || !props->IsObject()) continue;
    for (auto p = props->MemberBegin(); p != props->MemberEnd(); ++p) {
      std::string_view field(p->name.GetString(), p->name.GetStringLength());
      const JsonValue& prop = p->value;
      if (stringField(prop, "type") != "array") {
        if (std::string_view ref = refOf(prop); !ref.empty())
          schema.addObjectField(owner, field, ref);
        continue;
      }
      if (stringField(prop, "x-kubernetes-patch-strategy").find("merge") ==
          std::string_view::npos) {
        continue;  // replaced by a patch
      }
      std::vector<std::string> keys;
      if (const JsonValue* mk = findMember(prop, "x-kubernetes-list-map-keys");
          mk != nullptr && mk->IsArray()) {
        for (const JsonValue& k : mk->GetArray()) {
          if (k.IsString()) keys.emplace_back(k.GetString(), k.GetStringLength());
        }
      }
      if (keys.empty()) {
        std::string_view key = stringField(prop, "x-kubernetes-patch-merge-key");
        if (!key.empty()) keys.emplace_back(key);
      }
      const JsonValue* items = findMember(prop, "items");
      schema.addMergeListField(owner, field, items != nullptr ? refOf(*items) : std::string_view(),
                               std::move(keys));
    }
  }
  return schema;
}

const MergeSchema& MergeSchema::kubernetes() {
  static const MergeSchema schema = buildKubernetes();
  return schema;
}

SchemaTypeId MergeSchema::typeForResource(std::string_view apiVersion,
                                          std::string_view kind) const {
  auto it = resources_.find(resourceKey(apiVersion, kind));
  return it == resources_.end() ? kNoType : it->second;
}

const SchemaField* MergeSchema::field(SchemaTypeId type, std::string_view name) const {
  if (type < 0 || type >= static_cast<SchemaTypeId>(types_.size())) return nullptr;
  const auto& fields = types_[type].fields;
  auto it = fields.find(name);
  return it == fields.end() ? nullptr : &it->second;
}

SchemaTypeId MergeSchema::internType(std::string_view name) {
  auto it = typeIds_.find(name);
  if (it != typeIds_.end()) return it->second;
  auto id = static_cast<SchemaTypeId>(types_.size());
  types_.push_back(Type{std::string(name), {}});
  typeIds_.emplace(std::string(name), id);
  return id;
}

void MergeSchema::addObjectField(std::string_view owner, std::string_view field,
                                 std::string_view child) {
  SchemaTypeId childId = internType(child);
  SchemaTypeId ownerId = internType(owner);
  SchemaField& f = types_[ownerId].fields[std::string(field)];
  f = SchemaField{childId, false, {}};
}

void MergeSchema::addMergeListField(std::string_view owner, std::string_view field,
                                    std::string_view element, std::vector<std::string> keys) {
  SchemaTypeId elementId = element.empty() ? kNoType : internType(element);
  SchemaTypeId ownerId = internType(owner);
  SchemaField& f = types_[ownerId].fields[std::string(field)];
  f = SchemaField{elementId, true, std::move(keys)};
}

void MergeSchema::addResourceType(std::string_view apiVersion, std::string_view kind,
                                  std::string_view type) {
  SchemaTypeId id = internType(type);
  resources_[resourceKey(apiVersion, kind)] = id;
}

}  // namespace windlass::overlays
