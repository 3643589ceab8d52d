// The Kubernetes API as the reconcile stages see it: discovery, GET, LIST, server-side
// apply, DELETE, watch and batches of raw requests. KubeClient (kube_client.h) talks to a
// real API server over libcurl; tests use the in-memory fake in tests/support/fake_kube.h.
//
// Errors: an HTTP status maps to a code through statusFromHttp(), and the message names
// the subject, the verb and the server's reason, e.g.
//   `apps/Deployment prod/web: patch forbidden: deployments.apps "web" is forbidden: ...`
// 401 Unauthenticated, 403 PermissionDenied, 404 NotFound, 409 Conflict,
// 400/422 InvalidArgument, 429 ResourceExhausted, 5xx and connection failures
// Unavailable, timeouts DeadlineExceeded.
//
// Thread safety: implementations make every member function thread-safe. Calls that take
// a JsonAllocator allocate the result from it; concurrent calls must not share one.
//
// Default arguments: the overrides repeat the defaults declared here, so a call through
// the interface and one through an implementation mean the same.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/json.h"
#include "core/status.h"
#include "core/url.h"

namespace windlass::reconcile {

// A group, version and kind. The core group is "".
struct Gvk {
  std::string group;
  std::string version;
  std::string kind;

  // "apps/v1" or "v1" → group/version.
  static Gvk fromApiVersion(std::string_view apiVersion, std::string_view kind);
  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "apps/Deployment", or "ConfigMap" for the core group; used in messages.
  std::string groupKind() const { return group.empty() ? kind : group + "/" + kind; }
  bool operator==(const Gvk&) const = default;
};

// What discovery says about one kind.
struct ResourceInfo {
  Gvk gvk;
  std::string plural;  // "deployments"
  bool namespaced = false;
};

// One HTTP request to the API server.
struct Request {
  std::string method = "GET";
  std::string path;  // "/apis/apps/v1/namespaces/x/deployments/y?dryRun=All", starts with '/'
  std::string body;
  std::string contentType;  // set when body is non-empty, e.g. "application/json"
  std::string accept = "application/json";
  // For messages: "apps/Deployment prod/web" and "patch". Empty: the path and the method.
  std::string subject;
  std::string verb;
};

struct Response {
  long httpStatus = 0;
  int httpVersion = 0;  // 1 (HTTP/1.x) or 2 (HTTP/2), as negotiated
  std::string body;
  std::string contentType;
};

struct ApplyOptions {
  std::string fieldManager = "windlass";
  bool force = true;    // take over conflicting fields from other managers
  bool dryRun = false;  // dryRun=All: validated and defaulted, nothing stored
};

struct RemoveOptions {
  std::string propagationPolicy = "Background";  // Background, Foreground or Orphan
  bool dryRun = false;
};

struct ListOptions {
  std::string labelSelector;  // "app=web,tier!=db"; empty: all
  std::string fieldSelector;
  size_t pageSize = 500;  // `limit` per page; the client follows `continue` to the end
  // Out, when set: the list's metadata.resourceVersion, where a watch resumes.
  std::string* resourceVersion = nullptr;
};

// One event of a watch. `object` lives only during the callback.
struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark };
  Type type = Type::kAdded;
  const JsonValue* object = nullptr;  // the object (for a bookmark: only its resourceVersion)
  std::string resourceVersion;        // the object's metadata.resourceVersion
};

struct WatchOptions {
  std::string labelSelector;
  std::string resourceVersion;        // events after this version; empty: from "now" (not advised)
  std::chrono::seconds timeout{300};  // the server ends the watch after this
};

// The three functions below are pure, thread-safe and defined in kube_client.cpp.

// Maps an HTTP status and the server's body (a metav1.Status, when it is one) to a Status.
// 2xx gives ok. The message is "<subject>: <verb> <reason>: <server message>", e.g.
// "ConfigMap ns/cm: get not found: configmaps \"cm\" not found". Pure; thread-safe.
Status statusFromHttp(long httpStatus, std::string_view body, std::string_view subject,
                      std::string_view verb);

// Parses a JSON body into a value allocated from `alloc`. InvalidArgument (naming
// `subject`) when it is not JSON.
[[nodiscard]] Result<JsonValue> parseJsonBody(std::string_view body, JsonAllocator& alloc,
                                              std::string_view subject);

