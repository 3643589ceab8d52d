// The built-in transformers of a kustomization, as plain functions over the
// accumulated resources. Each returns InvalidArgument naming the resource and
// field when the input cannot be transformed.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "overlays/field_spec.h"
#include "overlays/kustomization.h"
#include "overlays/resource.h"

namespace windlass::overlays {

// A deque, so that a kustomization can put its own few resources in front of a
// base's many without moving them (linear loading of deeply nested bases).
using ResourceList = std::deque<Resource>;

// The resources a selector picks, as indexes into `list`, in list order.
// InvalidArgument for a malformed name regex or label selector.
Result<std::vector<size_t>> selectResources(const ResourceList& list, const Selector& selector);

// Does the object's metadata.labels (or annotations) satisfy a Kubernetes
// label selector such as "app=web,tier in (a,b),!canary"?
Result<bool> matchesLabelSelector(const JsonValue& labels, std::string_view selector);

Status applyNamespace(ResourceList& list, const std::string& ns,
                      const std::vector<FieldSpec>& specs, JsonAllocator& alloc);
Status applyNamePrefixSuffix(ResourceList& list, const std::string& prefix,
                             const std::string& suffix, const TransformerConfig& config,
                             JsonAllocator& alloc);
// Sets every pair in the map fields the specs reach (creating them where a spec says so).
Status applyStringMap(ResourceList& list, const std::map<std::string, std::string>& pairs,
                      const std::vector<FieldSpec>& specs, JsonAllocator& alloc);
Status applyImages(ResourceList& list, const std::vector<ImageEntry>& images,
                   const std::vector<FieldSpec>& specs, JsonAllocator& alloc);
Status applyReplicas(ResourceList& list, const std::vector<ReplicaEntry>& replicas,
                     const std::vector<FieldSpec>& specs, JsonAllocator& alloc);

// Kustomize's image reference split: name, tag and digest ("" when absent).
struct ImageRef {
  std::string name, tag, digest;
};
ImageRef splitImage(std::string_view image);

}  // namespace windlass::overlays
