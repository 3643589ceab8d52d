#include "agent/web.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

namespace windlass::agent {
namespace {

namespace fs = std::filesystem;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

EnvironmentSnapshot hostileEnvironment() {
  EnvironmentSnapshot e;
  e.name = "prod";
  e.revision = {"0123456789abcdef0123456789abcdef01234567", "env/prod", "Mallory <m@example.com>",
                "<script>alert('subject')</script> & \"more\""};
  e.lastSyncTime = "2026-12-01T10:00:00.000Z";
  e.lastSyncOutcome = "Succeeded";
  e.health = "Healthy";
  e.drift = {"/ConfigMap shop/<img src=x onerror=alert(1)>"};
  e.held = true;
  return e;
}

// A record line as serializeRecord prints it, with `diff` added to its first object
// (the field the history gains for per-object diffs).
std::string recordLine(uint64_t seq, reconcile::Trigger trigger, reconcile::Reason reason,
                       const std::string& objectName, const std::string& diff = "") {
  reconcile::SyncRecord r;
  r.sequence = seq;
  r.time = "2026-12-01T10:00:00.000Z";
  r.environment = "prod";
  r.trigger = trigger;
  r.reason = reason;
  r.revision.commit = "0123456789abcdef0123456789abcdef01234567";
  r.revision.message = "Release <b>2</b>\n\nbody";
  r.revision.signature = reconcile::SignatureStatus::kValid;
  reconcile::ObjectRecord o;
  o.version = "v1";
  o.kind = "ConfigMap";
  o.ns = "shop";
  o.name = objectName;
  o.action = reconcile::ObjectAction::kUpdate;
  r.objects.push_back(o);
  o.name = "quiet";
  o.action = reconcile::ObjectAction::kUnchanged;
  r.objects.push_back(o);
  r.hash = std::string(64, 'a');
  std::string line = reconcile::serializeRecord(r);
  if (!diff.empty()) {
    std::string key = "\"action\":\"update\"";
    line.insert(line.find(key) + key.size(), ",\"diff\":\"" + diff + "\"");
  }
  return line;
}

TEST_CASE("htmlEscape replaces the five special characters") {
  CHECK(htmlEscape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(htmlEscape("plain text") == "plain text");
}

TEST_CASE("the index lists environments with their short commit, escaped") {
  EnvironmentSnapshot fresh;
  fresh.name = "dev";
  fresh.health = "Unknown";
  fresh.suspended = true;
  std::string html = renderIndex({hostileEnvironment(), fresh});
  CHECK(html.find("<a href=\"/environments/prod\">prod</a>") != std::string::npos);
  CHECK(html.find("<a href=\"/environments/dev\">dev</a>") != std::string::npos);
  CHECK(html.find(">0123456</code>") != std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt; &amp; &quot;more&quot;") !=
        std::string::npos);
  CHECK(html.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
  CHECK(html.find("<script>alert") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("held by a sync window") != std::string::npos);
  CHECK(html.find("suspended") != std::string::npos);
  CHECK(html.find("none yet") != std::string::npos);  // dev has no commit
  CHECK(count(html, "<tr class=\"environment\"") == 2);
  // Only the page's own script, nothing from elsewhere.
  CHECK(count(html, "<script") == 1);
  CHECK(html.find("<script src=\"/assets/app.js\" defer></script>") != std::string::npos);
  CHECK(html.find("http") == std::string::npos);
}

TEST_CASE("the history shows records newest first, their objects and diffs, escaped") {
  std::vector<std::string> lines = {
      recordLine(1, reconcile::Trigger::kPoll, reconcile::Reason::kSucceeded, "settings"),
      recordLine(2, reconcile::Trigger::kDrift, reconcile::Reason::kSucceeded,
                 "<svg onload=alert(2)>", "@@ -1 +1 @@\\n-level: hacked\\n+level: info"),
  };
  std::string html = renderHistory(hostileEnvironment(), lines, {}, Status());
  CHECK(html.find("History chain verified: 2 records") != std::string::npos);
  size_t second = html.find("data-seq=\"2\"");
  size_t first = html.find("data-seq=\"1\"");
  REQUIRE(second != std::string::npos);
  REQUIRE(first != std::string::npos);
  CHECK(second < first);
  CHECK(html.find("ConfigMap shop/&lt;svg onload=alert(2)&gt;") != std::string::npos);
  CHECK(html.find("<svg") == std::string::npos);
  CHECK(html.find("<b>2</b>") == std::string::npos);
  CHECK(html.find("Release &lt;b&gt;2&lt;/b&gt;") != std::string::npos);
  CHECK(html.find("<span class=\"del\">-level: hacked</span>") != std::string::npos);
  CHECK(html.find("<span class=\"add\">+level: info</span>") != std::string::npos);
  CHECK(html.find("1 unchanged object not shown.") != std::string::npos);
  CHECK(html.find("<span class=\"badge b-valid\">Valid</span>") != std::string::npos);
  CHECK(html.find("ConfigMap shop/quiet") == std::string::npos);
}

TEST_CASE("the history filters by outcome and trigger and pages by 50") {
  std::vector<std::string> lines;
  for (uint64_t i = 1; i <= 120; ++i) {
    lines.push_back(
        recordLine(i, i % 2 == 0 ? reconcile::Trigger::kDrift : reconcile::Trigger::kPoll,
                   i % 3 == 0 ? reconcile::Reason::kApplyFailed : reconcile::Reason::kSucceeded,
                   "o" + std::to_string(i)));
  }
  EnvironmentSnapshot env = hostileEnvironment();
  std::string all = renderHistory(env, lines, {}, Status());
  CHECK(count(all, "<details class=\"record\"") == 50);
  CHECK(all.find("data-seq=\"120\"") != std::string::npos);
  CHECK(all.find("data-seq=\"71\"") != std::string::npos);
  CHECK(all.find("data-seq=\"70\"") == std::string::npos);
  CHECK(all.find("href=\"/environments/prod?before=71\">Older records") != std::string::npos);
  CHECK(all.find("<option value=\"drift\">drift</option>") != std::string::npos);

  HistoryFilter f;
  f.trigger = "drift";
  f.outcome = "ApplyFailed";
  std::string filtered = renderHistory(env, lines, f, Status());
  CHECK(count(filtered, "<details class=\"record\"") == 20);  // multiples of 6 up to 120
  CHECK(count(filtered, "data-trigger=\"drift\" data-outcome=\"ApplyFailed\"") == 20);
  CHECK(filtered.find("<option value=\"drift\" selected>") != std::string::npos);
  CHECK(filtered.find("Older records") == std::string::npos);

  f = {};
  f.before = 11;
  std::string older = renderHistory(env, lines, f, Status());
  CHECK(count(older, "<details class=\"record\"") == 10);
  CHECK(older.find("href=\"/environments/prod\">Newest records") != std::string::npos);

  f = {};
  f.trigger = "\"><script>x</script>";
  std::string hostile = renderHistory(env, lines, f, Status());
  CHECK(hostile.find("<script>x") == std::string::npos);
  CHECK(hostile.find("No records.") != std::string::npos);
}

TEST_CASE("a broken chain is shown as such") {
  std::string html =
      renderHistory(hostileEnvironment(), {}, {},
                    Status::failedPrecondition("history/prod.jsonl:3: hash mismatch <x>"), 2);
  CHECK(html.find("<p class=\"chain chain-broken\">History chain does NOT verify: "
                  "history/prod.jsonl:3: hash mismatch &lt;x&gt;</p>") != std::string::npos);
  CHECK(html.find("2 unreadable lines in the history file.") != std::string::npos);
}

struct Store {
  std::string dir;
  std::unique_ptr<reconcile::HistoryStore> history;
  Store() {
    char pattern[] = "/tmp/windlass-web-test-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    dir = pattern;
    reconcile::HistoryOptions o;
    o.sync = false;
    history = std::make_unique<reconcile::HistoryStore>(dir, o);
    reconcile::SyncRecord r;
    r.time = "2026-12-01T10:00:00.000Z";
    r.environment = "prod";
    r.trigger = reconcile::Trigger::kDrift;
    REQUIRE(history->append(r).ok());
  }
  ~Store() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

TEST_CASE("webResponse serves the pages and assets and nothing else") {
  Store store;
  auto envs = [] { return std::vector<EnvironmentSnapshot>{hostileEnvironment()}; };
  auto get = [&](const std::string& target, const std::string& method = "GET") {
    HttpRequest r;
    r.method = method;
    r.target = target;
    return webResponse(r, envs, *store.history);
  };
  auto index = get("/");
  REQUIRE(index);
  CHECK(index->status == 200);
  CHECK(index->contentType == "text/html; charset=utf-8");
  CHECK(index->headers.at("Content-Security-Policy").find("script-src 'self'") !=
        std::string::npos);
  auto prod = get("/environments/prod?trigger=drift&outcome=Succeeded");
  REQUIRE(prod);
  CHECK(prod->status == 200);
  CHECK(count(prod->body, "<details class=\"record\"") == 1);
  CHECK(prod->body.find("History chain verified: 1 record,") != std::string::npos);
  CHECK(get("/environments/prod?trigger=poll")->body.find("No records.") != std::string::npos);
  CHECK(get("/environments/nope")->status == 404);
  CHECK(get("/environments/prod?before=x")->status == 400);
  auto post = get("/", "POST");
  CHECK(post->status == 405);
  CHECK(post->headers.at("Allow") == "GET");
  auto css = get("/assets/style.css");
  CHECK(css->contentType == "text/css; charset=utf-8");
  CHECK(css->body.find("details.record") != std::string::npos);
  auto js = get("/assets/app.js");
  CHECK(js->contentType == "text/javascript; charset=utf-8");
  CHECK(js->body.find("innerHTML") == std::string::npos);
  CHECK_FALSE(get("/api/v1/environments").has_value());
  CHECK_FALSE(get("/environments/prod/history").has_value());
  CHECK_FALSE(get("/favicon.ico").has_value());
}

}  // namespace
}  // namespace windlass::agent
