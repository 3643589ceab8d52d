// The agent's log: one line per event with fields, through spdlog. JSON lines
// ({"time":…,"level":…,"msg":…,"environment":…}) when stderr is not a terminal
// or --log-format json, else "TIME LEVEL msg key=value …". Callers never pass
// a secret: messages come from Status texts, which never hold one.
//
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spdlog {
class logger;
}

namespace windlass::agent {

using LogFields = std::vector<std::pair<std::string, std::string>>;

class Log {
 public:
  // json: JSON lines; else text. Writes to stderr.
  explicit Log(bool json);
  void info(std::string_view msg, const LogFields& fields = {});
  void warn(std::string_view msg, const LogFields& fields = {});
  void error(std::string_view msg, const LogFields& fields = {});

 private:
  void write(int level, std::string_view msg, const LogFields& fields);
  bool json_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace windlass::agent
