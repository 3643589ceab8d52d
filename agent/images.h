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
#include "sources/image_policy.h"
#include "sources/registry.h"

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
