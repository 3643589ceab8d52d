#include "reconcile/kube_client.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace windlass::reconcile {
namespace {

TEST_CASE("HTTP statuses map to codes with subject, verb and the server's message") {
  const std::string forbidden =
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"deployments.apps \"web\" is forbidden: User \"restricted\" cannot patch resource","reason":"Forbidden","code":403})";
  Status st = statusFromHttp(403, forbidden, "apps/Deployment ns/web", "patch");
  CHECK(st.code() == Code::kPermissionDenied);
  CHECK(st.message() ==
        "apps/Deployment ns/web: patch forbidden: deployments.apps \"web\" is forbidden: User "
        "\"restricted\" cannot patch resource");

  struct Case {
    long http;
    Code code;
    std::string word;
  };
  for (const Case& c :
       {Case{401, Code::kUnauthenticated, "unauthorized"}, Case{404, Code::kNotFound, "not found"},
        Case{409, Code::kConflict, "conflict"}, Case{422, Code::kInvalidArgument, "invalid"},
        Case{400, Code::kInvalidArgument, "bad request"}, Case{410, Code::kAborted, "gone"},
        Case{429, Code::kResourceExhausted, "throttled"}}) {
    Status s =
        statusFromHttp(c.http, R"({"kind":"Status","message":"why"})", "ConfigMap a/b", "get");
    CHECK(s.code() == c.code);
    CHECK(s.message() == "ConfigMap a/b: get " + c.word + ": why");
  }
  Status unavailable = statusFromHttp(503, "service unavailable\n", "/api", "get");
  CHECK(unavailable.code() == Code::kUnavailable);
  CHECK(unavailable.message() == "/api: get server error (HTTP 503): service unavailable");
  CHECK(statusFromHttp(504, "", "x", "get").code() == Code::kDeadlineExceeded);
  CHECK(statusFromHttp(200, "", "x", "get").ok());
  CHECK(statusFromHttp(201, "", "x", "get").ok());
}

TEST_CASE("group, version, kind and subjects") {
  Gvk apps = Gvk::fromApiVersion("apps/v1", "Deployment");
  CHECK(apps.group == "apps");
  CHECK(apps.version == "v1");
  CHECK(apps.apiVersion() == "apps/v1");
  CHECK(objectSubject(apps, "prod", "web") == "apps/Deployment prod/web");
  Gvk core = Gvk::fromApiVersion("v1", "ConfigMap");
  CHECK(core.group.empty());
  CHECK(core.apiVersion() == "v1");
  CHECK(objectSubject(core, "ns", "cm") == "ConfigMap ns/cm");
  CHECK(objectSubject(Gvk::fromApiVersion("rbac.authorization.k8s.io/v1", "ClusterRole"), "",
                      "admin") == "rbac.authorization.k8s.io/ClusterRole admin");
}

TEST_CASE("parseJsonBody allocates from the caller's allocator and reports bad JSON") {
  JsonAllocator alloc;
  auto v = parseJsonBody(R"({"a":[1,2,{"b":"c"}]})", alloc, "x");
  REQUIRE(v.has_value());
  CHECK((*v)["a"][2]["b"] == "c");
  auto bad = parseJsonBody("{oops", alloc, "ConfigMap a/b");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message() == "ConfigMap a/b: response is not JSON (offset 1)");
}

// A loopback HTTP/1.1 server that answers each connection with the next canned response
// (then closes it), counting requests. Port 0: the kernel picks a free port.
class CannedServer {
 public:
  explicit CannedServer(std::vector<std::string> responses) : responses_(std::move(responses)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }
  std::string lastRequest() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

 private:
  void serve() {
    for (;;) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_ = req;
      }
      size_t i = static_cast<size_t>(requests_.fetch_add(1));
      const std::string& body = responses_[std::min(i, responses_.size() - 1)];
      (void)!::write(c, body.data(), body.size());
      ::close(c);
    }
  }

  std::vector<std::string> responses_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::string last_;
  std::thread thread_;
};

