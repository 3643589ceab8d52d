#include "agent/promote.h"

#include <chrono>
#include <optional>
#include <vector>

#include "agent/leader.h"
#include "overlays/yaml.h"
#include "reconcile/env_state.h"
#include "reconcile/history.h"

namespace windlass::agent {
namespace {

using reconcile::HealthStatus;
using reconcile::Reason;
using reconcile::SyncRecord;
using reconcile::Trigger;

std::string shortId(const std::string& id) { return id.substr(0, 7); }

std::string formatMinutes(std::chrono::seconds d) {
  auto s = d.count();
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  return std::to_string(s / 3600) + "h" + std::to_string(s / 60 % 60) + "m";
}

// The gates of promoting `revision` (a prefix; "" = the source's last) out of the
// history of `from`. Returns the full commit id.
Result<std::string> checkGates(reconcile::Reconciler& reconciler, const Environment& from,
                               const Environment& to, const std::string& revision) {
  auto read = reconciler.history().read(from.name);
  if (!read) return read.error();
  const std::vector<SyncRecord>& records = read->records;
  std::vector<HealthStatus> health = reconcile::effectiveHealth(records);
  // The last sync of the revision (drift records are repairs, not syncs).
  std::optional<size_t> last;
  for (size_t i = records.size(); i-- > 0;) {
    const SyncRecord& r = records[i];
    if (r.trigger == Trigger::kDrift || r.revision.commit.empty()) continue;
    if (revision.empty() || r.revision.commit.rfind(revision, 0) == 0) {
      last = i;
      break;
    }
  }
  if (!last) {
    return Status::failedPrecondition("gate: " + from.name + " has no sync" +
                                      (revision.empty() ? std::string() : " of " + revision) +
                                      " to promote");
  }
  const SyncRecord& r = records[*last];
  std::string what = "the last sync of " + from.name + " at " + shortId(r.revision.commit) + " (#" +
                     std::to_string(r.sequence) + ", " + r.time + ")";
  if (r.reason != Reason::kSucceeded) {
    return Status::failedPrecondition("gate: " + what + " ended " +
                                      reconcile::reasonName(r.reason) + ": " + r.message);
  }
  if (health[*last] != HealthStatus::kHealthy) {
    return Status::failedPrecondition("gate: " + what + " is " +
                                      reconcile::healthName(health[*last]) + ", not Healthy");
  }
  // Soak: how long it has run that revision Healthy without a break.
  size_t first = *last;
  for (size_t i = *last; i-- > 0;) {
    const SyncRecord& e = records[i];
    if (e.revision.commit != r.revision.commit || e.reason != Reason::kSucceeded ||
        health[i] != HealthStatus::kHealthy) {
      break;
    }
    first = i;
  }
  auto since = parseMicroTime(records[first].time);
  if (!since) return since.error().withContext("history of " + from.name);
  auto healthyFor =
      std::chrono::duration_cast<std::chrono::seconds>(reconciler.clock().now() - *since);
  auto soak = std::chrono::duration_cast<std::chrono::seconds>(to.promotion.soak);
  if (healthyFor < soak) {
    return Status::failedPrecondition(
        "gate: " + from.name + " has run " + shortId(r.revision.commit) + " Healthy for " +
        formatMinutes(healthyFor) + "; the soak of " + to.name + " is " + formatMinutes(soak));
  }
  return r.revision.commit;
}

// The kustomization file of `dir` in `tree`: its path and text.
Result<std::pair<std::string, std::string>> kustomizationIn(const FileSource& tree,
                                                            const std::string& dir) {
  std::string prefix = dir == "." || dir.empty() ? "" : dir + "/";
  for (const char* name : {"kustomization.yaml", "kustomization.yml", "Kustomization"}) {
    std::string path = prefix + name;
    if (tree.kind(path) != FileKind::kFile) continue;
    auto text = tree.read(path, size_t{1} << 20);
    if (!text) return text.error();
    return std::make_pair(path, std::move(*text));
  }
  return Status::notFound(tree.describe(dir) + ": no kustomization.yaml");
}

// YAML text for a scalar value of newTag/digest/newName: quoted when plain text would
// read as something other than a string.
std::string scalarText(const std::string& v) {
  bool numeric = !v.empty() && v.find_first_not_of("0123456789.eE+-_") == std::string::npos;
  static const char* const kWords[] = {"true", "false", "null", "yes", "no", "on", "off", "~"};
  bool word = false;
  for (const char* w : kWords) word = word || v == w;
  bool special = v.empty() || v.find_first_of(":#'\"{}[],&*!|>%@`") == 0 ||
                 v.find(": ") != std::string::npos || v.find(" #") != std::string::npos;
  if (!numeric && !word && !special) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

size_t indentOf(const std::string& s) { return s.find_first_not_of(' '); }

// "key: value  # comment" from column `col` of `s`: the key and where the value starts
// and ends (a trailing comment, such as a setter marker, is kept out of it).
struct KeyValue {
  std::string key;
  size_t valueStart = 0, valueEnd = 0;
};

std::optional<KeyValue> keyValueAt(const std::string& s, size_t col) {
  size_t colon = s.find(':', col);
  if (colon == std::string::npos) return std::nullopt;
  KeyValue kv;
  kv.key = s.substr(col, colon - col);
  if (kv.key.empty() || kv.key.find_first_of(" \"'") != std::string::npos) return std::nullopt;
  size_t v = s.find_first_not_of(' ', colon + 1);
  if (v == std::string::npos) v = s.size();
  size_t end = s.find(" #", v);
  if (end == std::string::npos) end = s.size();
  while (end > v && s[end - 1] == ' ') --end;
  kv.valueStart = v;
  kv.valueEnd = end;
  return kv;
}

std::string unquote(std::string v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    return v.substr(1, v.size() - 2);
  }
  return v;
}

// The `images:` block list of a kustomization, as line numbers.
struct ImagesBlock {
  size_t header = 0;  // the `images:` line
  size_t end = 0;     // one past its last line
  size_t dashCol = 0;
  struct Entry {
    size_t first = 0, last = 0, keyCol = 0;
    std::string name;
  };
  std::vector<Entry> entries;

