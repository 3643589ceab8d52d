// Timeouts and cancellation for libgit2's network transfers (libgit2 1.5 has no
// timeout options of its own). Internal to sources/git.cpp; exposed for its tests.
//
// How it works: registerGitStream() replaces libgit2's standard (plain TCP) stream,
// process-wide, by one that connects without blocking (poll() bounded by the connect
// timeout) and reads and writes through poll() bounded by the idle timeout, the
// remaining total time and a CancelToken (checked every 100 ms). The limits of the
// call in progress reach the stream through a thread_local set by a GitCallScope for
// the duration of one fetch or push; outside a scope the stream blocks like libgit2's.
//
// Which transports go through it (checked against the libgit2 1.5.1 sources):
//   http://   httpclient.c → git_socket_stream_new → the registered standard stream.
//   https://  httpclient.c → git_tls_stream_new → mbedTLS (Debian's build), which
//             wraps git_socket_stream_new's stream and reads and writes through it.
//   git://    transports/git.c → git_socket_stream_new.
//   ssh://    transports/ssh.c → git_socket_stream_new + git_stream_connect (so the
//             connect timeout applies), but then hands the socket's descriptor to
//             libssh2, which reads and writes it directly: it casts the stream to
//             libgit2's private git_socket_stream {git_stream; host; port; int s}, so
//             our stream keeps that layout. For SSH the idle, total and cancel limits
//             are enforced by a watchdog thread of the GitCallScope that shuts the
//             socket down (shutdown(2)); "idle" there is read from TCP_INFO (no data
//             received or sent for the idle time).
//   file:// and local paths use no socket and no stream: the timeouts and the cancel
//   token do not apply to them (a local fetch cannot hang on a server).
// Name resolution (getaddrinfo) blocks and is not bounded by the connect timeout.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace windlass {
class CancelToken;
}

namespace windlass::sources {

struct GitTimeouts;

// Registers the stream with libgit2, once per process (later calls do nothing).
// Returns false when libgit2 refused the registration (then transfers have no
// timeouts). Thread-safe. Must run after git_libgit2_init().
bool registerGitStream();

// Why a transfer was stopped by the stream, if it was.
enum class StreamStop { kNone, kConnect, kIdle, kTotal, kCancelled };

// The limits of one fetch or push on the calling thread, from construction to
// destruction. Scopes do not nest (an inner one replaces the outer until it ends).
// `cancel` (may be null) is borrowed for the scope's lifetime. With
// `watchSockets` (SSH) a watchdog thread enforces the limits on sockets that libgit2
// reads without the stream. Not copyable; used by one thread.
class GitCallScope {
 public:
  GitCallScope(const GitTimeouts& timeouts, const CancelToken* cancel, bool watchSockets);
  ~GitCallScope();
  GitCallScope(const GitCallScope&) = delete;
  GitCallScope& operator=(const GitCallScope&) = delete;

  // What stopped the transfer so far (kNone when nothing did).
  StreamStop stop() const;
  // The words for stop(), e.g. "no data from the server for 60s"; "" for kNone.
  std::string stopReason() const;
  // The time left before the total timeout (never negative).
  std::chrono::milliseconds remaining() const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// "300ms", "60s", "5m": the shortest exact spelling of `d`.
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace windlass::sources
