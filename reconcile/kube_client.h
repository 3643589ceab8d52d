// A Kubernetes API client over libcurl: discovery, GET, paginated LIST, server-side apply,
// DELETE, and raw requests, with retries and concurrent batches over one connection pool.
//
// Connections: every request goes through a CURLM multi handle and all handles share one
// CURLSH (connections, TLS sessions, DNS), so one client keeps one pool of connections to
// the API server; HTTP/2 is negotiated over TLS where the server offers it, and requests in
// a batch are multiplexed over it. A call uses a free multi handle from a small pool (one,
// unless several threads call at once).
//
// Retries: 429 (honouring Retry-After), 5xx and connection failures are retried with
// exponential backoff up to RetryOptions::maxAttempts; a 401 makes the credentials
// re-read/re-run once (token files, exec plugins). Other statuses are not retried.
//
// Errors: HTTP statuses map to codes, and the message names the subject, the verb and the
// server's reason, e.g.
//   `apps/Deployment prod/web: patch forbidden: deployments.apps "web" is forbidden: ...`
// 401 Unauthenticated, 403 PermissionDenied, 404 NotFound, 409 Conflict,
// 400/422 InvalidArgument, 429 ResourceExhausted (after retries), 5xx and connection
// failures Unavailable, timeouts DeadlineExceeded. Tokens never appear in a message.
//
// Thread safety: every public member function of KubeClient is thread-safe. Calls that
// take a JsonAllocator allocate the result from it; concurrent calls must not share one.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/json.h"
#include "core/status.h"
#include "reconcile/kubeconfig.h"

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

struct RetryOptions {
  // Attempts per request, the first included. 1 disables retries.
  int maxAttempts = 5;
  // Backoff before the second attempt; doubles each attempt up to maxBackoff.
  std::chrono::milliseconds initialBackoff{200};
  std::chrono::milliseconds maxBackoff{5000};
  // A server's Retry-After longer than this is cut to it.
  std::chrono::milliseconds maxRetryAfter{30000};
};

struct ClientOptions {
  RetryOptions retry;
  // Per attempt: connecting, and the whole exchange.
  std::chrono::milliseconds connectTimeout{10000};
  std::chrono::milliseconds requestTimeout{60000};
  // Requests in flight at once in runBatch() and discovery.
  size_t parallelism = 8;
  // "windlass/<version>"
  std::string userAgent = "windlass/0.1";
  // Every request impersonates this user ("system:serviceaccount:NS:NAME"), so
  // the API server authorises it as that identity. Empty: the credentials' own.
  std::string impersonateUser;
  // Use /api/v1 + /apis/G/V discovery even when the server offers the aggregated documents.
  bool legacyDiscovery = false;
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
  std::string resourceVersion;  // events after this version; empty: from "now" (not advised)
  std::chrono::seconds timeout{300};  // the server ends the watch after this
};

// Maps an HTTP status and the server's body (a metav1.Status, when it is one) to a Status.
// 2xx gives ok. The message is "<subject>: <verb> <reason>: <server message>", e.g.
// "ConfigMap ns/cm: get not found: configmaps \"cm\" not found". Pure; thread-safe.
Status statusFromHttp(long httpStatus, std::string_view body, std::string_view subject,
                      std::string_view verb);

// Parses a JSON body into a value allocated from `alloc`. InvalidArgument (naming
// `subject`) when it is not JSON.
[[nodiscard]] Result<JsonValue> parseJsonBody(std::string_view body, JsonAllocator& alloc,
                                              std::string_view subject);

// "apps/Deployment ns/name" / "rbac.authorization.k8s.io/ClusterRole name".
std::string objectSubject(const Gvk& gvk, std::string_view ns, std::string_view name);

// libcurl handles, private to kube_client.cpp.
struct CurlShared;
struct CurlMulti;

class KubeClient {
 public:
  // Fails only when libcurl cannot be initialised. Nothing is sent until the first call.
  [[nodiscard]] static Result<std::unique_ptr<KubeClient>> create(ClusterConfig config,
                                                                  ClientOptions options = {});
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  const ClusterConfig& config() const { return credentials_.config(); }
  const std::string& defaultNamespace() const { return config().namespaceName; }

  // ---- raw requests ---------------------------------------------------------------------

