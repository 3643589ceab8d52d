#include "agent/http_server.h"

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace windlass::agent {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

const char* httpReason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
  }
  return "Unknown";
}

namespace {

class Session;

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler handler;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::atomic<size_t> active{0};
  std::mutex mu;  // guards sessions and stopped
  std::map<Session*, std::weak_ptr<Session>> sessions;
  bool stopped = false;

  void accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {}

  ~Session() {
    std::lock_guard lock(server_.mu);
    server_.sessions.erase(this);
    --server_.active;
  }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->readHeader(); });
  }

  // Closes the socket on the session's strand; pending operations end with an error.
  void close() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.socket().close(ec);
    });
  }

 private:
  const HttpServerOptions& options() const { return server_.options; }

  void readHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options().headerLimit));
    parser_->body_limit(options().largeBodyLimit);  // lowered per target once the head is read
    stream_.expires_after(first_ ? options().readTimeout : options().idleTimeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onHeader(ec); });
  }

  void onHeader(beast::error_code ec) {
    if (ec == http::error::header_limit) return fail(431, "request header too large");
    if (ec == http::error::body_limit) return fail(413, "request body too large");
    if (ec) return failRead(ec);
    std::string_view target(parser_->get().target().data(), parser_->get().target().size());
    size_t limit = target.starts_with(options().largeBodyPrefix) ? options().largeBodyLimit
                                                                 : options().bodyLimit;
    if (auto length = parser_->content_length(); length && *length > limit) {
      return fail(413, "request body too large");
    }
    parser_->body_limit(limit);
    // The whole request, head included, must arrive within readTimeout of its first read;
    // a keep-alive connection waited idleTimeout for the head instead.
    if (!first_) stream_.expires_after(options().readTimeout);
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue") &&
        !parser_->is_done()) {
      // curl and others wait (about a second) for this before sending a body.
      auto go = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(stream_, *go,
                        [self = shared_from_this(), go](beast::error_code writeEc, size_t) {
                          if (writeEc) return self->shutdown();
                          self->readBody();
                        });
      return;
    }
    readBody();
  }

  void readBody() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code readEc, size_t) { self->onRead(readEc); });
  }

  // A read error other than a limit: a closed or timed-out connection gets no
  // answer, anything else is a malformed request.
  void failRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof || ec == net::error::bad_descriptor) {
      return shutdown();
    }
    fail(400, "malformed request");
  }

  void onRead(beast::error_code ec) {
    if (ec == http::error::body_limit) return fail(413, "request body too large");
    if (ec) return failRead(ec);
    first_ = false;
    const auto& msg = parser_->get();
    HttpRequest request;
    request.method = std::string(msg.method_string());
    request.target = std::string(msg.target());
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value(field.value());
      auto [it, inserted] = request.headers.try_emplace(name, value);
      if (!inserted) it->second += ", " + value;
    }
    request.body = msg.body();
    bool keepAlive = msg.keep_alive();
    HttpResponse response;
    try {
      response = server_.handler(request);
    } catch (const std::exception&) {
      response = HttpResponse{500,
                              "application/json",
                              R"({"error":"internal error"})"
                              "\n",
                              {}};
    }
    respond(std::move(response), keepAlive);
  }

  void fail(int status, std::string_view why) {
    HttpResponse r;
    r.status = status;
    r.body = R"({"error":")" + std::string(why) + "\"}\n";
    respond(std::move(r), false);
  }

  void respond(HttpResponse response, bool keepAlive) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(response.status));
    res->reason(httpReason(response.status));
    res->set(http::field::content_type, response.contentType);
    res->set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : response.headers) res->set(name, value);
    res->body() = std::move(response.body);
    res->keep_alive(keepAlive);
    res->prepare_payload();
    stream_.expires_after(options().readTimeout);  // a client that does not read is cut too
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keepAlive](beast::error_code ec, size_t) {
                        if (ec || !keepAlive) return self->shutdown();
                        self->readHeader();
                      });
  }

  void shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl& server_;
  bool first_ = true;  // no request answered yet on this connection
};

}  // namespace

void HttpServer::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      std::shared_ptr<Session> session;
      {
        std::lock_guard lock(mu);
        if (!stopped && active < options.maxConnections) {
          ++active;
          session = std::make_shared<Session>(std::move(socket), *this);
          sessions[session.get()] = session;
        }
      }
      if (session) {
        session->start();
      } else {
        beast::error_code ignored;
        socket.close(ignored);  // over the cap: closed at once
      }
    }
    accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options,
                                                      HttpHandler handler) {
  if (options.threads < 1 || options.maxConnections < 1 || !handler) {
    return Status::invalidArgument("http server: threads and maxConnections must be >= 1");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->handler = std::move(handler);
  const HttpServerOptions& o = impl->options;
  std::string where = o.host + ":" + std::to_string(o.port);
  beast::error_code ec;
  tcp::endpoint endpoint;
  net::ip::address address = net::ip::make_address(o.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, o.port);
  } else {
    tcp::resolver resolver(impl->ioc);
    auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || results.empty()) {
      return Status::invalidArgument("listen on " + where + ": cannot resolve " + o.host + ": " +
                                     ec.message());
    }
    endpoint = results.begin()->endpoint();
  }
  tcp::acceptor& acceptor = impl->acceptor;
  auto failed = [&](const char* what) {
    return Status::unavailable("listen on " + where + ": " + what + ": " + ec.message());
  };
  if (acceptor.open(endpoint.protocol(), ec); ec) return failed("open");
  if (acceptor.set_option(net::socket_base::reuse_address(true), ec); ec)
    return failed("setsockopt");
  if (acceptor.bind(endpoint, ec); ec) return failed("bind");
  if (acceptor.listen(net::socket_base::max_listen_connections, ec); ec) return failed("listen");
  impl->accept();
  for (int i = 0; i < impl->options.threads; ++i) {
    impl->threads.emplace_back([io = &impl->ioc] { io->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

size_t HttpServer::connections() const { return impl_->active.load(); }

void HttpServer::stop() {
  if (!impl_) return;
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    for (auto& [ptr, weak] : impl_->sessions) {
      if (auto s = weak.lock()) open.push_back(std::move(s));
    }
  }
  net::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
  for (auto& s : open) s->close();
  open.clear();
  // Every pending operation now ends with an error, so run() returns once their handlers
  // (and any request handler still running) are done.
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace windlass::agent