  // The line of `key` in `e`, if it has one, and where its value is.
  std::optional<std::pair<size_t, KeyValue>> field(const std::vector<std::string>& lines,
                                                   const Entry& e, const std::string& key) const {
    for (size_t i = e.first; i <= e.last; ++i) {
      size_t col = i == e.first ? e.keyCol : indentOf(lines[i]);
      if (col != e.keyCol) continue;
      auto kv = keyValueAt(lines[i], col);
      if (kv && kv->key == key) return std::make_pair(i, *kv);
    }
    return std::nullopt;
  }
};

Result<ImagesBlock> findImages(const std::vector<std::string>& lines, size_t header) {
  ImagesBlock b;
  b.header = header;
  b.end = header + 1;
  while (b.end < lines.size() && (lines[b.end].empty() || lines[b.end][0] == ' ' ||
                                  lines[b.end][0] == '-' || lines[b.end][0] == '#')) {
    ++b.end;
  }
  bool haveDash = false;
  for (size_t i = header + 1; i < b.end; ++i) {
    size_t ind = indentOf(lines[i]);
    if (ind == std::string::npos || lines[i][ind] == '#') continue;
    if (lines[i][ind] == '-' && (!haveDash || ind == b.dashCol)) {
      haveDash = true;
      b.dashCol = ind;
      size_t keyCol = lines[i].find_first_not_of(' ', ind + 1);
      if (keyCol == std::string::npos) {
        return Status::invalidArgument("line " + std::to_string(i + 1) +
                                       ": an entry on its own line");
      }
      b.entries.push_back(ImagesBlock::Entry{i, i, keyCol, ""});
    } else if (b.entries.empty()) {
      return Status::invalidArgument("line " + std::to_string(i + 1) + ": not a list entry");
    } else {
      b.entries.back().last = i;
    }
  }
  for (ImagesBlock::Entry& e : b.entries) {
    if (auto name = b.field(lines, e, "name")) {
      const std::string& s = lines[name->first];
      e.name = unquote(
          s.substr(name->second.valueStart, name->second.valueEnd - name->second.valueStart));
    }
  }
  return b;
}

}  // namespace

Result<std::string> copyImages(const JsonValue& sourceImages, const std::string& target,
                               const std::string& targetName) {
  if (!sourceImages.IsArray()) return Status::invalidArgument("source images: not a list");
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < target.size();) {
    size_t nl = target.find('\n', pos);
    if (nl == std::string::npos) nl = target.size();
    lines.push_back(target.substr(pos, nl - pos));
    pos = nl + 1;
  }
  std::optional<size_t> header;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("images:", 0) != 0) continue;
    auto kv = keyValueAt(lines[i], 0);
    if (kv && kv->valueStart != kv->valueEnd) {
      return Status::invalidArgument(targetName +
                                     ": images: not a block list (write one entry per line "
                                     "so that promotion can edit it)");
    }
    header = i;
  }
  if (!header) {
    lines.emplace_back("images:");
    header = lines.size() - 1;
  }
  for (const JsonValue& img : sourceImages.GetArray()) {
    if (!img.IsObject() || !img.HasMember("name") || !img["name"].IsString()) continue;
    std::string name = img["name"].GetString();
    for (const char* key : {"newName", "newTag", "digest"}) {
      if (!img.HasMember(key) || !img[key].IsString()) continue;
      std::string value = img[key].GetString();
      // Found again after every insertion: line numbers move.
      auto block = findImages(lines, *header);
      if (!block) return block.error().withContext(targetName);
      const ImagesBlock::Entry* entry = nullptr;
      for (const auto& e : block->entries) {
        if (e.name == name) entry = &e;
      }
      if (entry == nullptr) {
        // A new entry at the end of the block, before the blank lines that close it.
        size_t at = block->end;
        while (at > *header + 1 && lines[at - 1].empty()) --at;
        size_t dash = block->entries.empty() ? 0 : block->dashCol;
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at),
                     {std::string(dash, ' ') + "- name: " + scalarText(name),
                      std::string(dash + 2, ' ') + key + ": " + scalarText(value)});
        continue;
      }
      if (auto f = block->field(lines, *entry, key)) {
        std::string& s = lines[f->first];
        size_t len = f->second.valueEnd - f->second.valueStart;
        if (unquote(s.substr(f->second.valueStart, len)) != value) {
          s.replace(f->second.valueStart, len, scalarText(value));
        }
      } else {
        lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(entry->last + 1),
                     std::string(entry->keyCol, ' ') + key + ": " + scalarText(value));
      }
    }
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    out += lines[i];
  }
  if (target.empty() || target.back() == '\n') out += '\n';
  return out;
}