  // Sends one request (with retries). Any HTTP status is a successful Response; only a
  // transport failure after all retries is an error (Unavailable / DeadlineExceeded), and
  // failing credentials are Unauthenticated. Use statusFromHttp() to judge the status.
  [[nodiscard]] Result<Response> send(const Request& request);

  // Sends `requests` concurrently, at most ClientOptions::parallelism in flight, each with
  // its own retries. Result i belongs to request i. Never fails as a whole.
  std::vector<Result<Response>> sendBatch(const std::vector<Request>& requests);

  // ---- discovery ------------------------------------------------------------------------

  // The resource of `gvk`. Discovers on first use; when the kind is unknown, discovery is
  // refreshed once (a CRD may have been created since) before failing with NotFound:
  // `no resource for kind "example.com/v1/Widget": is its CustomResourceDefinition installed?`
  [[nodiscard]] Result<ResourceInfo> resolve(const Gvk& gvk);
  // Re-reads discovery from the server now. On failure the previous cache is kept.
  [[nodiscard]] Status refreshDiscovery();
  // Every resource known after the last discovery (sorted by group, version, kind).
  std::vector<ResourceInfo> knownResources();

  // The URL path of a collection (name empty) or of one object. Namespaced kinds need `ns`
  // (InvalidArgument otherwise); cluster-scoped kinds ignore it.
  [[nodiscard]] Result<std::string> resourcePath(const Gvk& gvk, std::string_view ns,
                                                 std::string_view name);

  // ---- objects --------------------------------------------------------------------------

  // The live object. NotFound when it does not exist.
  [[nodiscard]] Result<JsonValue> get(const Gvk& gvk, std::string_view ns, std::string_view name,
                                      JsonAllocator& alloc);

  // All objects of `gvk` in `ns` (empty ns: every namespace, or a cluster-scoped kind),
  // following `continue` page by page. Each item gets apiVersion and kind filled in.
  // A 410 (the continue token expired) is Aborted: list again.
  [[nodiscard]] Result<std::vector<JsonValue>> list(const Gvk& gvk, std::string_view ns,
                                                    JsonAllocator& alloc,
                                                    const ListOptions& options = {});

  // Server-side apply of `object` (PATCH application/apply-patch+yaml with the object as
  // JSON). A namespaced object without metadata.namespace goes to defaultNamespace().
  // Returns the object as the server stored it (or would, with dryRun).
  [[nodiscard]] Result<JsonValue> apply(const JsonValue& object, JsonAllocator& alloc,
                                        const ApplyOptions& options = {});

  // The request apply() would send, so callers can apply many objects with sendBatch().
  [[nodiscard]] Result<Request> applyRequest(const JsonValue& object,
                                             const ApplyOptions& options = {});

  // Watches objects of `gvk` in `ns` (empty: every namespace) with bookmarks,
  // calling `onEvent` for each event in order, from this thread. Returns ok when
  // the server ends the watch (resume from the last resourceVersion seen),
  // Aborted "cancelled" when `cancel` is tripped (checked at least once a
  // second), Aborted "...: watch expired (410 Gone): list again" when the
  // version is too old, or the error of the request. The watch has its own
  // connection, so it never holds up other requests.
  [[nodiscard]] Status watch(const Gvk& gvk, std::string_view ns, const WatchOptions& options,
                             const std::function<void(const WatchEvent&)>& onEvent,
                             const CancelToken& cancel);

  // Deletes one object. Ok once the server accepted the deletion (finalizers may keep it
  // a while); NotFound when it did not exist.
  [[nodiscard]] Status remove(const Gvk& gvk, std::string_view ns, std::string_view name,
                              const RemoveOptions& options = {});

 private:
  KubeClient(ClusterConfig config, ClientOptions options);
  Status discoverAggregated(std::map<std::string, ResourceInfo>& out, bool& supported);
  Status discoverLegacy(std::map<std::string, ResourceInfo>& out);
  std::unique_ptr<CurlMulti> takeMulti();
  void returnMulti(std::unique_ptr<CurlMulti> multi);

  Credentials credentials_;
  const ClientOptions options_;
  std::unique_ptr<CurlShared> shared_;

  std::mutex multisMu_;
  std::vector<std::unique_ptr<CurlMulti>> idleMultis_;

  std::shared_mutex discoveryMu_;
  std::mutex refreshMu_;                           // one refresh at a time
  std::map<std::string, ResourceInfo> resources_;  // "group/version/kind" → info
  bool discovered_ = false;
};

}  // namespace windlass::reconcile
