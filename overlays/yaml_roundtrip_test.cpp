// Every expected.yaml of the shared corpora is `kubectl kustomize` output, so
// reading it as a resource file and writing each document again must give back
// the same bytes. The corpus is read in place from $WINDLASS_SHARED (set by
// tests/meson.build); a missing corpus fails the test.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "overlays/yaml.h"

namespace windlass::overlays {
namespace {

namespace fs = std::filesystem;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> expectedFiles(const fs::path& shared) {
  std::vector<fs::path> out;
  for (const char* corpus : {"conformance/cases", "realworld/cases"}) {
    fs::path dir = shared / corpus;
    REQUIRE_MESSAGE(fs::is_directory(dir), "missing corpus folder " << dir.string());
    for (const auto& c : fs::directory_iterator(dir)) {
      fs::path f = c.path() / "expected.yaml";
      if (fs::is_regular_file(f)) out.push_back(f);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// First differing line of two texts, for the failure message.
std::string firstDifference(const std::string& want, const std::string& got) {
  std::istringstream a(want), b(got);
  std::string la, lb;
  for (int line = 1;; ++line) {
    bool ha = static_cast<bool>(std::getline(a, la));
    bool hb = static_cast<bool>(std::getline(b, lb));
    if (!ha && !hb) return "(only the final newline differs)";
    if (!ha || !hb || la != lb) {
      return "line " + std::to_string(line) + ":\n  want: " + (ha ? la : "<end>") +
             "\n  got:  " + (hb ? lb : "<end>");
    }
  }
}

TEST_CASE("every Kustomize output in the shared corpora survives parse and emit byte for byte") {
  const char* env = std::getenv("WINDLASS_SHARED");
  REQUIRE_MESSAGE(env != nullptr, "WINDLASS_SHARED is not set (tests/meson.build sets it)");
  fs::path shared(env);
  REQUIRE_MESSAGE(fs::is_directory(shared), "shared folder " << shared.string() << " is missing");
  std::vector<fs::path> files = expectedFiles(shared);
  REQUIRE(files.size() > 100);  // the corpora hold hundreds; a few means a broken checkout

  size_t identical = 0;
  std::vector<std::string> failures;
  for (const fs::path& f : files) {
    std::string text = readFile(f);
    JsonAllocator alloc;
    auto docs = parseYaml(text, f.string(), YamlDialect::kResource, alloc);
    if (!docs) {
      failures.push_back(f.string() + ": parse failed: " + docs.error().message());
      continue;
    }
    std::string out;
    for (size_t i = 0; i < docs->size(); ++i) {
      if (i > 0) out += "---\n";
      emitYaml((*docs)[i], out);
    }
    if (out == text) {
      ++identical;
    } else {
      failures.push_back(f.string() + ": " + firstDifference(text, out));
    }
  }
  std::cout << "yaml round trip: " << identical << " of " << files.size()
            << " expected.yaml files identical\n";
  for (const std::string& failure : failures) MESSAGE(failure);
  CHECK(failures.empty());
  CHECK(identical == files.size());
}

// The yaml-* conformance cases only list resource files, so Kustomize's output is
// its reading of those files written back out: parse (kResource) then emit must
// give expected.yaml. This checks the typing, not just the writer.
TEST_CASE("the yaml-* conformance inputs read and print as Kustomize does") {
  const char* env = std::getenv("WINDLASS_SHARED");
  REQUIRE_MESSAGE(env != nullptr, "WINDLASS_SHARED is not set (tests/meson.build sets it)");
  fs::path cases = fs::path(env) / "conformance" / "cases";
  REQUIRE_MESSAGE(fs::is_directory(cases), "missing corpus folder " << cases.string());
  size_t checked = 0;
  for (const auto& c : fs::directory_iterator(cases)) {
    std::string name = c.path().filename().string();
    fs::path expected = c.path() / "expected.yaml";
    if (name.rfind("yaml-", 0) != 0 || !fs::is_regular_file(expected)) continue;
    // The resources, in the order the kustomization lists them.
    std::string kustomization = readFile(c.path() / "input" / "kustomization.yaml");
    JsonAllocator alloc;
    auto k = parseYaml(kustomization, "kustomization.yaml", YamlDialect::kKustomization, alloc);
    REQUIRE(k);
    REQUIRE(k->size() == 1);
    const JsonValue& resources = (*k)[0]["resources"];
    REQUIRE(resources.IsArray());
    std::string out;
    size_t n = 0;
    for (const auto& r : resources.GetArray()) {
      fs::path file = c.path() / "input" / r.GetString();
      auto docs = parseYaml(readFile(file), file.string(), YamlDialect::kResource, alloc);
      REQUIRE_MESSAGE(docs, docs.error().message());
      for (const JsonValue& d : *docs) {
        if (n++ > 0) out += "---\n";
        emitYaml(d, out);
      }
    }
    std::string want = readFile(expected);
    CHECK_MESSAGE(out == want, name << ": " << firstDifference(want, out));
    ++checked;
  }
  CHECK(checked >= 10);
}

}  // namespace
}  // namespace windlass::overlays