using windlass::percentEncode;  // core/url.h

// "apps/Deployment ns/name" / "rbac.authorization.k8s.io/ClusterRole name".
std::string objectSubject(const Gvk& gvk, std::string_view ns, std::string_view name);

class KubeApi {
 public:
  virtual ~KubeApi() = default;

  // Namespaced objects without metadata.namespace go here (the kubeconfig context's).
  virtual const std::string& defaultNamespace() const = 0;

  // ---- raw requests ---------------------------------------------------------------------

  // Sends `requests` concurrently, each with its own retries. Result i belongs to request
  // i: any HTTP status is a successful Response (judge it with statusFromHttp()); only a
  // transport failure is an error. Never fails as a whole.
  virtual std::vector<Result<Response>> sendBatch(const std::vector<Request>& requests) = 0;

  // ---- discovery ------------------------------------------------------------------------

  // The resource of `gvk`. Discovers on first use; when the kind is unknown, discovery is
  // refreshed once (a CRD may have been created since) before failing with NotFound:
  // `no resource for kind "example.com/v1/Widget": is its CustomResourceDefinition installed?`
  [[nodiscard]] virtual Result<ResourceInfo> resolve(const Gvk& gvk) = 0;
  // Re-reads discovery from the server now. On failure the previous cache is kept.
  [[nodiscard]] virtual Status refreshDiscovery() = 0;
  // Every resource known after the last discovery (sorted by group, version, kind).
  virtual std::vector<ResourceInfo> knownResources() = 0;

  // The URL path of a collection (name empty) or of one object. Namespaced kinds need `ns`
  // (InvalidArgument otherwise); cluster-scoped kinds ignore it.
  [[nodiscard]] virtual Result<std::string> resourcePath(const Gvk& gvk, std::string_view ns,
                                                         std::string_view name) = 0;

  // ---- objects --------------------------------------------------------------------------

  // The live object. NotFound when it does not exist.
  [[nodiscard]] virtual Result<JsonValue> get(const Gvk& gvk, std::string_view ns,
                                              std::string_view name, JsonAllocator& alloc) = 0;

  // All objects of `gvk` in `ns` (empty ns: every namespace, or a cluster-scoped kind),
  // following `continue` page by page. Each item gets apiVersion and kind filled in.
  // A 410 (the continue token expired) is Aborted: list again.
  [[nodiscard]] virtual Result<std::vector<JsonValue>> list(const Gvk& gvk, std::string_view ns,
                                                            JsonAllocator& alloc,
                                                            const ListOptions& options = {}) = 0;

  // Server-side apply of `object` (PATCH application/apply-patch+yaml with the object as
  // JSON). A namespaced object without metadata.namespace goes to defaultNamespace().
  // Returns the object as the server stored it (or would, with dryRun).
  [[nodiscard]] virtual Result<JsonValue> apply(const JsonValue& object, JsonAllocator& alloc,
                                                const ApplyOptions& options = {}) = 0;

  // The request apply() would send, so callers can apply many objects with sendBatch().
  // Built from resolve(), resourcePath() and defaultNamespace(), so every implementation
  // sends the same request. InvalidArgument without apiVersion, kind or metadata.name.
  [[nodiscard]] Result<Request> applyRequest(const JsonValue& object,
                                             const ApplyOptions& options = {});

  // Watches objects of `gvk` in `ns` (empty: every namespace) with bookmarks,
  // calling `onEvent` for each event in order, from this thread. Returns ok when
  // the server ends the watch (resume from the last resourceVersion seen),
  // Aborted "cancelled" when `cancel` is tripped (checked at least once a
  // second), Aborted "...: watch expired (410 Gone): list again" when the
  // version is too old, or the error of the request.
  [[nodiscard]] virtual Status watch(const Gvk& gvk, std::string_view ns,
                                     const WatchOptions& options,
                                     const std::function<void(const WatchEvent&)>& onEvent,
                                     const CancelToken& cancel) = 0;

  // Deletes one object. Ok once the server accepted the deletion (finalizers may keep it
  // a while); NotFound when it did not exist.
  [[nodiscard]] virtual Status remove(const Gvk& gvk, std::string_view ns, std::string_view name,
                                      const RemoveOptions& options = {}) = 0;
};

}  // namespace windlass::reconcile
