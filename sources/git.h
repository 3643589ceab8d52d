// Git sources: a bare mirror of one remote repository, fetched incrementally with
// libgit2, revisions resolved to commits, and commit trees read in place through the
// renderer's FileSource interface (no checkout, no work tree).
//
// URLs: https://, http://, ssh://, scp-like user@host:path, git://, file:// and local
// paths. Credentials come from GitCredentials and never appear in any message: every
// error names the URL with its password removed, and any secret that libgit2 echoes
// back is masked.
//
// Error codes, as the scheduler reads them:
//   Unauthenticated     the server refused the credentials, or wanted some and none were
//                       configured;
//   FailedPrecondition  the server's identity could not be verified (SSH host key not in,
//                       or not matching, known_hosts; TLS certificate not trusted), or the
//                       configuration is unusable (unreadable key file);
//   Unavailable         the server could not be reached or broke off the transfer;
//   NotFound            the repository, branch, tag or commit does not exist (yet);
//   InvalidArgument     a malformed URL, refspec or revision;
//   DeadlineExceeded    a timeout of GitTimeouts ran out ("git fetch <url>: timed out: no
//                       data from the server for 60s (idle timeout)"); the mirror keeps
//                       what it had;
//   Aborted             the CancelToken was cancelled ("git fetch <url>: cancelled"), or
//                       another process held the mirror's lock for the whole total
//                       timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/file_source.h"
#include "core/status.h"

namespace windlass {
class CancelToken;
}

