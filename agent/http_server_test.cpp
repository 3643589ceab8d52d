#include "agent/http_server.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace windlass::agent {
namespace {

using std::chrono::milliseconds;

// A blocking client socket on 127.0.0.1:port whose reads give up after `timeout`.
class Client {
 public:
  Client(uint16_t port, milliseconds timeout = milliseconds(5000)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Client() { ::close(fd_); }

  void send(const std::string& data) {
    // MSG_NOSIGNAL: a server that already closed must not kill the test with SIGPIPE.
    (void)::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
  }

  // Reads one response (head and Content-Length body); "" when the server
  // closed first, "TIMEOUT" when nothing came in time.
  std::string response() {
    std::string data;
    char buf[4096];
    while (true) {
      size_t head = data.find("\r\n\r\n");
      if (head != std::string::npos) {
        size_t cl = data.find("Content-Length: ");
        size_t length = cl == std::string::npos ? 0 : std::stoul(data.substr(cl + 16));
        if (data.size() >= head + 4 + length) return data.substr(0, head + 4 + length);
      }
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return "TIMEOUT";
      if (n <= 0) return data;
      data.append(buf, static_cast<size_t>(n));
    }
  }

  // True when the server closed the connection (EOF or reset) before `timeout` ran out.
  bool closedByServer() {
    char buf[4096];
    while (true) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
      if (n < 0) return false;  // timed out
    }
  }

 private:
  int fd_ = -1;
};

HttpResponse echo(const HttpRequest& r) {
  HttpResponse out;
  out.contentType = "text/plain";
  out.body = r.method + " " + r.target + " " + std::to_string(r.body.size()) + " " +
             (r.headers.count("x-test") ? r.headers.at("x-test") : "-");
  return out;
}

std::unique_ptr<HttpServer> startServer(HttpServerOptions o, HttpHandler h = echo) {
  o.port = 0;
  auto server = HttpServer::start(std::move(o), std::move(h));
  REQUIRE_MESSAGE(server, server.error().message());
  REQUIRE(server.value()->port() != 0);
  return std::move(server.value());
}

// Waits (bounded) until the server counts `n` connections.
bool waitConnections(const HttpServer& s, size_t n) {
  for (int i = 0; i < 500 && s.connections() != n; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  return s.connections() == n;
}

TEST_CASE("a request, then another on the same connection") {
  auto server = startServer({});
  Client c(server->port());
  c.send("GET /healthz?x=1 HTTP/1.1\r\nHost: t\r\nX-Test: a\r\n\r\n");
  std::string r = c.response();
  CHECK(r.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(r.find("Content-Type: text/plain\r\n") != std::string::npos);
  CHECK(r.ends_with("\r\n\r\nGET /healthz?x=1 0 a"));
  c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
  r = c.response();
  CHECK(r.ends_with("\r\n\r\nPOST /x 5 -"));
  // Expect: 100-continue is answered before the body is sent.
  c.send("POST /y HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  CHECK(c.response() == "HTTP/1.1 100 Continue\r\n\r\n");
  c.send("abc");
  CHECK(c.response().ends_with("\r\n\r\nPOST /y 3 -"));
}

TEST_CASE("limits: header, body, malformed") {
  HttpServerOptions o;
  o.bodyLimit = 100;
  o.largeBodyLimit = 1000;
  auto server = startServer(o);
  {
    Client c(server->port());
    c.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n");
    std::string r = c.response();
    // 431, unless the close (with unread bytes: an RST) overtakes the answer.
    CHECK((r.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n") || r.empty()));
    CHECK(c.closedByServer());
  }
  {
    Client c(server->port());
    c.send("POST /api HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n");
    std::string r = c.response();
    CHECK(r.starts_with("HTTP/1.1 413 Payload Too Large\r\n"));
    CHECK(r.find("Content-Type: application/json\r\n") != std::string::npos);
  }
  {
    Client c(server->port());
    c.send("POST /hooks/github HTTP/1.1\r\nHost: t\r\nContent-Length: 500\r\n\r\n" +
           std::string(500, 'x'));
    CHECK(c.response().ends_with("POST /hooks/github 500 -"));
  }
  {
    Client c(server->port());  // a chunked body over the limit
    c.send(
        "POST /api HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "c8\r\n" +
        std::string(200, 'x') + "\r\n0\r\n\r\n");
    CHECK(c.response().starts_with("HTTP/1.1 413 "));
  }
  {
    Client c(server->port());
    c.send("NOT HTTP\r\n\r\n");
    CHECK(c.response().starts_with("HTTP/1.1 400 Bad Request\r\n"));
  }
}

TEST_CASE("a slow client is cut after the read timeout") {
  HttpServerOptions o;
  o.readTimeout = milliseconds(300);
  auto server = startServer(o);
  Client c(server->port());
  c.send("GET /heal");  // half a request line, then nothing
  auto started = std::chrono::steady_clock::now();
  CHECK(c.closedByServer());
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(4));
  CHECK(waitConnections(*server, 0));
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout") {
  HttpServerOptions o;
  o.idleTimeout = milliseconds(200);
  auto server = startServer(o);
  Client c(server->port());
  c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(c.response().starts_with("HTTP/1.1 200 "));
  CHECK(c.closedByServer());
}

TEST_CASE("beyond the connection cap, new connections are closed") {
  HttpServerOptions o;
  o.maxConnections = 2;
  auto server = startServer(o);
  Client a(server->port());
  Client b(server->port());
  REQUIRE(waitConnections(*server, 2));
  Client c(server->port());
  CHECK(c.closedByServer());
  a.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(a.response().ends_with("GET /a 0 -"));
  {
    Client gone(server->port());  // also over the cap
    CHECK(gone.closedByServer());
  }
  b.send("GET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  CHECK(b.response().ends_with("GET /b 0 -"));
  REQUIRE(waitConnections(*server, 1));
  Client d(server->port());
  d.send("GET /d HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(d.response().ends_with("GET /d 0 -"));
}

TEST_CASE("a throwing handler gives 500 without its text; stop closes connections") {
  auto server = startServer(
      {}, [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("secret detail"); });
  Client c(server->port());
  c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string r = c.response();
  CHECK(r.starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
  CHECK(r.find("secret detail") == std::string::npos);
  server->stop();
  CHECK(c.closedByServer());
  server->stop();  // idempotent
}

TEST_CASE("start errors") {
  auto first = startServer({});
  HttpServerOptions o;
  o.port = first->port();
  auto again = HttpServer::start(o, echo);
  REQUIRE(!again);
  CHECK(again.error().code() == Code::kUnavailable);
  CHECK(again.error().message() ==
        "listen on 127.0.0.1:" + std::to_string(o.port) + ": bind: Address already in use");
  o.threads = 0;
  auto bad = HttpServer::start(o, echo);
  REQUIRE(!bad);
  CHECK(bad.error().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace windlass::agent