Result<PromoteOutcome> promote(const AgentConfig& config, reconcile::Reconciler& reconciler,
                               const PromoteRequest& request, const CancelToken* cancel) {
  const Environment* from = findEnvironment(config, request.from);
  const Environment* to = findEnvironment(config, request.to);
  if (from == nullptr)
    return Status::invalidArgument("no environment named \"" + request.from + "\"");
  if (to == nullptr) return Status::invalidArgument("no environment named \"" + request.to + "\"");
  if (from == to) return Status::invalidArgument("--from and --to name the same environment");
  if (from->repository != to->repository) {
    return Status::invalidArgument(from->name + " and " + to->name +
                                   " use different repositories: promotion stays in one");
  }
  if (!from->follows.empty() || !to->follows.empty()) {
    return Status::invalidArgument(
        "an environment that follows another is not promoted to or from");
  }
  if (from->revisionKind != RevisionKind::kBranch || to->revisionKind != RevisionKind::kBranch) {
    return Status::invalidArgument("promotion moves branches: " + from->name + " and " + to->name +
                                   " must both track a branch");
  }
  if (request.actor.empty()) return Status::invalidArgument("the actor is required");
  WINDLASS_RETURN_IF_ERROR(
      reconciler.fetch(from->repository, {from->revision, to->revision}, cancel));
  auto revision = checkGates(reconciler, *from, *to, request.revision);
  if (!revision) return revision.error();

  PromoteOutcome out;
  out.sourceRevision = *revision;
  // The target's sync of the pushed commit is a promotion: noted before the push, so
  // that an agent cannot fetch the commit first. A push that fails leaves a note for a
  // commit nobody has, which nothing matches.
  auto note = [&](const std::string& commit) {
    reconcile::PendingPromotion pending{from->name, *revision, commit, request.actor,
                                        reconcile::formatRfc3339Utc(reconciler.clock().now())};
    return writePromotion(config.stateDir, to->name, pending);
  };
  std::string message = "Promote " + from->name + " (" + shortId(*revision) + ") to " + to->name +
                        "\n\nPromoted-by: " + request.actor + "\nSource-commit: " + *revision +
                        "\n";
  if (from->revision != to->revision) {
    sources::PromoteRequest pr;
    pr.branch = to->revision;
    pr.commit = *revision;
    pr.message = message;
    pr.beforePush = note;
    sources::PromoteResult moved;
    WINDLASS_RETURN_IF_ERROR(reconciler.withMirror(to->repository, [&](sources::GitMirror& git) {
      auto r = git.promoteBranch(pr, cancel);
      if (!r) return r.error();
      moved = *r;
      return Status();
    }));
    out.targetCommit = moved.commit;
    out.how = moved.unchanged     ? "already there"
              : moved.fastForward ? "fast-forward"
                                  : "merge commit";
  } else {
    // One branch, one overlay per environment: copy the images.
    auto sourceTree = reconciler.tree(from->repository, *revision);
    if (!sourceTree) return sourceTree.error();
    auto sourceFile = kustomizationIn(**sourceTree, from->path);
    if (!sourceFile) return sourceFile.error();
    JsonAllocator alloc;
    auto docs = overlays::parseYaml(sourceFile->second, sourceFile->first,
                                    overlays::YamlDialect::kKustomization, alloc);
    if (!docs) return docs.error();
    const JsonValue* images = nullptr;
    if (!docs->empty() && (*docs)[0].IsObject() && (*docs)[0].HasMember("images")) {
      images = &(*docs)[0]["images"];
    }
    if (images == nullptr || !images->IsArray() || images->Empty()) {
      return Status::failedPrecondition(sourceFile->first +
                                        ": no images: to promote (path-per-environment "
                                        "promotion copies the overlay's images)");
    }
    auto head = reconciler.resolve(to->repository, to->revision);
    if (!head) return head.error();
    auto targetTree = reconciler.tree(to->repository, head->id);
    if (!targetTree) return targetTree.error();
    auto targetFile = kustomizationIn(**targetTree, to->path);
    if (!targetFile) return targetFile.error();
    auto edited = copyImages(*images, targetFile->second, targetFile->first);
    if (!edited) return edited.error();
    if (*edited == targetFile->second) {
      out.targetCommit = head->id;
      out.how = "already there";
    } else {
      sources::CommitRequest cr;
      cr.branch = to->revision;
      cr.path = targetFile->first;
      cr.content = *edited;
      cr.message = message;
      cr.beforePush = note;
      WINDLASS_RETURN_IF_ERROR(reconciler.withMirror(to->repository, [&](sources::GitMirror& git) {
        auto r = git.commitAndPush(cr, cancel);
        if (!r) return r.error();
        out.targetCommit = *r;
        return Status();
      }));
      out.how = "images copied";
    }
  }
  return out;
}

}  // namespace windlass::agent