namespace windlass::sources {

// Limits on each network call of a GitMirror (fetch(), commitAndPush()). They apply to
// http://, https://, git:// and ssh:// remotes; file:// and local paths use no network
// and have none. Name resolution (DNS) is not bounded by them.
struct GitTimeouts {
  // Establishing the TCP connection to the server. Default 30 s.
  std::chrono::milliseconds connect{std::chrono::seconds(30)};
  // The longest the server may stay silent (send nothing, or take none of the data we
  // send) in the middle of a transfer. Default 60 s.
  std::chrono::milliseconds idle{std::chrono::seconds(60)};
  // The whole call: the wait for the mirror's lock and every transfer in it (for
  // commitAndPush(), its fetch and its push together). Default 5 min.
  std::chrono::milliseconds total{std::chrono::minutes(5)};
};

// How to authenticate to the remote and how to verify it. Every field is optional;
// empty means "not configured".
struct GitCredentials {
  // HTTP(S) basic authentication. With only a password (a token), the user name of
  // the URL is used, else "git".
  std::string username;
  std::string password;  // or an access token
  // SSH public-key authentication: the private key (OpenSSH or PEM format, no
  // passphrase) and, optionally, its public key (derived from the private key when
  // empty). The SSH user is the one in the URL, else `username`, else "git".
  std::string sshKeyFile;
  std::string sshPublicKeyFile;
  // OpenSSH known_hosts file that must hold the SSH server's host key (plain or
  // hashed host names, "[host]:port" for non-22 ports). SSH connections are refused
  // when it is empty: host keys are never trusted on first use.
  std::string knownHostsFile;
  // PEM file of CA certificates trusted for this remote's HTTPS server, in addition
  // to the system's. The server's certificate must be signed directly by one of them
  // (or chain to one through certificates in the same file) and name the host.
  std::string caFile;
  // Accept any HTTPS certificate. For tests only.
  bool insecureSkipTlsVerify = false;
};

// The metadata of one commit, as recorded in the history.
struct CommitInfo {
  std::string id;  // 40 hex digits
  std::string authorName, authorEmail;
  std::string committerName, committerEmail;
  std::string message;    // the full message, as committed
  std::string signature;  // the armored gpgsig/SSH signature, "" when unsigned
  int64_t time = 0;       // committer time, seconds since the epoch (UTC)
};

// What a signature check needs of a commit (sources/signature.h).
struct SignedCommit {
  std::string signature;   // the gpgsig header's value, unindented; "" when unsigned
  std::string signedData;  // the commit object without that header; "" when unsigned
  int64_t time = 0;        // committer time, seconds since the epoch (UTC)
};

// Counters of the last fetch (libgit2's transfer progress).
struct FetchStats {
  uint64_t receivedObjects = 0;  // objects sent by the server
  uint64_t receivedBytes = 0;
  uint64_t updatedRefs = 0;  // local references created, moved or deleted
};

// One file a write-back commit writes.
struct FileWrite {
  std::string path;     // file path inside the tree, normalised ("apps/dev/images.yaml")
  std::string content;  // the new content of that file (created when missing)
};

// Who a write-back commit is from, and what it says.
struct CommitRequest {
  std::string branch;   // e.g. "main"; must exist on the remote
  std::string path;     // file path inside the tree, normalised ("apps/dev/images.yaml")
  std::string content;  // the new content of that file (created when missing)
  // More files for the same commit (image automation writes every file whose markers
  // moved in one commit); `path` may then be empty. Paths must be distinct.
  std::vector<FileWrite> moreFiles;
  std::string message;
  std::string authorName = "windlass";
  std::string authorEmail = "windlass@localhost";
  // Called with the new commit's id after it is made and before it is pushed (e.g. to
  // note what the commit is for before anyone can fetch it); an error stops the push.
  std::function<Status(const std::string& commit)> beforePush;
};

// Moves a branch to a commit (a promotion between environment branches).
struct PromoteRequest {
  std::string branch;   // the target branch, e.g. "env/prod"; must exist on the remote
  std::string commit;   // the commit to bring there (40 hex digits, in the mirror)
  std::string message;  // of the merge commit, when one is needed
  std::string authorName = "windlass";
  std::string authorEmail = "windlass@localhost";
  // As CommitRequest::beforePush, with the commit the branch will move to.
  std::function<Status(const std::string& commit)> beforePush;
};

struct PromoteResult {
  std::string commit;        // the branch's new head
  bool fastForward = false;  // moved to `commit` itself
  bool unchanged = false;    // already at `commit` or a descendant of it: nothing pushed
};

// A bare mirror of one remote under a local folder (normally inside the agent's
// state folder). The mirror holds only Git objects and references; nothing is
// checked out.
//
// Locking: every step that writes the mirror (its creation in open(), each fetch()
// and commitAndPush()) holds an exclusive file lock, `<mirrorDir>.lock` beside the
// mirror folder (flock(2): free again when its holder dies, however it dies). So any
// number of GitMirror objects, in one process or in several, may share a folder; their
// writes take turns. Right after taking the lock, libgit2 lock files that a killed
// process left in the mirror (`*.lock` outside objects/: config.lock, HEAD.lock,
// packed-refs.lock, FETCH_HEAD.lock, refs/**.lock, logs/**.lock, ...) are removed:
// while the lock is held no other windlass process can be writing them.
//
// Not thread-safe: one thread at a time per GitMirror object. The FileSources returned
// by tree() are independent of the mirror (they may outlive it) and are thread-safe.
class GitMirror {
 public:
  // Opens the bare repository at `mirrorDir`, creating the folder (and its parents)
  // and an empty bare repository when missing, under the mirror's lock (waiting for it
  // at most `timeouts.total`). Nothing touches the network; `timeouts` are kept for
  // fetch() and commitAndPush(). InvalidArgument when the URL is empty;
  // FailedPrecondition when `mirrorDir` exists but is not a bare repository, or cannot
  // be created; Aborted when another process held the lock for the whole wait.
  static Result<GitMirror> open(const std::string& mirrorDir, const std::string& url,
                                const GitCredentials& credentials,
                                const GitTimeouts& timeouts = {});

  GitMirror(GitMirror&&) noexcept;
  GitMirror& operator=(GitMirror&&) noexcept;
  ~GitMirror();

  // Fetches `refspecs` from the remote into the mirror: only objects the mirror
  // lacks are transferred. Each refspec is libgit2's ("+refs/heads/*:refs/heads/*");
  // a bare reference name ("refs/heads/main") or branch name ("main") stands for
  // "+refs/heads/main:refs/heads/main". Empty: all branches and tags. References
  // under the fetched patterns that the remote deleted are deleted locally. A branch
  // named in a refspec but absent on the remote is not an error here: resolve()
  // reports it as NotFound. On failure the mirror keeps what it had.
  //
  // Holds the mirror's lock (waiting for it within the total timeout). Network
  // transfers obey the timeouts given to open() (DeadlineExceeded naming the URL and
  // the timeout) and `cancel` (may be null; borrowed for the call; Aborted
  // "...: cancelled"), checked at least every 100 ms while waiting on the server.
  Status fetch(const std::vector<std::string>& refspecs, const CancelToken* cancel = nullptr);

