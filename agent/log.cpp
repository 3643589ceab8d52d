#include "agent/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/json.h"
#include "reconcile/history.h"

namespace windlass::agent {

Log::Log(bool json) : json_(json) {
  logger_ = std::make_shared<spdlog::logger>("windlass",
                                             std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger_->set_pattern("%v");
  logger_->set_level(spdlog::level::info);
  logger_->flush_on(spdlog::level::info);
}

void Log::info(std::string_view msg, const LogFields& fields) { write(0, msg, fields); }
void Log::warn(std::string_view msg, const LogFields& fields) { write(1, msg, fields); }
void Log::error(std::string_view msg, const LogFields& fields) { write(2, msg, fields); }

void Log::write(int level, std::string_view msg, const LogFields& fields) {
  static constexpr const char* kLevels[] = {"info", "warn", "error"};
  std::string time = reconcile::formatRfc3339Utc(std::chrono::system_clock::now());
  std::string line;
  if (json_) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("time");
    w.String(time.c_str(), static_cast<rapidjson::SizeType>(time.size()));
    w.Key("level");
    w.String(kLevels[level]);
    w.Key("msg");
    w.String(msg.data(), static_cast<rapidjson::SizeType>(msg.size()));
    for (const auto& [k, v] : fields) {
      w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
      w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
    }
    w.EndObject();
    line.assign(buf.GetString(), buf.GetSize());
  } else {
    line = time + " " + kLevels[level] + " " + std::string(msg);
    for (const auto& [k, v] : fields) {
      bool quote = v.empty() || v.find_first_of(" \"=\n") != std::string::npos;
      line += " " + k + "=" + (quote ? "\"" + v + "\"" : v);
    }
  }
  switch (level) {
    case 0:
      logger_->info("{}", line);
      break;
    case 1:
      logger_->warn("{}", line);
      break;
    default:
      logger_->error("{}", line);
  }
}

}  // namespace windlass::agent
