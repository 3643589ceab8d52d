#include "agent/images.h"

#include <algorithm>
#include <cstdlib>

#include "agent/wiring.h"
#include "core/json.h"

namespace windlass::agent {

std::string PolicyScan::reference() const {
  if (!choice.tag) return "";
  if (!digest.empty()) return image + "@" + digest;
  return image + ":" + *choice.tag;
}

Result<sources::RegistryCredentials> policyCredentials(const ImagePolicyConfig& policy,
                                                       const std::string& host) {
  const ImagePolicyCredentials& c = policy.credentials;
  sources::RegistryCredentials out;
  auto field = [&](const char* name) { return "imagePolicies " + policy.name + ": " + name; };
  if (!c.usernameFile.empty()) {
    auto user = readSecretFile(c.usernameFile);
    if (!user) {
      return Status::failedPrecondition(field("credentials.usernameFile") + ": cannot read " +
                                        c.usernameFile);
    }
    auto pass = readSecretFile(c.passwordFile);
    if (!pass) {
      return Status::failedPrecondition(field("credentials.passwordFile") + ": cannot read " +
                                        c.passwordFile);
    }
    out.username = std::move(*user);
    out.password = std::move(*pass);
  } else if (!c.dockerConfigFile.empty()) {
    auto text = readSecretFile(c.dockerConfigFile);
    if (!text) {
      return Status::failedPrecondition(field("credentials.dockerConfigFile") + ": cannot read " +
                                        c.dockerConfigFile);
    }
    auto found = sources::parseDockerConfig(*text, host);
    if (!found) {
      return Status::failedPrecondition(field("credentials.dockerConfigFile") + ": " +
                                        c.dockerConfigFile + ": " + found.error().message());
    }
    if (!*found) {
      return Status::failedPrecondition(field("credentials.dockerConfigFile") + ": " +
                                        c.dockerConfigFile + " has no entry for " + host);
    }
    out = std::move(**found);
  }
  return out;
}

sources::RegistryOptions registryOptions(const ImagePolicyConfig& policy,
                                         const CancelToken* cancel) {
  sources::RegistryOptions o;
  o.caFile = policy.caFile;
  o.insecure = policy.insecure;
  o.cancel = cancel;
  if (const char* n = std::getenv("WINDLASS_REGISTRY_PAGE_SIZE")) {
    int v = std::atoi(n);
    if (v >= 1 && v <= 10000) o.pageSize = v;
  }
  return o;
}

namespace {

PolicyScan scanPolicyOnce(const ImagePolicyConfig& policy, sources::RegistryClient& client) {
  PolicyScan scan;
  scan.policy = policy.name;
  scan.image = policy.image;
  std::string where = "image policy " + policy.name;
  auto repo = sources::parseImageRepository(policy.image);
  if (!repo) {
    scan.status = repo.error().withContext(where);
    return scan;
  }
  auto compiled = sources::TagPolicy::compile(policy.policy, "imagePolicies " + policy.name);
  if (!compiled) {
    scan.status = compiled.error();
    return scan;
  }
  auto creds = policyCredentials(policy, repo->host);
  if (!creds) {
    scan.status = creds.error();
    return scan;
  }
  auto tags = client.listTags(*repo, *creds);
  if (!tags) {
    scan.status = tags.error().withContext(where);
    return scan;
  }
  scan.tags = std::move(*tags);
  scan.choice = compiled->choose(scan.tags);
  if (policy.digest && scan.choice.tag) {
    auto d = client.digest(*repo, *scan.choice.tag, *creds);
    if (!d) {
      scan.status = d.error().withContext(where);
      scan.choice.tag.reset();
      return scan;
    }
    scan.digest = std::move(*d);
  }
  return scan;
}

}  // namespace

PolicyScan scanPolicy(const ImagePolicyConfig& policy, sources::RegistryClient& client) {
  int64_t before = client.stats().requests;
  PolicyScan scan = scanPolicyOnce(policy, client);
  scan.requests = client.stats().requests - before;
  return scan;
}

namespace {

const PolicyScan* findScan(const std::vector<PolicyScan>& scans, const std::string& name) {
  for (const PolicyScan& s : scans) {
    if (s.policy == name) return &s;
  }
  return nullptr;
}

// The references of `running` whose repository is that of `image`.
std::vector<std::string> runningOf(const std::vector<std::string>* running,
                                   const std::string& image) {
  std::vector<std::string> out;
  if (running == nullptr) return out;
  std::string repo = reconcile::imageRepositoryOf(image);
  for (const std::string& r : *running) {
    if (!repo.empty() && reconcile::imageRepositoryOf(r) == repo) out.push_back(r);
  }
  return out;
}

const std::vector<std::string>* runningFor(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& running,
    const std::string& env) {
  for (const auto& [name, refs] : running) {
    if (name == env) return &refs;
  }
  return nullptr;
}

}  // namespace

std::vector<reconcile::ImageOverride> renderOverrides(const AgentConfig& config,
                                                      const Environment& env,
                                                      const std::vector<PolicyScan>& scans) {
  std::vector<reconcile::ImageOverride> out;
  for (const EnvironmentImage& img : env.images) {
    if (img.update != ImageUpdateMode::kRender) continue;
    const ImagePolicyConfig* policy = findImagePolicy(config, img.policy);
    const PolicyScan* scan = findScan(scans, img.policy);
    if (policy == nullptr || scan == nullptr || scan->reference().empty()) continue;
    std::string repo = reconcile::imageRepositoryOf(policy->image);
    if (repo.empty()) continue;
    out.push_back({repo, scan->reference()});
  }
  return out;
}

sources::SetterValues setterValues(const PolicyScan& scan) {
  return {scan.image, scan.choice.tag.value_or(""), scan.digest};
}

namespace {

// Every .yaml/.yml file under `dir` of `tree`, recursively, in byte order.
void yamlFiles(const FileSource& tree, const std::string& dir, std::vector<std::string>* out) {
  auto names = tree.list(dir);
  if (!names) return;
  for (const std::string& n : *names) {
    std::string path = dir.empty() ? n : dir + "/" + n;
    FileKind k = tree.kind(path);
    if (k == FileKind::kDirectory) {
      yamlFiles(tree, path, out);
    } else if (k == FileKind::kFile && (path.ends_with(".yaml") || path.ends_with(".yml"))) {
      out->push_back(path);
    }
  }
}

std::string commitMessage(const AgentConfig& config, const std::string& branch,
                          const std::map<std::string, sources::SetterValues>& values) {
  std::string changes;
  for (const auto& [policy, v] : values) {
    changes += (changes.empty() ? "" : "\n") + ("- " + policy + ": " + v.reference());
  }
  std::string msg = config.imageCommit.messageTemplate;
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"{{branch}}", branch},
                                   std::pair<std::string, std::string>{"{{changes}}", changes}}) {
    for (size_t p = msg.find(key); p != std::string::npos; p = msg.find(key, p + value.size())) {
      msg.replace(p, key.size(), value);
    }
  }
  if (msg.empty() || msg.back() != '\n') msg += '\n';
  return msg;
}

}  // namespace

