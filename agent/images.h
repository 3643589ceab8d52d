// Image automation in the agent: scanning the image policies of the configuration
// (registry tags → the policy's choice → optional digest), the render-time overrides an
// environment gets from them, and the report of `windlass images`.
//
// Thread safety: scanPolicy() and the free functions are reentrant; a RegistryClient is
// passed in and used by the calling thread only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/config.h"
#include "core/status.h"
#include "reconcile/image_override.h"
#include "reconcile/reconciler.h"
#include "sources/image_policy.h"
#include "sources/registry.h"
#include "sources/setters.h"

namespace windlass::agent {

// The outcome of one scan of one policy.
struct PolicyScan {
  std::string policy;             // the policy's name
  std::string image;              // as configured, e.g. "harbor.example.com/shop/web"
  Status status;                  // ok, or why the registry could not be read
  std::vector<std::string> tags;  // every tag listed (empty on failure)
  sources::TagChoice choice;      // what the policy chose, and why
  std::string digest;             // "sha256:…" when the policy pins digests; else ""
  int64_t requests = 0;           // HTTP requests the scan sent (token requests included)

  // The reference an environment should run: IMAGE:TAG, or IMAGE@DIGEST when pinned;
  // "" when nothing was chosen.
  std::string reference() const;
};

// The credentials of `policy`, read from its files now (a Docker config's entry for the
// image's host). FailedPrecondition naming the field and file when a file cannot be read
// or parsed; values never appear in messages.
[[nodiscard]] Result<sources::RegistryCredentials> policyCredentials(
    const ImagePolicyConfig& policy, const std::string& host);

// The registry options for `policy` (CA, insecure), with `cancel` borrowed. The tag page
// size is 1000 unless WINDLASS_REGISTRY_PAGE_SIZE (1-10000) says otherwise: a knob for the
// integration tests and benchmarks, which need small pages to exercise pagination.
sources::RegistryOptions registryOptions(const ImagePolicyConfig& policy,
                                         const CancelToken* cancel);

// Lists the tags of `policy`'s repository with `client`, applies the policy and, when it
// pins digests, resolves the chosen tag's digest. A failure is in `status` (naming the
// policy: `image policy web: registry …: …`), never thrown; the choice is then empty.
PolicyScan scanPolicy(const ImagePolicyConfig& policy, sources::RegistryClient& client);

// The overrides of `env` (its `update: render` images) from the latest good scans
// (by policy name; a policy with no good scan yet gives none).
std::vector<reconcile::ImageOverride> renderOverrides(const AgentConfig& config,
                                                      const Environment& env,
                                                      const std::vector<PolicyScan>& scans);

// The setter values of `scan` (which must have a choice): name, tag, digest.
sources::SetterValues setterValues(const PolicyScan& scan);

// What a write-back did.
struct WriteBack {
  std::string commit;                     // the new commit; "" when nothing changed
  std::vector<std::string> changedLines;  // "path:line", for the log
  std::vector<std::string> holds;         // "web at path:line: reason"
};

// Image automation with `update: git`, for one branch of repository `repo`: fetches the
// branch, rewrites the setter markers of `values` (policy → values) in every .yaml/.yml
// file of its tree, and commits all changed files in one commit (author and message
// from config.imageCommit) pushed with the repository's credentials. On a
// non-fast-forward (Conflict) it fetches, reapplies and retries, up to 3 times. Blocking
// (Git I/O); call from a worker thread.
[[nodiscard]] Result<WriteBack> writeBackImages(
    reconcile::Reconciler& reconciler, const AgentConfig& config, const std::string& repo,
    const std::string& branch, const std::map<std::string, sources::SetterValues>& values,
    const CancelToken* cancel);

// `windlass images`: the report of `scans` for `config`, as JSON (an object with
// "policies" and "environments") or as text. `running` gives, per environment name, the
// image references of its last recorded sync (may be missing).
std::string imagesReportJson(
    const AgentConfig& config, const std::vector<PolicyScan>& scans,
    const std::vector<std::pair<std::string, std::vector<std::string>>>& running);
std::string imagesReportText(
    const AgentConfig& config, const std::vector<PolicyScan>& scans,
    const std::vector<std::pair<std::string, std::vector<std::string>>>& running);

}  // namespace windlass::agent
