// An in-memory Kubernetes API for unit tests of the reconcile stages. It serves the
// same request paths KubeClient builds (GET/LIST/PATCH/DELETE under /api and /apis),
// from a discovery table and a map of objects, and counts every request by verb so a
// test can assert "no writes" or "no per-object GET".
//
// Simplifications: server-side apply merges the applied object over the stored one at
// the top level of spec, data, stringData, metadata.labels and metadata.annotations
// (other fields are replaced; nothing is ever removed); the server fields
// (resourceVersion, uid, creationTimestamp, generation, managedFields) are set on every
// stored object; a namespaced object needs its Namespace to exist (404 otherwise); one
// LIST page holds everything; watch is not served. POST creates (409 AlreadyExists when the
// object exists) and PUT replaces (404 when absent, 409 Conflict when the body's
// metadata.resourceVersion is not the stored one), each bumping resourceVersion. Applying a
// CustomResourceDefinition adds its kind to discovery and marks it Established.
//
// Thread safety: every member function is thread-safe (one mutex).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "reconcile/kube_api.h"

namespace windlass::reconcile {

// Parses `json` into a value allocated from `alloc`; a JSON null when it does not parse.
JsonValue parseObject(std::string_view json, JsonAllocator& alloc);

class FakeKube final : public KubeApi {
 public:
  // Discovery: v1 ConfigMap, Secret, Namespace (cluster-scoped), apps/v1 Deployment,
  // apiextensions.k8s.io/v1 CustomResourceDefinition (cluster-scoped) and
  // example.com/v1 Widget (a custom resource; namespaced). No objects.
  FakeKube();

  // ---- test controls (not counted as requests) -------------------------------------------

  // Stores `json` (an object with apiVersion, kind, metadata.name) as is, with server
  // fields added. InvalidArgument when it is not such an object or its kind is unknown.
  [[nodiscard]] Status seed(std::string_view json);
  // Replaces the status of a stored object. NotFound when there is none.
  [[nodiscard]] Status setStatus(const Gvk& gvk, std::string_view ns, std::string_view name,
                                 std::string_view statusJson);
  // The stored object as JSON, or "" when there is none.
  std::string object(const Gvk& gvk, std::string_view ns, std::string_view name) const;
  size_t objectCount() const;

  // Adds (or replaces) a kind in discovery; forgets one.
  void addResource(const ResourceInfo& info);
  void removeResource(const Gvk& gvk);

  // Every PATCH of the object named `subject` ("ConfigMap prod/a") answers `httpStatus`
  // with a metav1.Status whose message is `message`: dry runs only, or every apply.
  void failApply(std::string_view subject, long httpStatus, std::string_view message,
                 bool dryRunOnly = false);

  // Every request with `method` ("PUT", "POST", ...) answers `httpStatus` with a
  // metav1.Status whose message is `message`, until called again with httpStatus 0.
  void failMethod(std::string_view method, long httpStatus, std::string_view message = "injected");

  // Requests served, by verb: "get" (one object), "list", "apply" (PATCH, not dry run),
  // "dryrun" (PATCH with dryRun=All), "create" (POST), "update" (PUT), "delete". Discovery
  // is not counted.
  size_t count(std::string_view verb) const;
  size_t writes() const {
    return count("apply") + count("create") + count("update") + count("delete");
  }
  // "METHOD path" of every request served, in order.
  std::vector<std::string> requests() const;
  void resetCounts();

  // Called with every request as it is served, under the fake's lock: it must not call
  // the fake. For tests that act mid-sync (cancel a token when an object is applied).
  void setOnRequest(std::function<void(const Request&)> hook) { onRequest_ = std::move(hook); }

  // Sets the namespace defaultNamespace() returns ("default" unless set).
  void setDefaultNamespace(std::string ns) { defaultNamespace_ = std::move(ns); }

  // ---- KubeApi ---------------------------------------------------------------------------

  const std::string& defaultNamespace() const override { return defaultNamespace_; }
  std::vector<Result<Response>> sendBatch(const std::vector<Request>& requests) override;
  [[nodiscard]] Result<ResourceInfo> resolve(const Gvk& gvk) override;
  [[nodiscard]] Status refreshDiscovery() override { return {}; }
  std::vector<ResourceInfo> knownResources() override;
  [[nodiscard]] Result<std::string> resourcePath(const Gvk& gvk, std::string_view ns,
                                                 std::string_view name) override;
  [[nodiscard]] Result<JsonValue> get(const Gvk& gvk, std::string_view ns, std::string_view name,
                                      JsonAllocator& alloc) override;
  [[nodiscard]] Result<std::vector<JsonValue>> list(const Gvk& gvk, std::string_view ns,
                                                    JsonAllocator& alloc,
                                                    const ListOptions& options = {}) override;
  [[nodiscard]] Result<JsonValue> apply(const JsonValue& object, JsonAllocator& alloc,
                                        const ApplyOptions& options = {}) override;
  // Unimplemented: the fake serves no watches.
  [[nodiscard]] Status watch(const Gvk& gvk, std::string_view ns, const WatchOptions& options,
                             const std::function<void(const WatchEvent&)>& onEvent,
                             const CancelToken& cancel) override;
  [[nodiscard]] Status remove(const Gvk& gvk, std::string_view ns, std::string_view name,
                              const RemoveOptions& options = {}) override;

 private:
  struct Fault {
    long httpStatus = 0;
    std::string message;
    bool dryRunOnly = false;
  };
  // Serves one request; the caller holds mu_.
  Response serve(const Request& request);
  Response serveGet(const ResourceInfo& info, const std::string& ns, const std::string& name);
  Response serveList(const ResourceInfo& info, const std::string& ns,
                     const std::map<std::string, std::string>& query);
  Response servePatch(const ResourceInfo& info, const std::string& ns, const std::string& name,
                      const std::map<std::string, std::string>& query, const std::string& body);
  Response servePost(const ResourceInfo& info, const std::string& ns, const std::string& body);
  Response servePut(const ResourceInfo& info, const std::string& ns, const std::string& name,
                    const std::string& body);
  Response serveDelete(const ResourceInfo& info, const std::string& ns, const std::string& name);
  Result<ResourceInfo> resolveLocked(const Gvk& gvk) const;
  Result<std::string> pathLocked(const Gvk& gvk, std::string_view ns, std::string_view name) const;
  Status store(std::string key, JsonValue& object, JsonAllocator& alloc);

  mutable std::mutex mu_;
  std::string defaultNamespace_ = "default";
  std::vector<ResourceInfo> resources_;
  std::map<std::string, std::string> objects_;  // "group/Kind/ns/name" → JSON
  std::map<std::string, Fault> faults_;         // subject → fault
  std::map<std::string, Fault> methodFaults_;   // method → fault
  std::map<std::string, size_t> counts_;
  std::vector<std::string> log_;
  std::function<void(const Request&)> onRequest_;
  long resourceVersion_ = 0;
  long uid_ = 0;
};

}  // namespace windlass::reconcile