Result<WriteBack> writeBackImages(reconcile::Reconciler& reconciler, const AgentConfig& config,
                                  const std::string& repo, const std::string& branch,
                                  const std::map<std::string, sources::SetterValues>& values,
                                  const CancelToken* cancel) {
  constexpr int kAttempts = 3;
  constexpr size_t kMaxFile = 8 << 20;
  for (int attempt = 1;; ++attempt) {
    WINDLASS_RETURN_IF_ERROR(reconciler.fetch(repo, {branch}, cancel));
    auto head = reconciler.resolve(repo, branch);
    if (!head) return head.error();
    auto tree = reconciler.tree(repo, head->id);
    if (!tree) return tree.error();
    std::vector<std::string> files;
    yamlFiles(**tree, "", &files);
    WriteBack wb;
    sources::CommitRequest req;
    req.branch = branch;
    for (const std::string& path : files) {
      auto text = (*tree)->read(path, kMaxFile);
      if (!text) continue;
      sources::SetterResult r = sources::applySetters(*text, values);
      for (const sources::SetterHold& h : r.holds) {
        wb.holds.push_back(h.policy + " at " + path + ":" + std::to_string(h.line) + ": " +
                           (h.reason.empty() ? "held" : h.reason));
      }
      if (r.changedLines.empty()) continue;
      for (int line : r.changedLines) wb.changedLines.push_back(path + ":" + std::to_string(line));
      req.moreFiles.push_back({path, std::move(r.text)});
    }
    if (req.moreFiles.empty()) return wb;
    req.message = commitMessage(config, branch, values);
    req.authorName = config.imageCommit.authorName;
    req.authorEmail = config.imageCommit.authorEmail;
    auto id = reconciler.commitAndPush(repo, req, cancel);
    if (id) {
      wb.commit = *id;
      return wb;
    }
    if (id.error().code() != Code::kConflict || attempt == kAttempts) return id.error();
  }
}

