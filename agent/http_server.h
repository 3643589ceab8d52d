// The agent's HTTP/1.1 server: Boost.Beast on its own io_context thread(s),
// handing each complete request to one HttpHandler (see agent/api.h).
//
// Hardened for an endpoint that may face a network:
//   - the request line and headers together are limited (headerLimit, default
//     8 KiB): a larger head is answered 431 and the connection closed;
//   - the body is limited (1 MiB under /hooks/, 64 KiB elsewhere): a larger one
//     is answered 413 and the connection closed;
//   - the first request of a connection must arrive whole within readTimeout
//     (default 10 s) of the accept; a slow client is disconnected without an
//     answer. Keep-alive: the head of each later request must arrive within
//     idleTimeout (default 30 s) of the previous answer, else the connection is
//     closed, and its body within readTimeout after that. Writing an answer
//     must also finish within readTimeout;
//   - at most maxConnections (default 64) connections at once: one more is
//     accepted and closed at once;
//   - a request that does not parse is answered 400 and the connection closed;
//     a handler that throws is answered 500 (the exception text is not sent).
// Every response carries Content-Type and Content-Length. A request with
// `Expect: 100-continue` within the limits gets "100 Continue" before its body is read.
//
// Thread safety: start() and stop() from one owning thread. The handler is
// called on the server's threads, concurrently when threads > 1; it must be
// thread-safe and should not block for long (it holds up other connections
// served by the same thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/status.h"

namespace windlass::agent {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query, e.g. "/api/v1/environments?x=1"
  std::map<std::string, std::string> headers;  // lowercase names; repeated headers joined by ", "
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  // Extra headers, e.g. Allow on a 405 or WWW-Authenticate on a 401.
  std::map<std::string, std::string> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";       // an address or a name resolved at start()
  uint16_t port = 9797;                 // 0: any free port (see HttpServer::port())
  size_t headerLimit = 8 * 1024;        // request line + headers, bytes
  size_t bodyLimit = 64 * 1024;         // bytes, for targets not under largeBodyPrefix
  size_t largeBodyLimit = 1024 * 1024;  // bytes, for targets under largeBodyPrefix
  std::string largeBodyPrefix = "/hooks/";
  std::chrono::milliseconds readTimeout = std::chrono::seconds(10);  // one whole request
  std::chrono::milliseconds idleTimeout = std::chrono::seconds(30);  // between requests
  size_t maxConnections = 64;
  int threads = 1;  // io_context threads, >= 1
};

class HttpServer {
 public:
  // Binds, listens and starts serving on options.threads new threads.
  // Errors: InvalidArgument for an address that does not resolve or bad
  // options; Unavailable when the address cannot be bound or listened on
  // ("listen on 127.0.0.1:9797: Address already in use"). The returned server
  // serves until stop() or destruction.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options,
                                                                 HttpHandler handler);

  ~HttpServer();  // stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the chosen one when options.port was 0).
  uint16_t port() const;

  // Connections open right now. Thread-safe.
  size_t connections() const;

  // Stops accepting, closes every connection (requests in flight get no
  // answer) and joins the threads. Idempotent; never fails.
  void stop();

  struct Impl;  // the implementation's state; public only for its connection class

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The reason phrase of `status` ("OK", "Not Found", ...); "Unknown" for others.
const char* httpReason(int status);

}  // namespace windlass::agent
