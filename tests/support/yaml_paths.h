// Runs parseYaml by one path (fast path, yaml-cpp, or both as parseYaml does)
// and describes the outcome as text, so two paths can be compared exactly: the
// error code and message, or every document with the type of each value and
// the empty nulls. For yaml_fast_test and the fuzz_yaml_fast target.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "overlays/yaml.h"
#include "overlays/yaml_fast.h"

namespace windlass::testing {

inline void describeValue(const JsonValue& v, std::string& out) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      out += "null";
      return;
    case rapidjson::kFalseType:
      out += "false";
      return;
    case rapidjson::kTrueType:
      out += "true";
      return;
    case rapidjson::kStringType:
      out += "s\"";
      out.append(v.GetString(), v.GetStringLength());
      out += '"';
      return;
    case rapidjson::kNumberType: {
      char buf[64];
      if (v.IsInt64()) {
        std::snprintf(buf, sizeof buf, "i%lld", static_cast<long long>(v.GetInt64()));
      } else if (v.IsUint64()) {
        std::snprintf(buf, sizeof buf, "u%llu", static_cast<unsigned long long>(v.GetUint64()));
      } else {
        std::snprintf(buf, sizeof buf, "d%.17g", v.GetDouble());
      }
      out += buf;
      return;
    }
    case rapidjson::kArrayType:
      out += '[';
      for (const auto& e : v.GetArray()) {
        describeValue(e, out);
        out += ',';
      }
      out += ']';
      return;
    case rapidjson::kObjectType:
      out += '{';
      for (const auto& m : v.GetObject()) {
        out.append(m.name.GetString(), m.name.GetStringLength());
        out += ':';
        describeValue(m.value, out);
        out += ',';
      }
      out += '}';
      return;
  }
}

struct ParseOutcome {
  bool ok = false;
  std::string text;  // the error ("code: message"), or the documents and empty nulls
};

inline ParseOutcome parseBy(overlays::YamlPath path, std::string_view text,
                            overlays::YamlDialect dialect) {
  JsonAllocator alloc;
  std::vector<overlays::EmptyNullPaths> nulls;
  auto docs = overlays::parseYamlVia(path, text, "in.yaml", dialect, alloc, {}, &nulls);
  ParseOutcome r;
  if (!docs) {
    r.text = std::to_string(static_cast<int>(docs.error().code())) + ": " + docs.error().message();
    return r;
  }
  r.ok = true;
  for (size_t i = 0; i < docs->size(); ++i) {
    describeValue((*docs)[i], r.text);
    r.text += "\n";
    if (i < nulls.size()) {
      std::vector<std::string> paths;
      for (const auto& p : nulls[i]) {
        std::string joined;
        for (const auto& part : p) joined += part + "/";
        paths.push_back(joined);
      }
      std::sort(paths.begin(), paths.end());
      for (const auto& p : paths) r.text += "  empty null " + p + "\n";
    }
    overlays::emitYaml((*docs)[i], r.text);
    r.text += "---\n";
  }
  return r;
}

}  // namespace windlass::testing
