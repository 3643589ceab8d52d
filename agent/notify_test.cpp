#include "agent/notify.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <mutex>
#include <thread>

namespace windlass::agent {
namespace {

using namespace std::chrono_literals;

// A one-connection-at-a-time HTTP/1.1 receiver on 127.0.0.1:<port 0>. Answers each POST
// with the next status from `statuses` (200 when none is left) and keeps what it got.
class Receiver {
 public:
  struct Got {
    std::string headers;  // lowercased
    std::string body;
  };

  explicit Receiver(std::deque<int> statuses = {}) : statuses_(std::move(statuses)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Got> got() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string data;
      char buf[4096];
      size_t headerEnd = std::string::npos;
      size_t want = 0;
      while (true) {
        ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        data.append(buf, static_cast<size_t>(n));
        if (headerEnd == std::string::npos) {
          headerEnd = data.find("\r\n\r\n");
          if (headerEnd == std::string::npos) continue;
          std::string lower = data.substr(0, headerEnd);
          std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
          size_t cl = lower.find("content-length:");
          want = cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 15));
        }
        if (data.size() >= headerEnd + 4 + want) break;
      }
      int status = 200;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!statuses_.empty()) {
          status = statuses_.front();
          statuses_.pop_front();
        }
        if (headerEnd != std::string::npos) {
          std::string h = data.substr(0, headerEnd);
          std::transform(h.begin(), h.end(), h.begin(), ::tolower);
          got_.push_back(Got{h, data.substr(headerEnd + 4)});
        }
      }
      std::string answer = "HTTP/1.1 " + std::to_string(status) +
                           " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::deque<int> statuses_;
  std::vector<Got> got_;
  std::thread thread_;
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

NotificationMessage failed() {
  NotificationMessage n;
  n.event = kNotifySyncFailed;
  n.environment = "prod";
  n.revision = "main@sha1:abc";
  n.object = "apps/Deployment prod/web";
  n.message = "apply failed: \"quoted\"";
  n.time = std::chrono::system_clock::time_point(std::chrono::seconds(1800000000));
  return n;
}

struct Logs {
  std::mutex mu;
  std::vector<std::string> lines;
  std::function<void(const std::string&)> fn() {
    return [this](const std::string& m) {
      std::lock_guard<std::mutex> lock(mu);
      lines.push_back(m);
    };
  }
};

TEST_CASE("payloads") {
  CHECK(jsonPayload(failed()) ==
        R"({"event":"sync-failed","environment":"prod","revision":"main@sha1:abc",)"
        R"("object":"apps/Deployment prod/web","message":"apply failed: \"quoted\"",)"
        R"("time":"2027-01-15T08:00:00Z"})");
  CHECK(slackPayload(failed()) ==
        R"x({"text":"[prod] sync-failed: apply failed: \"quoted\" )x"
        R"x((revision main@sha1:abc, object apps/Deployment prod/web)"})x");
}

TEST_CASE("HMAC-SHA256 matches RFC 4231 test case 2") {
  CHECK(hmacSha256Hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("redactUrl keeps scheme, host and port only") {
  CHECK(redactUrl("https://user:tok@hooks.example.com:8443/services/T000/B000/XXXX?x=1") ==
        "https://hooks.example.com:8443");
  CHECK(redactUrl("http://127.0.0.1:80") == "http://127.0.0.1:80");
}

TEST_CASE("create refuses an unknown format or a non-http URL") {
  auto bad = Notifier::create(NotifierOptions{.targets = {{"http://x", {}, "xml", ""}}});
  REQUIRE(!bad);
  CHECK(bad.error().message() ==
        "notification target 0: format \"xml\": want \"json\" or \"slack\"");
  auto file = Notifier::create(NotifierOptions{.targets = {{"file:///etc/passwd", {}, "", ""}}});
  REQUIRE(!file);
  CHECK(file.error().message() == "notification target 0: url must start with http:// or https://");
}

TEST_CASE("a signed json delivery, retried after a 500; unsubscribed events are not sent") {
  Receiver rx({500});
  Logs logs;
  const std::string secret = "s3cret-hmac-key";
  auto n = Notifier::create(NotifierOptions{
      .targets = {{rx.url(), {kNotifySyncFailed}, "json", secret}},
      .initialBackoff = 10ms,
      .log = logs.fn(),
  });
  REQUIRE(n);
  CHECK((*n)->notify(failed()) == 1);
  NotificationMessage ok = failed();
  ok.event = kNotifySyncSucceeded;
  CHECK((*n)->notify(ok) == 0);
  (*n)->flush();
  auto got = rx.got();
  REQUIRE(got.size() == 2);  // the 500, then the retry
  CHECK(got[0].body == got[1].body);
  CHECK(got[1].body == jsonPayload(failed()));
  CHECK(contains(got[1].headers, "post /hook http/1.1"));
  CHECK(contains(got[1].headers, "content-type: application/json"));
  CHECK(contains(got[1].headers,
                 "x-windlass-signature: sha256=" + hmacSha256Hex(secret, got[1].body)));
  CHECK_FALSE(contains(got[1].body, secret));
  CHECK((*n)->failed() == 0);
  for (const std::string& l : logs.lines) CHECK_FALSE(contains(l, secret));
}

TEST_CASE("slack format is unsigned; gives up after maxAttempts and logs without secrets") {
  Receiver rx({503, 503, 503});
  Logs logs;
  auto n = Notifier::create(NotifierOptions{
      .targets = {{rx.url("/services/TOKEN123"), {kNotifyFight}, "slack", "key"}},
      .maxAttempts = 3,
      .initialBackoff = 5ms,
      .log = logs.fn(),
  });
  REQUIRE(n);
  NotificationMessage f = failed();
  f.event = kNotifyFight;
  CHECK((*n)->notify(f) == 1);
  (*n)->flush();
  auto got = rx.got();
  REQUIRE(got.size() == 3);
  CHECK(contains(got[0].body, R"({"text":"[prod] fight: )"));
  CHECK_FALSE(contains(got[0].headers, "x-windlass-signature"));
  CHECK((*n)->failed() == 1);
  REQUIRE(logs.lines.size() == 1);
  CHECK(logs.lines[0] ==
        "notification gave up after 3 tries: " + redactUrl(rx.url()) + ": post answered HTTP 503");
  CHECK_FALSE(contains(logs.lines[0], "TOKEN123"));
}

TEST_CASE("a full queue drops and says so") {
  Logs logs;
  auto n = Notifier::create(NotifierOptions{
      .targets = {{"http://127.0.0.1:9/x?token=abc", {kNotifyDrift}, "json", ""}},
      .queueCapacity = 0,
      .log = logs.fn(),
  });
  REQUIRE(n);
  NotificationMessage d = failed();
  d.event = kNotifyDrift;
  CHECK((*n)->notify(d) == 0);
  CHECK((*n)->dropped() == 1);
  REQUIRE(logs.lines.size() == 1);
  CHECK(logs.lines[0] ==
        "notification drift for prod to http://127.0.0.1:9: dropped: the queue is full");
}

}  // namespace
}  // namespace windlass::agent
