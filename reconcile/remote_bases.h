// The fetcher behind overlays::RenderOptions::remote: remote Git bases come from
// bare mirrors (sources::GitMirror) in the same cache folder the agent's own
// repositories use (`<cacheDir>/<sha256(url)[:16]>`), read in place with no
// checkout; plain HTTPS files come over libcurl, TLS verified, size-limited.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "overlays/render.h"
#include "sources/git.h"

namespace windlass {
class CancelToken;
}

namespace windlass::reconcile {

struct RemoteBaseOptions {
  // Folder of the Git mirrors ("<stateDir>/git" in the agent). Required.
  std::string cacheDir;
  // Every host is allowed (`windlass render`, as Kustomize). Default false: only
  // `allowHosts`.
  bool allowAll = false;
  // Hosts remote references may name: a host name ("github.com") or host:port, compared
  // case-insensitively with the reference's host and host:port. Empty and !allowAll:
  // every remote reference is refused.
  std::vector<std::string> allowHosts;
  // The credentials for a remote Git repository (e.g. those of a configured repository
  // on the same host). Unset: none (the CA below still applies).
  std::function<sources::GitCredentials(const overlays::RemoteRef&)> credentials;
  // PEM CA file trusted for HTTPS files and Git over HTTPS when `credentials` sets
  // none: for Git besides the system's CAs, for files instead of them (libcurl's
  // CAINFO). Empty: the system's only. Files are fetched with no credentials, only
  // the caFile of `credentials`.
  std::string caFile;
  // Largest HTTPS file fetched. Default 10 MiB.
  size_t maxFileBytes = 10u << 20;
  // Cancels fetches in progress (borrowed; may be null).
  const CancelToken* cancel = nullptr;
};

// One fetcher per render (or per sync): each repository is fetched at most once per
// ref, and a ref that is a full commit id already in the mirror is not fetched at all.
// Not thread-safe: the renderer calls it from its one thread.
class RemoteFetcher {
 public:
  explicit RemoteFetcher(RemoteBaseOptions options);
  ~RemoteFetcher();

  // The tree of `ref`. Errors: FailedPrecondition naming the host when it is not
  // allowed; those of sources::GitMirror (fetch, resolve: NotFound for an unknown
  // ref); for files Unavailable (network), NotFound (HTTP 404), InvalidArgument
  // (other HTTP status, or larger than maxFileBytes). Messages never hold secrets.
  Result<overlays::RemoteTree> fetch(const overlays::RemoteRef& ref);

  // fetch() as RenderOptions::remote; the fetcher must outlive the render.
  std::function<Result<overlays::RemoteTree>(const overlays::RemoteRef&)> resolver() {
    return [this](const overlays::RemoteRef& r) { return fetch(r); };
  }

  // How many Git fetches (network transfers) this fetcher made.
  int gitFetches() const { return gitFetches_; }

 private:
  Result<overlays::RemoteTree> fetchGit(const overlays::RemoteRef& ref);
  Result<overlays::RemoteTree> fetchFile(const overlays::RemoteRef& ref);

  RemoteBaseOptions options_;
  std::map<std::string, std::unique_ptr<sources::GitMirror>> mirrors_;  // by URL
  std::map<std::string, std::string> commits_;  // URL + "\n" + ref → commit id
  std::map<std::string, std::shared_ptr<const FileSource>> trees_;  // by commit id
  int gitFetches_ = 0;
};

}  // namespace windlass::reconcile
