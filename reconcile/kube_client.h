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
#include "reconcile/kube_api.h"
#include "reconcile/kubeconfig.h"

namespace windlass::reconcile {

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

// libcurl handles, private to kube_client.cpp.
struct CurlShared;
struct CurlMulti;

class KubeClient final : public KubeApi {
 public:
  // Fails only when libcurl cannot be initialised. Nothing is sent until the first call.
  [[nodiscard]] static Result<std::unique_ptr<KubeClient>> create(ClusterConfig config,
                                                                  ClientOptions options = {});
  ~KubeClient() override;
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  const ClusterConfig& config() const { return credentials_.config(); }

  // Sends one request (with retries). Any HTTP status is a successful Response; only a
  // transport failure after all retries is an error (Unavailable / DeadlineExceeded), and
  // failing credentials are Unauthenticated. Use statusFromHttp() to judge the status.
  [[nodiscard]] Result<Response> send(const Request& request);

  // ---- KubeApi (contracts in kube_api.h) ------------------------------------------------

  const std::string& defaultNamespace() const override { return config().namespaceName; }
  // At most ClientOptions::parallelism in flight.
  std::vector<Result<Response>> sendBatch(const std::vector<Request>& requests) override;
  [[nodiscard]] Result<ResourceInfo> resolve(const Gvk& gvk) override;
  [[nodiscard]] Status refreshDiscovery() override;
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
  // The watch has its own connection, so it never holds up other requests.
  [[nodiscard]] Status watch(const Gvk& gvk, std::string_view ns, const WatchOptions& options,
                             const std::function<void(const WatchEvent&)>& onEvent,
                             const CancelToken& cancel) override;
  [[nodiscard]] Status remove(const Gvk& gvk, std::string_view ns, std::string_view name,
                              const RemoveOptions& options = {}) override;

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
