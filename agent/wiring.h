// From the configuration to the inputs of the reconcile pipeline: the cluster,
// the repositories with their credentials read from their files, and one
// EnvironmentSpec per environment. Used by the one-shot commands and the agent.
#pragma once

#include <optional>
#include <string>

#include "agent/config.h"
#include "core/status.h"
#include "reconcile/reconciler.h"

namespace windlass::agent {

// The options of a Reconciler for `config`: the kubeconfig (or in-cluster
// service account) loaded, the credential files read. Errors name the field
// and the file; secret values never appear in them.
[[nodiscard]] Result<reconcile::Reconciler::Options> reconcilerOptions(const AgentConfig& config);

// The content of a secret file (a token, password or key) without trailing
// whitespace; nullopt when it cannot be read. The value never enters a message.
std::optional<std::string> readSecretFile(const std::string& path);

// The pipeline's view of `env`.
reconcile::EnvironmentSpec environmentSpec(const Environment& env);

}  // namespace windlass::agent
