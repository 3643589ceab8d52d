#include "reconcile/history.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/sha256.h"

namespace windlass::reconcile {
namespace {

namespace fs = std::filesystem;

const std::string kZeros(64, '0');

// A fresh folder under /tmp, removed with everything in it at the end of the test.
struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/windlass-history-test-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

// Options that collect warnings instead of printing them; fsync stays on.
struct Collected {
  std::vector<std::string> warnings;
  HistoryOptions options() {
    HistoryOptions o;
    o.warn = [this](std::string_view w) { warnings.emplace_back(w); };
    return o;
  }
};

SyncRecord sampleRecord(int i, std::string env = "prod") {
  SyncRecord r;
  r.time =
      "2024-05-01T12:00:" + std::string(i % 60 < 10 ? "0" : "") + std::to_string(i % 60) + ".250Z";
  r.environment = std::move(env);
  r.trigger = i % 2 == 0 ? Trigger::kWebhook : Trigger::kPoll;
  r.revision = {"0123456789abcdef0123456789abcdef0123456" + std::to_string(i % 10),
                "env/prod",
                "Ada Lovelace <ada@example.com>",
                "CI Bot <ci@example.com>",
                "Release " + std::to_string(i) + "\n\nBody with \"quotes\" and a tab\t.",
                SignatureStatus::kValid};
  r.images = {"ghcr.io/acme/web:1." + std::to_string(i), "ghcr.io/acme/worker@sha256:abc"};
  r.objects = {
      {"apps", "v1", "Deployment", "shop", "web", ObjectAction::kUpdate, ""},
      {"", "v1", "ConfigMap", "shop", "web-config-42722hgcgc", ObjectAction::kCreate, ""},
      {"", "v1", "Namespace", "", "shop", ObjectAction::kUnchanged, ""},
      {"", "v1", "Service", "shop", "old", ObjectAction::kPruneSkipped, ""},
  };
  r.reason = Reason::kSucceeded;
  r.message = "applied 2 objects";
  r.health.status = HealthStatus::kHealthy;
  r.health.objects = {{"apps", "v1", "Deployment", "shop", "web", HealthStatus::kHealthy, ""}};
  r.durationMs = 1000 + i;
  return r;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// The lines of a file, without their '\n'; the file must end in '\n'.
std::vector<std::string> readLines(const std::string& path) {
  std::string text = readFile(path);
  std::vector<std::string> lines;
  size_t begin = 0;
  for (size_t nl; (nl = text.find('\n', begin)) != std::string::npos; begin = nl + 1) {
    lines.push_back(text.substr(begin, nl - begin));
  }
  REQUIRE(begin == text.size());
  return lines;
}

void writeLines(const std::string& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  writeFile(path, text);
}

// Appends `count` sample records to `env` and returns them as stored.
std::vector<SyncRecord> appendSamples(HistoryStore& store, int count,
                                      const std::string& env = "prod") {
  std::vector<SyncRecord> out;
  for (int i = 1; i <= count; ++i) {
    SyncRecord r = sampleRecord(i, env);
    Status st = store.append(r);
    REQUIRE_MESSAGE(st.ok(), st.message());
    out.push_back(r);
  }
  return out;
}

TEST_CASE("every vocabulary name parses back to its value") {
  for (Trigger t : {Trigger::kPoll, Trigger::kWebhook, Trigger::kDrift, Trigger::kImage,
                    Trigger::kManual, Trigger::kRollback}) {
    CHECK(parseTrigger(triggerName(t)) == t);
  }
  for (Reason r : {Reason::kSourceFailed, Reason::kRenderFailed, Reason::kApplyFailed,
                   Reason::kPruneFailed, Reason::kHealthFailed, Reason::kSucceeded}) {
    CHECK(parseReason(reasonName(r)) == r);
  }
  for (ObjectAction a : {ObjectAction::kCreate, ObjectAction::kUpdate, ObjectAction::kUnchanged,
                         ObjectAction::kDelete, ObjectAction::kPruneSkipped}) {
    CHECK(parseAction(actionName(a)) == a);
  }
  for (HealthStatus h : {HealthStatus::kHealthy, HealthStatus::kProgressing,
                         HealthStatus::kDegraded, HealthStatus::kUnknown}) {
    CHECK(parseHealth(healthName(h)) == h);
  }
  for (SignatureStatus s : {SignatureStatus::kUnknown, SignatureStatus::kUnsigned,
                            SignatureStatus::kValid, SignatureStatus::kInvalid}) {
    CHECK(parseSignature(signatureName(s)) == s);
  }
  CHECK(std::string(actionName(ObjectAction::kPruneSkipped)) == "prune-skipped");
  CHECK(std::string(reasonName(Reason::kApplyFailed)) == "ApplyFailed");
  CHECK_FALSE(parseTrigger("Poll").has_value());
  CHECK_FALSE(parseReason("succeeded").has_value());
}

TEST_CASE("times are RFC 3339 UTC") {
  using namespace std::chrono;
  auto t = sys_days{year{2024} / May / 1} + hours{12} + minutes{3} + seconds{4} + milliseconds{5};
  CHECK(formatRfc3339Utc(t) == "2024-05-01T12:03:04.005Z");
  CHECK(isRfc3339Utc(formatRfc3339Utc(system_clock::now())));
  CHECK(isRfc3339Utc("2024-05-01T12:00:00Z"));
  CHECK(isRfc3339Utc("2024-12-31T23:59:60.123456Z"));
  CHECK_FALSE(isRfc3339Utc("2024-05-01T12:00:00+02:00"));
  CHECK_FALSE(isRfc3339Utc("2024-05-01 12:00:00Z"));
  CHECK_FALSE(isRfc3339Utc("2024-13-01T12:00:00Z"));
  CHECK_FALSE(isRfc3339Utc("2024-05-01T12:00:00.Z"));
  CHECK_FALSE(isRfc3339Utc("2024-05-01T24:00:00Z"));
  CHECK_FALSE(isRfc3339Utc(""));
}

TEST_CASE("the canonical form has a fixed key order and no spaces") {
  SyncRecord r;
  r.sequence = 7;
  r.time = "2024-05-01T12:00:00Z";
  r.environment = "dev";
  r.trigger = Trigger::kRollback;
  r.revision.commit = "abc";
  r.images = {"nginx:1.27"};
  r.objects = {{"apps", "v1", "Deployment", "ns", "web", ObjectAction::kDelete, "gone"}};
  r.reason = Reason::kHealthFailed;
  r.health.status = HealthStatus::kDegraded;
  r.health.objects = {{"apps", "v1", "Deployment", "ns", "web", HealthStatus::kDegraded, "slow"}};
  r.durationMs = 42;
  r.prevHash = "p";
  r.hash = "h";
  const std::string body =
      R"({"seq":7,"time":"2024-05-01T12:00:00Z","env":"dev","trigger":"rollback",)"
      R"("revision":{"commit":"abc","branch":"","author":"","committer":"","message":"",)"
      R"("signature":"Unknown"},"images":["nginx:1.27"],"objects":[{"group":"apps",)"
      R"("version":"v1","kind":"Deployment","namespace":"ns","name":"web","action":"delete",)"
      R"("error":"gone"}],"reason":"HealthFailed","message":"","health":{"status":"Degraded",)"
      R"("objects":[{"group":"apps","version":"v1","kind":"Deployment","namespace":"ns",)"
      R"("name":"web","status":"Degraded","message":"slow"}]},"durationMs":42,"prevHash":"p")";
  CHECK(serializeRecord(r, false) == body + "}");
  CHECK(serializeRecord(r, true) == body + R"(,"hash":"h"})");
  auto parsed = parseRecord(serializeRecord(r));
  REQUIRE(parsed);
  CHECK(*parsed == r);
}

TEST_CASE("parseRecord names the bad field") {
  SyncRecord r = sampleRecord(1);
  std::string line = serializeRecord(r);
  auto replaced = [&](std::string_view from, std::string_view to) {
    std::string s = line;
    size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  auto error = [](const std::string& text) {
    auto parsed = parseRecord(text);
    REQUIRE_FALSE(parsed);
    return parsed.error().message();
  };
  CHECK(error(replaced(R"("trigger":"poll")", R"("trigger":"cron")")) ==
        R"(field "trigger": unknown value "cron")");
  CHECK(error(replaced(R"("author":"Ada)", R"("author":7,"x":"Ada)")) ==
        R"(field "revision.author": expected a string)");
  CHECK(error(replaced(R"("action":"create")", R"("action":"created")")) ==
        R"(field "objects[1].action": unknown value "created")");
  CHECK(error(replaced(R"("durationMs":1001)", R"("durationMs":-1)")) ==
        R"(field "durationMs": expected a non-negative integer)");
  CHECK(error(replaced(R"("seq":0,)", "")) == R"(field "seq": missing)");
  CHECK(error("[1]") == "expected a JSON object");
  CHECK(error("{\"seq\":1").rfind("not JSON: ", 0) == 0);
}

TEST_CASE("append then load gives back every record, field for field") {
  TempDir dir;
  Collected log;
  HistoryStore store(dir.path, log.options());
  std::vector<SyncRecord> stored = appendSamples(store, 3);
  // Strings that need escaping or are not ASCII survive the round trip.
  SyncRecord odd = sampleRecord(4);
  odd.revision.message = std::string("Ünïcödé 漢字 \"q\" \\ \n\r\t \x01 nul:") + '\0' + "end";
  odd.reason = Reason::kApplyFailed;
  odd.message = "apps/Deployment shop/web: apply failed: 422";
  odd.objects[0].error = "field is immutable";
  odd.health = {HealthStatus::kProgressing, {}};
  odd.images.clear();
  REQUIRE(store.append(odd).ok());
  stored.push_back(odd);

  auto loaded = store.load("prod");
  REQUIRE_MESSAGE(loaded, loaded.error().message());
  REQUIRE(loaded->size() == 4);
  for (size_t i = 0; i < stored.size(); ++i) {
    CHECK((*loaded)[i] == stored[i]);
    CHECK((*loaded)[i].sequence == i + 1);
  }
  std::vector<std::string> lines = readLines(store.filePath("prod"));
  REQUIRE(lines.size() == 4);
  CHECK(stored[0].prevHash == kZeros);
  for (size_t i = 1; i < lines.size(); ++i) CHECK(stored[i].prevHash == sha256Hex(lines[i - 1]));
  for (const SyncRecord& r : stored) CHECK(r.hash == sha256Hex(serializeRecord(r, false)));
  CHECK(lines[3] == serializeRecord(odd));
  CHECK(log.warnings.empty());

  // Another store on the same folder continues the same chain.
  HistoryStore again(dir.path, log.options());
  SyncRecord fifth = sampleRecord(5);
  REQUIRE(again.append(fifth).ok());
  CHECK(fifth.sequence == 5);
  CHECK(fifth.prevHash == sha256Hex(lines[3]));
}

TEST_CASE("invalid UTF-8 is stored as U+FFFD so every line is valid JSON") {
  TempDir dir;
  HistoryStore store(dir.path);
  SyncRecord r = sampleRecord(1);
  r.revision.author = "J\xF6rg <j@example.com>";  // Latin-1, as old Git commits have
  r.message = "cut \xE2\x82";                     // a truncated euro sign
  REQUIRE(store.append(r).ok());
  auto loaded = store.load("prod");
  REQUIRE(loaded);
  REQUIRE(loaded->size() == 1);
  CHECK((*loaded)[0].revision.author == "J\xEF\xBF\xBDrg <j@example.com>");
  CHECK((*loaded)[0].message == "cut \xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(store.verify("prod").ok());
}

TEST_CASE("a good chain verifies and reports its head") {
  TempDir dir;
  HistoryStore store(dir.path);
  HistoryStore::ChainSummary summary;
  REQUIRE(store.verify("prod", &summary).ok());
  CHECK(summary.records == 0);
  CHECK(summary.lastHash.empty());
  std::vector<SyncRecord> stored = appendSamples(store, 6);
  Status st = store.verify("prod", &summary);
  CHECK_MESSAGE(st.ok(), st.message());
  CHECK(summary.records == 6);
  CHECK(summary.lastHash == stored.back().hash);
}

TEST_CASE("a flipped byte anywhere in a record is detected on that line") {
  TempDir dir;
  HistoryStore store(dir.path);
  appendSamples(store, 5);
  const std::string path = store.filePath("prod");
  const std::string original = readFile(path);
  std::vector<std::string> lines = readLines(path);
  const size_t start = lines[0].size() + lines[1].size() + 2;  // line 3, with its '\n'
  for (size_t i = start; i <= start + lines[2].size(); ++i) {
    std::string tampered = original;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    writeFile(path, tampered);
    Status st = store.verify("prod");
    REQUIRE_MESSAGE(!st.ok(), "flip at byte " << i - start << " of line 3 went unnoticed");
    CHECK(st.code() == Code::kFailedPrecondition);
    CHECK_MESSAGE(st.message().rfind("history/prod.jsonl:3: ", 0) == 0,
                  "byte " << i - start << ": " << st.message());
  }
  // A changed value inside the record is reported as such.
  std::string tampered = original;
  size_t at = tampered.find("Release 3");
  REQUIRE(at != std::string::npos);
  tampered[at + 8] = '9';
  writeFile(path, tampered);
  CHECK(store.verify("prod").message() == "history/prod.jsonl:3: hash mismatch (record altered)");
  writeFile(path, original);
  CHECK(store.verify("prod").ok());
}

TEST_CASE("deleted, reordered, rewritten and foreign lines are detected") {
  TempDir dir;
  HistoryStore store(dir.path);
  appendSamples(store, 5);
  appendSamples(store, 1, "dev");
  const std::string path = store.filePath("prod");
  const std::vector<std::string> lines = readLines(path);

  SUBCASE("a deleted line") {
    std::vector<std::string> cut = lines;
    cut.erase(cut.begin() + 2);
    writeLines(path, cut);
    CHECK(store.verify("prod").message() ==
          "history/prod.jsonl:3: sequence 4 where 3 was expected "
          "(a record is missing, repeated or out of order)");
  }
  SUBCASE("the first line deleted") {
    writeLines(path, std::vector<std::string>(lines.begin() + 1, lines.end()));
    CHECK(store.verify("prod").message().rfind(
              "history/prod.jsonl:1: sequence 2 where 1 was expected", 0) == 0);
  }
  SUBCASE("a reordered pair") {
    std::vector<std::string> swapped = lines;
    std::swap(swapped[1], swapped[2]);
    writeLines(path, swapped);
    CHECK(store.verify("prod").message().rfind(
              "history/prod.jsonl:2: sequence 3 where 2 was expected", 0) == 0);
  }
  SUBCASE("a record rewritten with a fresh hash of its own breaks the next link") {
    auto record = parseRecord(lines[2]);
    REQUIRE(record);
    record->message = "nothing to see here";
    record->hash = sha256Hex(serializeRecord(*record, false));
    std::vector<std::string> forged = lines;
    forged[2] = serializeRecord(*record);
    writeLines(path, forged);
    CHECK(store.verify("prod").message() ==
          "history/prod.jsonl:4: prevHash does not match the previous line "
          "(a record before it was removed, inserted or altered)");
  }
  SUBCASE("an extra member") {
    std::vector<std::string> extra = lines;
    extra[1].insert(1, R"("note":"hi",)");
    writeLines(path, extra);
    CHECK(store.verify("prod").message() ==
          "history/prod.jsonl:2: not in canonical form (record altered)");
  }
  SUBCASE("a record of another environment") {
    writeLines(path, readLines(store.filePath("dev")));
    CHECK(store.verify("prod").message() ==
          "history/prod.jsonl:1: a record of environment \"dev\" in the history of \"prod\"");
  }
  SUBCASE("an empty line") {
    std::vector<std::string> blank = lines;
    blank.insert(blank.begin() + 4, "");
    writeLines(path, blank);
    CHECK(store.verify("prod").message() == "history/prod.jsonl:5: empty line");
  }
  SUBCASE("garbage") {
    std::vector<std::string> junk = lines;
    junk[0] = "not json";
    writeLines(path, junk);
    Status st = store.verify("prod");
    CHECK(st.message().rfind("history/prod.jsonl:1: not JSON: ", 0) == 0);
    auto loaded = store.load("prod");
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().message() == st.message());
  }
}

TEST_CASE("a torn last line is cut away on open and the store keeps working") {
  TempDir dir;
  Collected log;
  HistoryStore store(dir.path, log.options());
  appendSamples(store, 3);
  const std::string path = store.filePath("prod");
  const std::string whole = readFile(path);
  // The agent was killed half way through writing record 4.
  SyncRecord lost = sampleRecord(4);
  lost.sequence = 4;
  std::string partial = serializeRecord(lost).substr(0, 100);
  writeFile(path, whole + partial);

  CHECK(store.verify("prod").message() ==
        "history/prod.jsonl:4: incomplete last record (no newline): an interrupted write, "
        "removed when the history is next opened for writing");
  {
    HistoryStore reader(dir.path, log.options());
    auto loaded = reader.load("prod");
    REQUIRE(loaded);
    CHECK(loaded->size() == 3);
    REQUIRE(log.warnings.size() == 1);
    CHECK(log.warnings[0].find("history/prod.jsonl:4: skipped an incomplete last record") == 0);
    CHECK(readFile(path) == whole + partial);  // reading never changes the file
  }

  log.warnings.clear();
  // The same store notices although it wrote the first three records itself.
  SyncRecord next = sampleRecord(5);
  Status st = store.append(next);
  REQUIRE_MESSAGE(st.ok(), st.message());
  CHECK(next.sequence == 4);
  REQUIRE(log.warnings.size() == 1);
  CHECK(log.warnings[0] ==
        "history/prod.jsonl: removed an incomplete last record (100 bytes without a newline): "
        "an interrupted write that was never acknowledged");
  CHECK(store.stats().incompleteRemoved == 1);
  std::vector<std::string> lines = readLines(path);
  REQUIRE(lines.size() == 4);
  CHECK(lines[3] == serializeRecord(next));  // not glued to the torn bytes
  HistoryStore::ChainSummary summary;
  CHECK(store.verify("prod", &summary).ok());
  CHECK(summary.records == 4);
}

TEST_CASE("a torn first record leaves an empty history") {
  TempDir dir;
  Collected log;
  HistoryStore store(dir.path, log.options());
  fs::create_directories(dir.path + "/history");
  writeFile(store.filePath("prod"), R"({"seq":1,"time":"2024)");
  REQUIRE(store.open("prod").ok());
  CHECK(readFile(store.filePath("prod")).empty());
  CHECK(log.warnings.size() == 1);
  SyncRecord r = sampleRecord(1);
  REQUIRE(store.append(r).ok());
  CHECK(r.sequence == 1);
  CHECK(r.prevHash == kZeros);
  CHECK(store.verify("prod").ok());
}

TEST_CASE("fsync: every record, and each folder the store creates") {
  TempDir dir;
  const std::string state = dir.path + "/var/windlass";
  HistoryStore store(state);
  CHECK(store.stats().fileSyncs == 0);
  SyncRecord r = sampleRecord(1);
  REQUIRE(store.append(r).ok());
  // var/ and var/windlass/ were created (their parents synced), then history/ and the file.
  CHECK(store.stats().dirSyncs == 3);
  CHECK(store.stats().fileSyncs == 1);
  REQUIRE(store.append(r).ok());
  REQUIRE(store.append(r).ok());
  CHECK(store.stats().fileSyncs == 3);
  CHECK(store.stats().dirSyncs == 3);
  SyncRecord d = sampleRecord(1, "dev");
  REQUIRE(store.append(d).ok());
  CHECK(store.stats().dirSyncs == 4);  // only the new file's folder

  HistoryOptions noSync;
  noSync.sync = false;
  HistoryStore fast(dir.path + "/other", noSync);
  REQUIRE(fast.append(r).ok());
  CHECK(fast.stats().fileSyncs == 0);
  CHECK(fast.stats().dirSyncs == 0);
}

TEST_CASE("a failed write is cut back and leaves the chain whole") {
  TempDir dir;
  HistoryStore store(dir.path);
  appendSamples(store, 2);
  const std::string path = store.filePath("prod");
  const std::string before = readFile(path);

  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The file may grow by 10 bytes only: the write stops part way (EFBIG).
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{static_cast<rlim_t>(before.size() + 10), RLIM_INFINITY};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    SyncRecord r = sampleRecord(3);
    Status st = store.append(r);
    bool expected = st.code() == Code::kResourceExhausted &&
                    st.message().rfind("history/prod.jsonl: write: ", 0) == 0;
    ::_exit(expected ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(readFile(path) == before);
  CHECK(store.verify("prod").ok());
  SyncRecord r = sampleRecord(3);
  REQUIRE(store.append(r).ok());
  CHECK(r.sequence == 3);
  CHECK(store.verify("prod").ok());
}

TEST_CASE("bad input is refused before anything is written") {
  TempDir dir;
  HistoryStore store(dir.path);
  SyncRecord r = sampleRecord(1);
  r.environment = "../etc";
  CHECK(store.append(r).message() ==
        "history: environment name \"../etc\" is not 1-253 characters of [A-Za-z0-9._-]");
  r = sampleRecord(1);
  r.time = "yesterday";
  CHECK(store.append(r).message() ==
        "history record: time \"yesterday\" is not RFC 3339 UTC (2024-05-01T12:00:00Z)");
  r = sampleRecord(1);
  r.durationMs = -5;
  CHECK(store.append(r).code() == Code::kInvalidArgument);
  CHECK(store.load("..").error().code() == Code::kInvalidArgument);
  CHECK(store.verify("a/b").code() == Code::kInvalidArgument);
  CHECK_FALSE(fs::exists(dir.path + "/history"));
}

TEST_CASE("line length is bounded on write and on read") {
  TempDir dir;
  HistoryOptions options;
  options.maxLineBytes = 2000;
  HistoryStore store(dir.path, options);
  appendSamples(store, 1);
  SyncRecord big = sampleRecord(2);
  big.message.assign(3000, 'x');
  Status st = store.append(big);
  CHECK(st.code() == Code::kResourceExhausted);
  CHECK(st.message().find("exceeds the limit of 2000") != std::string::npos);
  CHECK(readLines(store.filePath("prod")).size() == 1);

  // A line that is too long (written by someone else) is reported, not read whole.
  HistoryStore unbounded(dir.path);
  REQUIRE(unbounded.append(big).ok());
  CHECK(store.verify("prod").message() == "history/prod.jsonl:2: line longer than 2000 bytes");
  CHECK(store.load("prod").error().message() ==
        "history/prod.jsonl:2: line longer than 2000 bytes");
  CHECK(store.open("prod").message() ==
        "history/prod.jsonl: the last line is longer than 2000 bytes");
}

TEST_CASE("an unreadable last record stops appends with a clear message") {
  TempDir dir;
  HistoryStore store(dir.path);
  appendSamples(store, 2);
  {
    std::ofstream out(store.filePath("prod"), std::ios::app);
    out << "{\"seq\":3}\n";
  }
  HistoryStore other(dir.path);
  SyncRecord r = sampleRecord(3);
  Status st = other.append(r);
  CHECK(st.code() == Code::kFailedPrecondition);
  CHECK(st.message() ==
        "history/prod.jsonl: the last record does not parse (field \"time\": missing); "
        "run `windlass history verify`");
}

TEST_CASE("a broken chain stops appends until it is moved aside") {
  TempDir dir;
  {
    HistoryStore writer(dir.path);
    appendSamples(writer, 5);
  }
  HistoryStore store(dir.path);
  const std::string path = store.filePath("prod");
  std::string text = readFile(path);
  size_t at = text.find("Release 3");
  REQUIRE(at != std::string::npos);
  text[at + 8] = '9';
  writeFile(path, text);
  const std::string refused =
      "history/prod.jsonl:3: hash mismatch (record altered); refusing to append to a broken "
      "history (move the file aside, or set allowBrokenChain)";

  Status st = store.open("prod");
  CHECK(st.code() == Code::kFailedPrecondition);
  CHECK(st.message() == refused);
  SyncRecord r = sampleRecord(6);
  st = store.append(r);
  CHECK(st.code() == Code::kFailedPrecondition);
  CHECK(st.message() == refused);
  CHECK(readFile(path) == text);  // nothing written

  // Moved aside, a new history starts.
  fs::rename(path, path + ".broken");
  r = sampleRecord(6);
  REQUIRE(store.append(r).ok());
  CHECK(r.sequence == 1);
  CHECK(r.prevHash == kZeros);
  CHECK(store.verify("prod").ok());
}

TEST_CASE("allowBrokenChain continues from the last record after one warning") {
  TempDir dir;
  {
    HistoryStore writer(dir.path);
    appendSamples(writer, 5);
  }
  const std::string path = dir.path + "/history/prod.jsonl";
  std::vector<std::string> lines = readLines(path);
  lines.erase(lines.begin() + 1);
  writeLines(path, lines);

  Collected log;
  HistoryOptions options = log.options();
  options.allowBrokenChain = true;
  HistoryStore store(dir.path, options);
  SyncRecord a = sampleRecord(6);
  Status st = store.append(a);
  REQUIRE_MESSAGE(st.ok(), st.message());
  SyncRecord b = sampleRecord(7);
  REQUIRE(store.append(b).ok());
  CHECK(a.sequence == 6);
  CHECK(a.prevHash == sha256Hex(lines.back()));
  CHECK(b.sequence == 7);
  REQUIRE(log.warnings.size() == 1);
  CHECK(log.warnings[0] ==
        "history/prod.jsonl:2: sequence 3 where 2 was expected (a record is missing, repeated or "
        "out of order); appending anyway, continuing from the last record (allowBrokenChain is "
        "set)");
  CHECK(store.verify("prod").message().rfind("history/prod.jsonl:2: sequence 3", 0) == 0);
}

TEST_CASE("the chain is checked once per store, then only lines others added") {
  TempDir dir;
  {
    HistoryStore writer(dir.path);
    appendSamples(writer, 5);
  }
  HistoryStore store(dir.path);
  REQUIRE(store.open("prod").ok());
  CHECK(store.stats().linesChecked == 5);
  REQUIRE(store.open("prod").ok());
  appendSamples(store, 2);
  CHECK(store.stats().linesChecked == 5);  // its own appends are not read back

  HistoryStore other(dir.path);
  appendSamples(other, 1);
  CHECK(other.stats().linesChecked == 7);
  SyncRecord r = sampleRecord(9);
  REQUIRE(store.append(r).ok());
  CHECK(r.sequence == 9);
  CHECK(store.stats().linesChecked == 6);  // the one line `other` added

  // A line another writer added that breaks the chain is caught too.
  {
    std::vector<std::string> lines = readLines(store.filePath("prod"));
    auto forged = parseRecord(lines.back());
    REQUIRE(forged);
    forged->sequence += 1;
    forged->hash = sha256Hex(serializeRecord(*forged, false));
    std::ofstream out(store.filePath("prod"), std::ios::app);
    out << serializeRecord(*forged) << "\n";
  }
  CHECK(store.open("prod").message() ==
        "history/prod.jsonl:10: prevHash does not match the previous line (a record before it "
        "was removed, inserted or altered); refusing to append to a broken history (move the "
        "file aside, or set allowBrokenChain)");
}

TEST_CASE("read() returns the readable records and names each bad line") {
  TempDir dir;
  HistoryOptions options;
  options.maxLineBytes = 2000;
  HistoryStore store(dir.path, options);
  std::vector<SyncRecord> stored = appendSamples(store, 4);
  const std::string path = store.filePath("prod");
  std::vector<std::string> lines = readLines(path);
  std::string& third = lines[2];
  size_t at = third.find(R"("time":")");
  REQUIRE(at != std::string::npos);
  third.replace(at, 7 + 26, R"("time":7)");  // "time":"2024-05-01T12:00:03.250Z"
  lines.insert(lines.begin() + 1, std::string(3000, 'x'));
  writeLines(path, lines);

  auto read = store.read("prod");
  REQUIRE_MESSAGE(read, read.error().message());
  REQUIRE(read->records.size() == 3);
  CHECK(read->records[0] == stored[0]);
  CHECK(read->records[1] == stored[1]);
  CHECK(read->records[2] == stored[3]);
  CHECK(read->badLines == std::vector<HistoryBadLine>{
                              {2, "history/prod.jsonl:2: line longer than 2000 bytes"},
                              {4, "history/prod.jsonl:4: field \"time\": expected a string"},
                          });
  // load() is the strict reading of the same scan.
  CHECK(store.load("prod").error().message() ==
        "history/prod.jsonl:2: line longer than 2000 bytes");

  auto none = store.read("staging");
  REQUIRE(none);
  CHECK(none->records.empty());
  CHECK(none->badLines.empty());
}

// Runs `fn` as user nobody in a child when this process is root (for whom file
// modes do not stop writes); returns fn()'s result.
bool asUnprivileged(const std::function<bool()>& fn) {
  if (::geteuid() != 0) return fn();
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    bool ok = ::setgid(65534) == 0 && ::setuid(65534) == 0 && fn();
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST_CASE("open() is the pre-flight: an unwritable history fails it, naming the file") {
  TempDir dir;
  Collected log;
  HistoryStore store(dir.path, log.options());
  const std::string path = store.filePath("prod");

  SUBCASE("a read-only file") {
    appendSamples(store, 2);
    REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
    REQUIRE(::chmod(path.c_str(), 0444) == 0);
    bool refused = asUnprivileged([&] {
      HistoryStore fresh(dir.path);
      Status st = fresh.open("prod");
      return st.code() == Code::kFailedPrecondition &&
             st.message() == path + ": cannot open for appending: Permission denied";
    });
    CHECK(refused);
  }
  SUBCASE("a read-only folder") {
    fs::create_directories(dir.path + "/history");
    REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
    REQUIRE(::chmod((dir.path + "/history").c_str(), 0555) == 0);
    bool refused = asUnprivileged([&] {
      HistoryStore fresh(dir.path);
      Status st = fresh.open("prod");
      return st.code() == Code::kFailedPrecondition &&
             st.message() == path + ": cannot open for appending: Permission denied";
    });
    CHECK(refused);
  }
  SUBCASE("a folder where the file should be (unwritable even for root)") {
    fs::create_directories(path);
    Status st = store.open("prod");
    CHECK(st.code() == Code::kFailedPrecondition);
    CHECK(st.message() == path + ": cannot open for appending: Is a directory");
  }
  SUBCASE("an unparseable last line") {
    appendSamples(store, 2);
    {
      std::ofstream out(path, std::ios::app);
      out << "{\"seq\":3,\"time\":7}\n";
    }
    HistoryStore fresh(dir.path);
    Status st = fresh.open("prod");
    CHECK(st.code() == Code::kFailedPrecondition);
    CHECK(st.message() ==
          "history/prod.jsonl: the last record does not parse (field \"time\": expected a "
          "string); run `windlass history verify`");
  }
  SUBCASE("after open() succeeds, append() writes") {
    appendSamples(store, 1);
    REQUIRE(store.open("prod").ok());
    SyncRecord r = sampleRecord(2);
    REQUIRE(store.append(r).ok());
    CHECK(r.sequence == 2);
  }
}

TEST_CASE("missing histories are empty and environments are listed") {
  TempDir dir;
  HistoryStore store(dir.path);
  auto envs = store.environments();
  REQUIRE(envs);
  CHECK(envs->empty());
  auto loaded = store.load("staging");
  REQUIRE(loaded);
  CHECK(loaded->empty());
  appendSamples(store, 1, "staging");
  appendSamples(store, 1, "dev");
  appendSamples(store, 1, "prod");
  envs = store.environments();
  REQUIRE(envs);
  CHECK(*envs == std::vector<std::string>{"dev", "prod", "staging"});
}

TEST_CASE("concurrent appends from 4 threads make one valid chain of 200") {
  TempDir dir;
  HistoryStore store(dir.path);
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, &failures, t] {
      for (int i = 0; i < 50; ++i) {
        SyncRecord r = sampleRecord(i);
        r.message = "thread " + std::to_string(t) + " record " + std::to_string(i);
        if (!store.append(r).ok()) ++failures[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  CHECK(failures == std::vector<int>(4, 0));
  HistoryStore::ChainSummary summary;
  Status st = store.verify("prod", &summary);
  CHECK_MESSAGE(st.ok(), st.message());
  CHECK(summary.records == 200);
  auto loaded = store.load("prod");
  REQUIRE(loaded);
  std::vector<int> perThread(4, 0);
  for (const SyncRecord& r : *loaded) ++perThread[r.message[7] - '0'];
  CHECK(perThread == std::vector<int>(4, 50));
  CHECK(store.stats().fileSyncs == 200);
}

TEST_CASE("concurrent appends from several processes make one valid chain") {
  TempDir dir;
  constexpr int kChildren = 3;
  constexpr int kEach = 40;
  std::vector<pid_t> children;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      HistoryStore store(dir.path);
      int failed = 0;
      for (int i = 0; i < kEach; ++i) {
        SyncRecord r = sampleRecord(i);
        r.message = "process " + std::to_string(c);
        if (!store.append(r).ok()) ++failed;
      }
      ::_exit(failed == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  HistoryStore store(dir.path);
  for (int i = 0; i < kEach; ++i) {
    SyncRecord r = sampleRecord(i);
    r.message = "parent";
    REQUIRE(store.append(r).ok());
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  HistoryStore::ChainSummary summary;
  Status st = store.verify("prod", &summary);
  CHECK_MESSAGE(st.ok(), st.message());
  CHECK(summary.records == (kChildren + 1) * kEach);
}

TEST_CASE("maskSecrets hides Secret values and keeps their keys") {
  JsonDocument doc;
  doc.Parse(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","annotations":{
      "kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"password\":\"aHVudGVy\"}}",
      "team":"payments"}},
      "type":"Opaque","data":{"password":"aHVudGVy","user":"YWRh"},"stringData":{"token":"t0p"}})");
  REQUIRE_FALSE(doc.HasParseError());
  CHECK(maskSecrets(doc));
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  std::string text = buffer.GetString();
  CHECK(text.find("aHVudGVy") == std::string::npos);
  CHECK(text.find("YWRh") == std::string::npos);
  CHECK(text.find("t0p") == std::string::npos);
  CHECK(std::string(doc["data"]["password"].GetString()) == "***");
  CHECK(std::string(doc["data"]["user"].GetString()) == "***");
  CHECK(std::string(doc["stringData"]["token"].GetString()) == "***");
  CHECK(doc["data"].MemberCount() == 2);
  const JsonValue& annotations = doc["metadata"]["annotations"];
  CHECK(std::string(annotations["kubectl.kubernetes.io/last-applied-configuration"].GetString()) ==
        "***");
  CHECK(std::string(annotations["team"].GetString()) == "payments");
  CHECK(std::string(doc["type"].GetString()) == "Opaque");
}

TEST_CASE("maskSecrets leaves everything but a v1 Secret alone") {
  const char* kInputs[] = {
      R"({"apiVersion":"v1","kind":"ConfigMap","data":{"password":"plain"}})",
      R"({"apiVersion":"example.com/v1","kind":"Secret","data":{"password":"plain"}})",
      R"({"kind":"Secret","data":{"password":"plain"}})",
      R"(["not","an","object"])",
  };
  for (const char* input : kInputs) {
    JsonDocument doc;
    doc.Parse(input);
    REQUIRE_FALSE(doc.HasParseError());
    CHECK_FALSE(maskSecrets(doc));
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    doc.Accept(writer);
    CHECK(std::string(buffer.GetString()) == input);
  }
  // A malformed Secret whose data is not a mapping is masked as a whole.
  JsonDocument doc;
  doc.Parse(R"({"apiVersion":"v1","kind":"Secret","data":"c2VjcmV0","stringData":null})");
  CHECK(maskSecrets(doc));
  CHECK(std::string(doc["data"].GetString()) == "***");
  CHECK(doc["stringData"].IsNull());
}

}  // namespace
}  // namespace windlass::reconcile

namespace windlass::reconcile {

TEST_CASE("the actor of a record is written only when set, and read back") {
  SyncRecord r;
  r.time = "2026-12-02T10:00:00.000Z";
  r.environment = "prod";
  r.trigger = Trigger::kManual;
  std::string without = serializeRecord(r);
  CHECK(without.find("actor") == std::string::npos);  // older records keep their form
  r.actor = "token:api-token";
  std::string with = serializeRecord(r);
  CHECK(with.find(R"("trigger":"manual","actor":"token:api-token","revision")") !=
        std::string::npos);
  auto back = parseRecord(with);
  REQUIRE(back);
  CHECK(back->actor == "token:api-token");
  CHECK(serializeRecord(*back) == with);
}

TEST_CASE("the signer of a commit is written only when set, and read back") {
  SyncRecord r;
  r.time = "2026-12-02T10:00:00.000Z";
  r.environment = "prod";
  r.revision.signature = SignatureStatus::kValid;
  std::string without = serializeRecord(r);
  CHECK(without.find("signer") == std::string::npos);  // older records keep their form
  r.revision.signer = "alice@example.com";
  std::string with = serializeRecord(r);
  CHECK(with.find(R"("signature":"Valid","signer":"alice@example.com"})") != std::string::npos);
  auto back = parseRecord(with);
  REQUIRE(back);
  CHECK(back->revision.signer == "alice@example.com");
  CHECK(serializeRecord(*back) == with);
  std::string wrongType = with;
  wrongType.replace(wrongType.find("\"alice@example.com\""), 19, "7");
  auto bad = parseRecord(wrongType);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message() == "field \"revision.signer\": expected a string");
}

}  // namespace windlass::reconcile
