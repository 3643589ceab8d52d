// Remote references in a kustomization's `resources:`: Git bases
// ("https://host/org/repo//path?ref=v1.2.3", "git@host:org/repo//path?ref=…",
// "github.com/org/repo/path?ref=…") and plain HTTPS files, parsed the way
// Kustomize (v5, api/internal/git) parses them. Fetching is not done here: the
// renderer asks RenderOptions::remote (render.h) for the tree of each reference.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/file_source.h"
#include "core/status.h"

namespace windlass::overlays {

struct RemoteRef {
  enum class Kind { kGit, kFile };
  Kind kind = Kind::kGit;
  std::string entry;     // the reference as written in the kustomization
  std::string host;      // lower-case host name, without user or port ("github.com")
  std::string hostPort;  // host name and port as written ("127.0.0.1:8443"); == host without one
  // kGit: the repository URL to clone ("https://github.com/org/repo",
  // "git@github.com:org/repo.git", "ssh://git@host:22/org/repo.git").
  // kFile: the file's URL, query included.
  std::string url;
  std::string path;         // kGit: folder inside the repository, normalised ("" = root)
  std::string ref;          // kGit: `ref=` (else `version=`); "" = the default branch
  int timeoutSeconds = 27;  // `timeout=`: seconds, or a Go duration ("90s", "2m"); default 27
  bool submodules = true;   // `submodules=`: default true
};

// Parses a remote reference. Form detection, as in Kustomize: an optional "git::"
// prefix and "gh:" shorthand (github.com); a scheme (https, http, ssh, file), an
// scp-like "user@host:path", or none (then https is assumed, as for
// "github.com/org/repo"). The repository path ends at "//" if present, else at a
// segment ending in ".git" (or "_git/NAME" on Azure DevOps), else after the first two
// segments (org/repo). An http(s) URL with none of "//", ".git", `ref=` or `version=`
// whose last segment has a file extension is a plain file (Kind::kFile).
// InvalidArgument naming the reference when it is none of these, when a query
// value is malformed, or when the path inside the repository climbs out of it.
Result<RemoteRef> parseRemoteRef(std::string_view entry);

// Whether a `resources:` entry looks like a remote reference (a URL, an scp-like
// Git address, or a well-known Git host without scheme).
bool looksRemote(std::string_view entry);

// What RenderOptions::remote returns for a reference: a source holding the
// repository's tree (or the one file), the folder (or file) inside it to
// render, and what it resolved to ("<commit id>" for Git, "sha256:<hex>" for
// files). The renderer keeps `fs` alive for the render.
struct RemoteTree {
  std::shared_ptr<const FileSource> fs;
  std::string path;
  std::string resolved;
};

}  // namespace windlass::overlays
