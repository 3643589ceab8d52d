#include "reconcile/env_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "core/json.h"

namespace windlass::reconcile {
namespace {

using Fields = std::vector<std::pair<const char*, std::string*>>;

std::string pathOf(const std::string& stateDir, const char* folder, const std::string& env) {
  return stateDir + "/" + folder + "/" + env + ".json";
}

// Writes `fields` as one flat JSON object of strings to `path`: a temporary file,
// fsynced, renamed over it.
Status writeFields(const std::string& path, const Fields& fields) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return Status::unavailable(path + ": cannot create its folder: " + ec.message());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  for (const auto& [key, value] : fields) {
    w.Key(key);
    w.String(value->data(), static_cast<rapidjson::SizeType>(value->size()));
  }
  w.EndObject();
  std::string text(buffer.GetString(), buffer.GetSize());
  text += '\n';
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::unavailable(tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::unavailable(path + ": cannot write: " + std::strerror(errno));
  }
  return {};
}

// Reads `path` into `fields`; false when the file does not exist.
Result<bool> readFields(const std::string& path, const Fields& fields) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return false;
    return Status::unavailable(path + ": " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  JsonDocument doc;
  doc.Parse(text.str());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::invalidArgument(path + ": not a JSON object");
  }
  for (const auto& [key, value] : fields) {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || !it->value.IsString()) {
      return Status::invalidArgument(path + ": field \"" + key + "\": expected a string");
    }
    value->assign(it->value.GetString(), it->value.GetStringLength());
  }
  return true;
}

Status removeFile(const std::string& path) {
  if (std::remove(path.c_str()) != 0 && errno != ENOENT) {
    return Status::unavailable(path + ": cannot remove: " + std::strerror(errno));
  }
  return {};
}

Fields holdFields(HoldRecord& h) {
  return {
      {"revision", &h.revision}, {"actor", &h.actor}, {"since", &h.since}, {"reason", &h.reason}};
}

Fields promotionFields(PendingPromotion& p) {
  return {{"from", &p.from},
          {"revision", &p.revision},
          {"targetCommit", &p.targetCommit},
          {"actor", &p.actor},
          {"time", &p.time}};
}

}  // namespace

Result<std::optional<HoldRecord>> readHold(const std::string& stateDir, const std::string& env) {
  HoldRecord h;
  auto found = readFields(pathOf(stateDir, "holds", env), holdFields(h));
  if (!found) return found.error();
  if (!*found) return std::optional<HoldRecord>();
  return std::optional<HoldRecord>(std::move(h));
}

Status writeHold(const std::string& stateDir, const std::string& env, const HoldRecord& hold) {
  HoldRecord copy = hold;
  return writeFields(pathOf(stateDir, "holds", env), holdFields(copy));
}

Status clearHold(const std::string& stateDir, const std::string& env) {
  return removeFile(pathOf(stateDir, "holds", env));
}

Result<std::optional<PendingPromotion>> readPromotion(const std::string& stateDir,
                                                      const std::string& env) {
  PendingPromotion p;
  auto found = readFields(pathOf(stateDir, "promotions", env), promotionFields(p));
  if (!found) return found.error();
  if (!*found) return std::optional<PendingPromotion>();
  return std::optional<PendingPromotion>(std::move(p));
}

Status writePromotion(const std::string& stateDir, const std::string& env,
                      const PendingPromotion& promotion) {
  PendingPromotion copy = promotion;
  return writeFields(pathOf(stateDir, "promotions", env), promotionFields(copy));
}

Status clearPromotion(const std::string& stateDir, const std::string& env) {
  return removeFile(pathOf(stateDir, "promotions", env));
}

}  // namespace windlass::reconcile
