// Fixtures shared by the stage unit tests (plan, apply, prune, health wait) that run
// against the in-memory API. Test code only.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include "reconcile/apply.h"
#include "reconcile/plan.h"
#include "tests/support/fake_kube.h"

namespace windlass::reconcile::testing {

// The objects of `docs` (JSON texts), as a render would hand them over.
inline std::vector<JsonValue> render(const std::vector<const char*>& docs, JsonAllocator& alloc) {
  std::vector<JsonValue> out;
  for (const char* d : docs) out.push_back(parseObject(d, alloc));
  return out;
}

// Environment "prod" into namespace "prod", no health wait.
inline SyncOptions prodOptions() {
  SyncOptions o;
  o.environment = "prod";
  o.targetNamespace = "prod";
  o.healthTimeout = std::chrono::milliseconds(0);
  return o;
}

// Plans and executes `docs` once, so the cluster holds them.
inline void syncOnce(FakeKube& kube, const std::vector<const char*>& docs) {
  JsonAllocator alloc;
  auto plan = makePlan(kube, render(docs, alloc), prodOptions(), alloc);
  REQUIRE(plan);
  SyncOutcome out = executePlan(kube, *plan, prodOptions(), alloc);
  REQUIRE(out.status.ok());
}

}  // namespace windlass::reconcile::testing
