#include "sources/git_stream.h"

#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "core/cancel.h"
#include "sources/git.h"

namespace windlass::sources {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
constexpr milliseconds kSlice{100};  // how often a blocked call checks the cancel token
}  // namespace

struct GitCallScope::State {
  GitTimeouts timeouts;
  const CancelToken* cancel = nullptr;
  Clock::time_point deadline;  // of the total timeout
  std::atomic<StreamStop> stop{StreamStop::kNone};
  bool writing = false;  // the idle stop happened while sending (for the message)

  // Sockets handed to libssh2, watched by the watchdog. Guarded by mu.
  std::mutex mu;
  std::condition_variable wake;
  std::vector<int> sockets;
  bool done = false;
  std::thread watchdog;
  State* outer = nullptr;  // the scope this one replaced

  // Records the first reason only.
  void setStop(StreamStop s) {
    StreamStop none = StreamStop::kNone;
    stop.compare_exchange_strong(none, s);
  }
};

namespace {

thread_local GitCallScope::State* tCurrent = nullptr;

// ---------------------------------------------------------------------------------------
// The stream. Its first four members keep the layout of libgit2's private
// git_socket_stream, because transports/ssh.c casts to it and reads `s`.

struct TimeoutStream {
  git_stream parent;
  char* host;
  char* port;
  int s;
};

void netError(const std::string& msg) { git_error_set_str(GIT_ERROR_NET, msg.c_str()); }

// Fails the libgit2 call because the scope says stop; the caller turns this into the
// scope's own message.
int stopped(GitCallScope::State* st, StreamStop why) {
  st->setStop(why);
  netError(why == StreamStop::kCancelled ? "cancelled" : "timed out");
  return -1;
}

// Waits until `fd` is ready for `events`, at most until `idleDeadline`, the total
// deadline and the cancel token allow. Returns 1 when ready, -1 (with the scope's stop
// reason set) when a limit ran out or poll failed.
int waitReady(int fd, short events, Clock::time_point idleDeadline, StreamStop idleReason) {
  GitCallScope::State* st = tCurrent;
  while (true) {
    auto now = Clock::now();
    milliseconds wait = kSlice;
    if (st != nullptr) {
      if (st->stop.load() != StreamStop::kNone) return stopped(st, st->stop.load());
      if (st->cancel != nullptr && st->cancel->cancelled()) {
        return stopped(st, StreamStop::kCancelled);
      }
      if (now >= st->deadline) return stopped(st, StreamStop::kTotal);
      if (now >= idleDeadline) {
        if (idleReason == StreamStop::kIdle && events == POLLOUT) st->writing = true;
        return stopped(st, idleReason);
      }
      auto left = std::min(st->deadline, idleDeadline) - now;
      wait = std::min(wait, std::chrono::ceil<milliseconds>(left));
    } else {
      wait = milliseconds(-1);  // no scope: block like libgit2's own stream
    }
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(wait.count()));
    if (rc > 0) return 1;
    if (rc < 0 && errno != EINTR) {
      netError(std::string("poll: ") + std::strerror(errno));
      return -1;
    }
  }
}

Clock::time_point idleDeadline(StreamStop kind) {
  GitCallScope::State* st = tCurrent;
  if (st == nullptr) return Clock::time_point::max();
  milliseconds limit = kind == StreamStop::kConnect ? st->timeouts.connect : st->timeouts.idle;
  return Clock::now() + limit;
}

// Connects one non-blocking socket to `addr`. Returns the descriptor, or -1 with
// `*err` set to the errno (0 when a limit stopped it: the scope says which).
int connectOne(const addrinfo* a, Clock::time_point deadline, int* err) {
  int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      *err = errno;
      ::close(fd);
      return -1;
    }
    if (waitReady(fd, POLLOUT, deadline, StreamStop::kConnect) < 0) {
      *err = 0;
      ::close(fd);
      return -1;
    }
    int soError = 0;
    socklen_t len = sizeof soError;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len) != 0) soError = errno;
    if (soError != 0) {
      *err = soError;
      ::close(fd);
      return -1;
    }
  }
  // Back to blocking mode, as libgit2's own socket is: libssh2 expects that. Our
  // reads and writes use MSG_DONTWAIT.
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

int streamConnect(git_stream* stream) {
  auto* ts = reinterpret_cast<TimeoutStream*>(stream);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* info = nullptr;
  if (int rc = ::getaddrinfo(ts->host, ts->port, &hints, &info); rc != 0) {
    netError(std::string("failed to resolve address for ") + ts->host + ": " + gai_strerror(rc));
    return -1;
  }
  Clock::time_point deadline = idleDeadline(StreamStop::kConnect);
  int fd = -1, err = ECONNREFUSED;
  for (const addrinfo* a = info; a != nullptr && fd < 0; a = a->ai_next) {
    fd = connectOne(a, deadline, &err);
    if (fd < 0 && err == 0) break;  // a limit stopped it: no point trying the next address
  }
  ::freeaddrinfo(info);
  if (fd < 0) {
    if (err != 0) {
      netError(std::string("failed to connect to ") + ts->host + ":" + ts->port + ": " +
               std::strerror(err));
    }
    return -1;
  }
  ts->s = fd;
  if (GitCallScope::State* st = tCurrent) {  // for the SSH watchdog
    std::lock_guard<std::mutex> lock(st->mu);
    st->sockets.push_back(fd);
  }
  return 0;
}

