// Render-time image overrides (image automation, `update: render`): after the render,
// every container and init container whose image names a given repository gets the
// reference an image policy chose, as Kustomize's `images:` field would set it, without
// a Git write.
//
// Thread safety: pure functions over values; reentrant.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"

namespace windlass::reconcile {

struct ImageOverride {
  // The repository as parsed by sources::parseImageRepository and printed by its
  // display(): "harbor.example.com/shop/web", "registry-1.docker.io/library/nginx".
  std::string repository;
  // The whole new reference: "harbor.example.com/shop/web:1.4.2" or "…@sha256:…".
  std::string reference;

  bool operator==(const ImageOverride&) const = default;
};

// Replaces, in every object of `objects` (any kind: Deployments, CronJobs, Pods, custom
// resources with pod templates), the `image` of each entry of a `containers` or
// `initContainers` list whose repository (tag and digest removed, Docker Hub names
// normalised: "nginx" is "registry-1.docker.io/library/nginx") equals an override's.
// Returns how many images were changed (an image already equal counts as unchanged).
// Strings are allocated from `alloc`.
size_t applyImageOverrides(std::vector<JsonValue>& objects,
                           const std::vector<ImageOverride>& overrides, JsonAllocator& alloc);

// The repository of an image reference, normalised as above; "" when the reference does
// not parse ("ghcr.io/a/web:1.0@sha256:…" → "ghcr.io/a/web").
std::string imageRepositoryOf(const std::string& reference);

}  // namespace windlass::reconcile