std::string http(int status, const std::string& extraHeaders, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
         extraHeaders + "Content-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

ClientOptions fastRetries(int attempts) {
  ClientOptions o;
  o.retry.maxAttempts = attempts;
  o.retry.initialBackoff = std::chrono::milliseconds(1);
  o.retry.maxBackoff = std::chrono::milliseconds(4);
  o.connectTimeout = std::chrono::milliseconds(2000);
  o.requestTimeout = std::chrono::milliseconds(5000);
  return o;
}

TEST_CASE("429 with Retry-After and 5xx are retried; the token goes in the header only") {
  CannedServer server({http(429, "Retry-After: 0\r\n", "{}"), http(503, "", "{}"),
                       http(200, "", R"({"kind":"Namespace"})")});
  ClusterConfig cfg;
  cfg.server = server.url();
  cfg.token = "secret-token";
  auto client = KubeClient::create(cfg, fastRetries(5));
  REQUIRE(client.has_value());
  Request r;
  r.path = "/api/v1/namespaces/x";
  auto resp = (*client)->send(r);
  REQUIRE_MESSAGE(resp.has_value(), resp.error().message());
  CHECK(resp->httpStatus == 200);
  CHECK(resp->body == R"({"kind":"Namespace"})");
  CHECK(server.requests() == 3);
  CHECK(server.lastRequest().find("Authorization: Bearer secret-token\r\n") != std::string::npos);
  CHECK(server.lastRequest().rfind("GET /api/v1/namespaces/x HTTP/1.1\r\n", 0) == 0);
}

TEST_CASE("retries are bounded: the last 5xx is returned") {
  CannedServer server({http(500, "", R"({"kind":"Status","message":"etcd down"})")});
  ClusterConfig cfg;
  cfg.server = server.url();
  auto client = KubeClient::create(cfg, fastRetries(3));
  REQUIRE(client.has_value());
  Request r;
  r.path = "/api";
  auto resp = (*client)->send(r);
  REQUIRE(resp.has_value());
  CHECK(resp->httpStatus == 500);
  CHECK(server.requests() == 3);
  Status st = statusFromHttp(resp->httpStatus, resp->body, "/api", "get");
  CHECK(st.code() == Code::kUnavailable);
  CHECK(st.message() == "/api: get server error (HTTP 500): etcd down");
}

TEST_CASE("an unreachable server is Unavailable after bounded attempts") {
  // Bind a port and close it again: nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  ClusterConfig cfg;
  cfg.server = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  cfg.token = "never-printed";
  auto client = KubeClient::create(cfg, fastRetries(3));
  REQUIRE(client.has_value());
  JsonAllocator alloc;
  auto got = (*client)->get(Gvk::fromApiVersion("v1", "ConfigMap"), "ns", "cm", alloc);
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code() == Code::kUnavailable);
  const std::string& msg = got.error().message();
  CHECK(msg.rfind("discovery /api: get: cannot reach " + cfg.server + ": ", 0) == 0);
  CHECK(msg.ends_with("(3 attempts)"));
  CHECK(msg.find("never-printed") == std::string::npos);
}

TEST_CASE("a batch keeps the order of its requests") {
  std::vector<std::string> canned;
  for (int i = 0; i < 6; ++i) canned.push_back(http(200, "", "{}"));
  CannedServer server(canned);
  ClusterConfig cfg;
  cfg.server = server.url();
  ClientOptions o = fastRetries(1);
  o.parallelism = 2;
  auto client = KubeClient::create(cfg, o);
  REQUIRE(client.has_value());
  std::vector<Request> reqs(6);
  for (size_t i = 0; i < reqs.size(); ++i) reqs[i].path = "/r" + std::to_string(i);
  auto results = (*client)->sendBatch(reqs);
  REQUIRE(results.size() == 6);
  for (auto& r : results) {
    REQUIRE(r.has_value());
    CHECK(r->httpStatus == 200);
  }
  CHECK(server.requests() == 6);
}

}  // namespace
}  // namespace windlass::reconcile