ssize_t streamRead(git_stream* stream, void* data, size_t len) {
  auto* ts = reinterpret_cast<TimeoutStream*>(stream);
  Clock::time_point idle = idleDeadline(StreamStop::kIdle);
  while (true) {
    if (waitReady(ts->s, POLLIN, idle, StreamStop::kIdle) < 0) return -1;
    ssize_t n = ::recv(ts->s, data, len, MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      netError(std::string("error receiving socket data: ") + std::strerror(errno));
      return -1;
    }
  }
}

ssize_t streamWrite(git_stream* stream, const char* data, size_t len, int flags) {
  auto* ts = reinterpret_cast<TimeoutStream*>(stream);
  Clock::time_point idle = idleDeadline(StreamStop::kIdle);
  while (true) {
    if (waitReady(ts->s, POLLOUT, idle, StreamStop::kIdle) < 0) return -1;
    ssize_t n = ::send(ts->s, data, len, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      netError(std::string("error sending data: ") + std::strerror(errno));
      return -1;
    }
  }
}

int streamClose(git_stream* stream) {
  auto* ts = reinterpret_cast<TimeoutStream*>(stream);
  if (ts->s < 0) return 0;
  if (GitCallScope::State* st = tCurrent) {  // forget it before the number can be reused
    std::lock_guard<std::mutex> lock(st->mu);
    auto& v = st->sockets;
    v.erase(std::remove(v.begin(), v.end(), ts->s), v.end());
  }
  int rc = ::close(ts->s);
  ts->s = -1;
  return rc;
}

void streamFree(git_stream* stream) {
  auto* ts = reinterpret_cast<TimeoutStream*>(stream);
  streamClose(stream);
  std::free(ts->host);
  std::free(ts->port);
  delete ts;
}

int streamNew(git_stream** out, const char* host, const char* port) {
  auto* ts = new TimeoutStream{};
  ts->parent.version = GIT_STREAM_VERSION;
  ts->parent.connect = streamConnect;
  ts->parent.read = streamRead;
  ts->parent.write = streamWrite;
  ts->parent.close = streamClose;
  ts->parent.free = streamFree;
  ts->host = ::strdup(host);
  ts->port = ::strdup(port != nullptr ? port : "");
  ts->s = -1;
  *out = &ts->parent;
  return 0;
}

// The SSH watchdog: every slice, checks the cancel token, the total deadline and how
// long the watched sockets have been silent, and shuts them down when a limit ran out
// (libssh2 then fails the call with a socket error).
void watch(GitCallScope::State* st) {
  std::unique_lock<std::mutex> lock(st->mu);
  while (!st->done) {
    st->wake.wait_for(lock, kSlice);
    if (st->done) break;
    StreamStop why = StreamStop::kNone;
    if (st->cancel != nullptr && st->cancel->cancelled()) {
      why = StreamStop::kCancelled;
    } else if (Clock::now() >= st->deadline) {
      why = StreamStop::kTotal;
    } else {
      for (int fd : st->sockets) {
        tcp_info info{};
        socklen_t len = sizeof info;
        if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) continue;
        milliseconds silent{std::min(info.tcpi_last_data_recv, info.tcpi_last_data_sent)};
        if (silent >= st->timeouts.idle) why = StreamStop::kIdle;
      }
    }
    if (why == StreamStop::kNone) continue;
    if (!st->sockets.empty()) st->setStop(why);
    for (int fd : st->sockets) ::shutdown(fd, SHUT_RDWR);
  }
}

}  // namespace

bool registerGitStream() {
  static bool ok = [] {
    static git_stream_registration reg{};
    reg.version = GIT_STREAM_VERSION;
    reg.init = streamNew;
    reg.wrap = nullptr;
    return git_stream_register(GIT_STREAM_STANDARD, &reg) == 0;
  }();
  return ok;
}

GitCallScope::GitCallScope(const GitTimeouts& timeouts, const CancelToken* cancel,
                           bool watchSockets)
    : state_(std::make_unique<State>()) {
  state_->timeouts = timeouts;
  state_->cancel = cancel;
  state_->deadline = Clock::now() + timeouts.total;
  state_->outer = tCurrent;
  tCurrent = state_.get();
  if (watchSockets) state_->watchdog = std::thread(watch, state_.get());
}

GitCallScope::~GitCallScope() {
  if (state_->watchdog.joinable()) {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->done = true;
    }
    state_->wake.notify_all();
    state_->watchdog.join();
  }
  tCurrent = state_->outer;
}

StreamStop GitCallScope::stop() const {
  StreamStop s = state_->stop.load();
  // A cancel seen by nothing else (e.g. during a local step) still counts.
  if (s == StreamStop::kNone && state_->cancel != nullptr && state_->cancel->cancelled()) {
    return StreamStop::kCancelled;
  }
  return s;
}

std::string GitCallScope::stopReason() const {
  const GitTimeouts& t = state_->timeouts;
  switch (stop()) {
    case StreamStop::kNone:
      return "";
    case StreamStop::kConnect:
      return "no connection to the server within " + formatDuration(t.connect) +
             " (connect timeout)";
    case StreamStop::kIdle:
      return (state_->writing ? "the server took no data for " : "no data from the server for ") +
             formatDuration(t.idle) + " (idle timeout)";
    case StreamStop::kTotal:
      return "not done within " + formatDuration(t.total) + " (total timeout)";
    case StreamStop::kCancelled:
      return "cancelled";
  }
  return "";
}

milliseconds GitCallScope::remaining() const {
  auto left = state_->deadline - Clock::now();
  return std::max(milliseconds(0), std::chrono::ceil<milliseconds>(left));
}

std::string formatDuration(milliseconds d) {
  long long ms = d.count();
  if (ms % 1000 != 0 || ms == 0) return std::to_string(ms) + "ms";
  long long s = ms / 1000;
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0 && s >= 120) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace windlass::sources