  // The commit that `revision` names in the mirror: a branch ("main",
  // "env/prod"), a tag (annotated tags are peeled), a full reference name
  // ("refs/heads/main"), or a commit id (40 hex digits, or an unambiguous prefix of
  // at least 4). Branches win over tags, tags over short ids. NotFound when nothing
  // matches; InvalidArgument when a short id is ambiguous or the revision is malformed.
  Result<CommitInfo> resolve(std::string_view revision);

  // The names of the tags in the mirror ("v1.4.2", not "refs/tags/v1.4.2"), sorted byte
  // by byte; lightweight and annotated alike, whatever they point at. Only what earlier
  // fetches brought: fetch({}) fetches every tag of the remote and deletes those the
  // remote deleted. Reads the references without the mirror's lock, so a concurrent
  // fetch by another process may or may not be seen. Internal when libgit2 cannot read
  // the references. The caller owns the returned names.
  Result<std::vector<std::string>> tags() const;

  // A FileSource over the tree of commit `commitId` (40 hex digits, as returned by
  // resolve()). Paths are relative to the tree's root. Symlinks are followed inside
  // the tree (at most 40 of them per lookup); one whose target leaves the tree reads
  // as InvalidArgument from read() and as kMissing from kind(). Submodules
  // (gitlinks) read as missing and are not listed. NotFound when the commit is not in
  // the mirror. The caller owns the source; it keeps its own handle on the mirror.
  Result<std::unique_ptr<FileSource>> tree(const std::string& commitId) const;

  // The signature of commit `commitId` (40 hex digits) and the bytes it signs.
  // InvalidArgument for a malformed id, NotFound when the commit is not in the mirror.
  // Opens its own handle on the mirror, like tree(): safe beside another thread's fetch.
  Result<SignedCommit> signedCommit(const std::string& commitId) const;

  // Write-back: commits `request.content` to `request.path` (and each of
  // `request.moreFiles`) on top of the remote's `request.branch` (fetched first) and
  // pushes it. Returns the new commit id; when every file already has that content
  // nothing is committed and the current id is returned. Conflict when the branch moved on the
  // remote between fetch and push (fetch and retry); other codes as fetch(). Holds the mirror's
  // lock for the whole call; the timeouts (the total one covers fetch and push together) and
  // `cancel` apply as in fetch().
  Result<std::string> commitAndPush(const CommitRequest& request,
                                    const CancelToken* cancel = nullptr);

  // Promotion: brings `request.commit` onto the remote's `request.branch` (fetched
  // first): nothing when the branch already contains it, a fast-forward when the
  // branch is an ancestor of it, otherwise a merge commit (branch head first, then
  // the commit) pushed as a normal, never forced, push. FailedPrecondition naming the
  // files when the merge conflicts (nothing pushed); Conflict when the branch moved on
  // the remote meanwhile; other codes as commitAndPush().
  Result<PromoteResult> promoteBranch(const PromoteRequest& request,
                                      const CancelToken* cancel = nullptr);

  // How many commits `to` has that `from` does not (git rev-list --count from..to),
  // both 40-hex ids in the mirror. NotFound when one is missing.
  Result<int64_t> countCommits(const std::string& from, const std::string& to) const;

  // Counters of the last successful fetch().
  const FetchStats& lastFetchStats() const { return stats_; }

  // The URL with any password removed, as used in messages.
  const std::string& displayUrl() const { return displayUrl_; }

 private:
  struct Impl;
  explicit GitMirror(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
  FetchStats stats_;
  std::string displayUrl_;
};

// `url` without the password of its user-info part ("https://u:p@h/x" →
// "https://u@h/x"). Other URLs are returned unchanged.
std::string redactUrl(std::string_view url);

// Parses one OpenSSH known_hosts text and says whether `keyBlob` (the raw SSH wire
// encoding of a host key) is listed for `host` at `port`. kOk when listed, kMismatch
// when the host is listed only with other keys (or the matching key is @revoked),
// kUnknown when the host is not listed at all. Exposed for tests.
enum class HostKeyMatch { kOk, kMismatch, kUnknown };
HostKeyMatch matchKnownHost(std::string_view knownHosts, std::string_view host, int port,
                            std::string_view keyBlob);

// user.name from the user's Git configuration (global and system files), "" when unset.
std::string gitUserName();

}  // namespace windlass::sources