std::string imagesReportJson(
    const AgentConfig& config, const std::vector<PolicyScan>& scans,
    const std::vector<std::pair<std::string, std::vector<std::string>>>& running) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  auto kv = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  w.Key("policies");
  w.StartArray();
  for (const PolicyScan& s : scans) {
    w.StartObject();
    kv("name", s.policy);
    kv("image", s.image);
    w.Key("ok");
    w.Bool(s.status.ok());
    kv("error", s.status.message());
    w.Key("tagsSeen");
    w.Uint64(s.tags.size());
    w.Key("tagsMatching");
    w.Uint64(s.choice.filtered);
    w.Key("tags");
    w.StartArray();
    for (const std::string& t : s.tags)
      w.String(t.c_str(), static_cast<rapidjson::SizeType>(t.size()));
    w.EndArray();
    kv("latest", s.choice.tag.value_or(""));
    kv("digest", s.digest);
    kv("reference", s.reference());
    kv("reason", s.choice.reason);
    w.Key("requests");
    w.Int64(s.requests);
    w.EndObject();
  }
  w.EndArray();
  w.Key("environments");
  w.StartArray();
  for (const Environment& env : config.environments) {
    if (env.images.empty()) continue;
    w.StartObject();
    kv("name", env.name);
    w.Key("images");
    w.StartArray();
    for (const EnvironmentImage& img : env.images) {
      const ImagePolicyConfig* policy = findImagePolicy(config, img.policy);
      const PolicyScan* scan = findScan(scans, img.policy);
      w.StartObject();
      kv("policy", img.policy);
      kv("update", imageUpdateModeName(img.update));
      w.Key("running");
      w.StartArray();
      std::vector<std::string> runs = policy
                                          ? runningOf(runningFor(running, env.name), policy->image)
                                          : std::vector<std::string>();
      for (const std::string& r : runs)
        w.String(r.c_str(), static_cast<rapidjson::SizeType>(r.size()));
      w.EndArray();
      std::string take = scan ? scan->reference() : "";
      kv("wouldTake", take);
      w.Key("upToDate");
      w.Bool(
          !take.empty() && !runs.empty() &&
          std::all_of(runs.begin(), runs.end(), [&](const std::string& r) { return r == take; }));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

std::string imagesReportText(
    const AgentConfig& config, const std::vector<PolicyScan>& scans,
    const std::vector<std::pair<std::string, std::vector<std::string>>>& running) {
  std::string out;
  for (const PolicyScan& s : scans) {
    out += "policy " + s.policy + " (" + s.image + ")\n";
    if (!s.status.ok()) {
      out += "  error:   " + s.status.message() + "\n";
      continue;
    }
    out += "  tags:    " + std::to_string(s.tags.size()) + " seen\n";
    out += "  latest:  " + (s.choice.tag ? *s.choice.tag : std::string("none")) +
           (s.digest.empty() ? "" : " (" + s.digest + ")") + "\n";
    out += "  why:     " + s.choice.reason + "\n";
  }
  for (const Environment& env : config.environments) {
    if (env.images.empty()) continue;
    out += "environment " + env.name + "\n";
    for (const EnvironmentImage& img : env.images) {
      const ImagePolicyConfig* policy = findImagePolicy(config, img.policy);
      const PolicyScan* scan = findScan(scans, img.policy);
      std::vector<std::string> runs = policy
                                          ? runningOf(runningFor(running, env.name), policy->image)
                                          : std::vector<std::string>();
      std::string runsText;
      for (const std::string& r : runs) runsText += (runsText.empty() ? "" : ", ") + r;
      std::string take = scan ? scan->reference() : "";
      out += "  " + img.policy + " (" + imageUpdateModeName(img.update) + "): runs " +
             (runsText.empty() ? "-" : runsText) + ", would take " + (take.empty() ? "-" : take) +
             "\n";
    }
  }
  return out;
}

}  // namespace windlass::agent
