// Throughput of the YAML edge: parseYaml (kResource) and emitYaml over real files.
//
//   yaml_perf FILE... [--rounds N]
//
// Prints MB/s of input text for parsing and MB/s of output text for emitting,
// per file and in total. Not a test: numbers depend on the machine.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "overlays/yaml.h"
#include "overlays/yaml_fast.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  using namespace windlass;
  int rounds = 20;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: yaml_perf FILE... [--rounds N]\n");
    return 2;
  }
  double parseBytes = 0, parseTime = 0, emitBytes = 0, emitTime = 0;
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    size_t docsCount = 0;
    auto t0 = Clock::now();
    for (int r = 0; r < rounds; ++r) {
      JsonAllocator alloc;
      auto docs = overlays::parseYaml(text, f, overlays::YamlDialect::kResource, alloc);
      if (!docs) {
        std::fprintf(stderr, "%s\n", docs.error().message().c_str());
        return 1;
      }
      docsCount = docs->size();
    }
    double pt = seconds(Clock::now() - t0);
    bool fast = false;
    {
      JsonAllocator a;
      fast = overlays::parseYamlVia(overlays::YamlPath::kFastOnly, text, f,
                                    overlays::YamlDialect::kResource, a)
                 .has_value();
    }
    JsonAllocator alloc;
    auto docs = overlays::parseYaml(text, f, overlays::YamlDialect::kResource, alloc);
    std::string out;
    auto t1 = Clock::now();
    for (int r = 0; r < rounds; ++r) {
      out.clear();
      for (size_t i = 0; i < docs->size(); ++i) {
        if (i > 0) out += "---\n";
        overlays::emitYaml((*docs)[i], out);
      }
    }
    double et = seconds(Clock::now() - t1);
    double mb = static_cast<double>(text.size()) * rounds / 1e6;
    double omb = static_cast<double>(out.size()) * rounds / 1e6;
    std::printf("%-60s %8zu bytes %4zu docs  parse %7.1f MB/s (%s)  emit %7.1f MB/s%s\n",
                f.size() > 60 ? f.substr(f.size() - 60).c_str() : f.c_str(), text.size(), docsCount,
                mb / pt, fast ? "fast path" : "yaml-cpp", omb / et,
                out == text ? "" : "  (output differs)");
    parseBytes += mb, parseTime += pt, emitBytes += omb, emitTime += et;
  }
  std::printf("total: parse %.1f MB/s, emit %.1f MB/s over %d rounds\n", parseBytes / parseTime,
              emitBytes / emitTime, rounds);
  return 0;
}
