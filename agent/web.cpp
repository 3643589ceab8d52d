#include "agent/web.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <utility>

#include "agent/web_assets.h"
#include "core/json.h"
#include "core/url.h"

namespace windlass::agent {

namespace {

constexpr size_t kPageSize = 50;
constexpr const char* kSecurityPolicy =
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

HttpResponse page(int status, std::string body, const char* type = "text/html; charset=utf-8") {
  HttpResponse r;
  r.status = status;
  r.contentType = type;
  r.body = std::move(body);
  r.headers["Content-Security-Policy"] = kSecurityPolicy;
  r.headers["X-Content-Type-Options"] = "nosniff";
  r.headers["Cache-Control"] = "no-store";
  return r;
}

std::string head(std::string_view title) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>" +
         htmlEscape(title) +
         "</title><link rel=\"stylesheet\" href=\"/assets/style.css\">"
         "<script src=\"/assets/app.js\" defer></script></head>\n<body>\n"
         "<header><a class=\"brand\" href=\"/\">windlass</a></header>\n<main>\n";
}

constexpr std::string_view kFoot = "</main>\n</body></html>\n";

HttpResponse errorPage(int status, std::string_view message) {
  return page(status, head("windlass: error") + "<h1>" + std::to_string(status) + " " +
                          httpReason(status) + "</h1><p class=\"error\">" + htmlEscape(message) +
                          "</p>\n" + std::string(kFoot));
}

// %XX and '+' decoded; nullopt for a bad escape.
std::optional<std::string> percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      int v = 0;
      if (i + 2 >= s.size()) return std::nullopt;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec != std::errc() || p != s.data() + i + 3) return std::nullopt;
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The decoded value of `name` in `query`, or nullopt (also for a bad escape).
std::optional<std::string> queryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string() : percentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string shortId(std::string_view commit) { return std::string(commit.substr(0, 7)); }

std::string firstLine(std::string_view text) {
  return std::string(text.substr(0, text.find('\n')));
}

// A class name for a health or outcome word: only letters, so it is safe as is.
std::string badge(std::string_view word, std::string_view text = {}) {
  std::string cls;
  for (char c : word) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      cls += static_cast<char>(c | 0x20);
    }
  }
  if (cls.empty()) cls = "none";
  return "<span class=\"badge b-" + cls + "\">" + htmlEscape(text.empty() ? word : text) +
         "</span>";
}

// ---- JSON records ---------------------------------------------------------------------

std::string_view str(const JsonValue& obj, const char* key) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

const JsonValue* member(const JsonValue& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

uint64_t sequenceOf(const JsonValue& record) {
  const JsonValue* seq = member(record, "seq");
  return seq != nullptr && seq->IsUint64() ? seq->GetUint64() : 0;
}

// "apps/Deployment shop/web" for a record's object entry.
std::string objectName(const JsonValue& o) {
  std::string out;
  if (!str(o, "group").empty()) out += std::string(str(o, "group")) + "/";
  out += std::string(str(o, "kind")) + " ";
  if (!str(o, "namespace").empty()) out += std::string(str(o, "namespace")) + "/";
  out += std::string(str(o, "name"));
  return out;
}

std::string prettyJson(const JsonValue& v) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// A unified diff, each line classed by its first character.
std::string renderDiff(const JsonValue& diff) {
  if (!diff.IsString()) return "<pre class=\"diff\">" + htmlEscape(prettyJson(diff)) + "</pre>";
  std::string_view text(diff.GetString(), diff.GetStringLength());
  std::string out = "<pre class=\"diff\">";
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    const char* cls = line.starts_with("+")   ? "add"
                      : line.starts_with("-") ? "del"
                      : line.starts_with("@") ? "hunk"
                                              : "ctx";
    out += "<span class=\"" + std::string(cls) + "\">" + htmlEscape(line) + "</span>\n";
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out + "</pre>";
}

std::string renderObjects(const JsonValue& record) {
  const JsonValue* objects = member(record, "objects");
  if (objects == nullptr || !objects->IsArray() || objects->Empty()) {
    return "<p class=\"muted\">No objects.</p>";
  }
  std::string out =
      "<table class=\"objects\"><thead><tr><th>Object</th><th>Action</th>"
      "<th>Detail</th></tr></thead><tbody>";
  size_t unchanged = 0;
  for (const JsonValue& o : objects->GetArray()) {
    std::string_view action = str(o, "action");
    const JsonValue* diff = member(o, "diff");
    bool hasDiff =
        diff != nullptr && !diff->IsNull() && !(diff->IsString() && diff->GetStringLength() == 0);
    if (action == "unchanged" && str(o, "error").empty() && !hasDiff) {
      ++unchanged;
      continue;
    }
    out += "<tr class=\"object\"><td class=\"name\">" + htmlEscape(objectName(o)) + "</td><td>" +
           badge(action) + "</td><td>";
    if (!str(o, "error").empty()) {
      out += "<span class=\"error\">" + htmlEscape(str(o, "error")) + "</span>";
    }
    if (hasDiff)
      out += "<details class=\"diff\"><summary>diff</summary>" + renderDiff(*diff) + "</details>";
    out += "</td></tr>";
  }
  out += "</tbody></table>";
  if (unchanged > 0) {
    out += "<p class=\"muted\">" + std::to_string(unchanged) + " unchanged object" +
           (unchanged == 1 ? "" : "s") + " not shown.</p>";
  }
  return out;
}

std::string renderHealth(const JsonValue& record) {
  const JsonValue* health = member(record, "health");
  if (health == nullptr) return "";
  const JsonValue* objects = member(*health, "objects");
  std::string out;
  if (objects != nullptr && objects->IsArray()) {
    for (const JsonValue& o : objects->GetArray()) {
      if (str(o, "status") == "Healthy") continue;
      out += "<li>" + htmlEscape(objectName(o)) + " " + badge(str(o, "status")) + " " +
             htmlEscape(str(o, "message")) + "</li>";
    }
  }
  return out.empty() ? "" : "<h4>Health</h4><ul class=\"health\">" + out + "</ul>";
}

// Every string member of `obj` not in `known`, as "key: value" items (fields a
// newer agent adds to a record, such as a promotion's source or a hold).
std::string renderExtra(const JsonValue& obj, std::initializer_list<std::string_view> known) {
  if (!obj.IsObject()) return "";
  std::string out;
  for (const auto& m : obj.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string value = m.value.IsString()
                            ? std::string(m.value.GetString(), m.value.GetStringLength())
                            : prettyJson(m.value);
    out += "<dt>" + htmlEscape(name) + "</dt><dd>" + htmlEscape(value) + "</dd>";
  }
  return out;
}

std::string renderRecord(const JsonValue& record) {
  const JsonValue* revisionPtr = member(record, "revision");
  static const JsonValue kEmpty(rapidjson::kObjectType);
  const JsonValue& revision = revisionPtr != nullptr ? *revisionPtr : kEmpty;
  std::string_view reason = str(record, "reason");
  std::string_view trigger = str(record, "trigger");
  const JsonValue* health = member(record, "health");
  std::string_view healthStatus = health != nullptr ? str(*health, "status") : "";
  const JsonValue* objects = member(record, "objects");
  size_t changed = 0;
  if (objects != nullptr && objects->IsArray()) {
    for (const JsonValue& o : objects->GetArray()) {
      if (str(o, "action") != "unchanged" || !str(o, "error").empty()) ++changed;
    }
  }
  const JsonValue* duration = member(record, "durationMs");
  std::string out = "<details class=\"record\" data-seq=\"" + std::to_string(sequenceOf(record)) +
                    "\" data-trigger=\"" + htmlEscape(trigger) + "\" data-outcome=\"" +
                    htmlEscape(reason) + "\"><summary>";
  out += "<span class=\"seq\">#" + std::to_string(sequenceOf(record)) + "</span> ";
  out += "<time>" + htmlEscape(str(record, "time")) + "</time> ";
  out += "<span class=\"trigger\">" + htmlEscape(trigger) + "</span> ";
  if (!str(record, "actor").empty()) {
    out += "<span class=\"actor\">by " + htmlEscape(str(record, "actor")) + "</span> ";
  }
  out += badge(reason) + " ";
  if (!healthStatus.empty()) out += badge(healthStatus) + " ";
  if (!str(revision, "commit").empty()) {
    out += "<code class=\"commit\">" + htmlEscape(shortId(str(revision, "commit"))) +
           "</code> <span class=\"subject\">" + htmlEscape(firstLine(str(revision, "message"))) +
           "</span> ";
  }
  out += "<span class=\"muted\">" + std::to_string(changed) + " changed";
  if (duration != nullptr && duration->IsInt64()) {
    out += ", " + std::to_string(duration->GetInt64()) + " ms";
  }
  out += "</span></summary>\n<div class=\"body\">";
  if (!str(record, "message").empty()) {
    out += "<p class=\"message\">" + htmlEscape(str(record, "message")) + "</p>";
  }
  out += renderObjects(record);
  out += renderHealth(record);
  out += "<h4>Revision</h4><dl class=\"revision\">";
  out += "<dt>commit</dt><dd><code>" + htmlEscape(str(revision, "commit")) + "</code></dd>";
  if (!str(revision, "branch").empty()) {
    out += "<dt>branch</dt><dd>" + htmlEscape(str(revision, "branch")) + "</dd>";
  }
  out += "<dt>author</dt><dd>" + htmlEscape(str(revision, "author")) + "</dd>";
  out += "<dt>signature</dt><dd>" + badge(str(revision, "signature"));
  if (!str(revision, "signer").empty()) out += " " + htmlEscape(str(revision, "signer"));
  out += "</dd>";
  out += renderExtra(revision,
                     {"commit", "branch", "author", "committer", "message", "signature", "signer"});
  out += "<dt>message</dt><dd><pre class=\"message\">" + htmlEscape(str(revision, "message")) +
         "</pre></dd></dl>";
  const JsonValue* images = member(record, "images");
  if (images != nullptr && images->IsArray() && !images->Empty()) {
    out += "<h4>Images</h4><ul class=\"images\">";
    for (const JsonValue& image : images->GetArray()) {
      if (image.IsString()) {
        out += "<li><code>" +
               htmlEscape(std::string_view(image.GetString(), image.GetStringLength())) +
               "</code></li>";
      }
    }
    out += "</ul>";
  }
  std::string extra = renderExtra(
      record, {"seq", "time", "env", "trigger", "actor", "revision", "images", "objects", "reason",
               "message", "health", "durationMs", "prevHash", "hash"});
  if (!extra.empty()) out += "<h4>More</h4><dl class=\"extra\">" + extra + "</dl>";
  out += "<p class=\"hash muted\">hash <code>" + htmlEscape(str(record, "hash")) + "</code></p>";
  return out + "</div></details>\n";
}

std::string holdText(const EnvironmentSnapshot& e) {
  std::string out = e.hold;  // a rollback's hold: "held at abc1234 by bob since ..."
  if (e.held) out += std::string(out.empty() ? "" : "; ") + "held by a sync window";
  if (e.suspended) out += std::string(out.empty() ? "" : "; ") + "suspended";
  return out;
}

std::string filterQuery(const HistoryFilter& f, std::optional<uint64_t> before) {
  std::string q;
  auto add = [&](std::string_view k, std::string_view v) {
    q += (q.empty() ? "?" : "&") + std::string(k) + "=" + percentEncode(v);
  };
  if (!f.outcome.empty()) add("outcome", f.outcome);
  if (!f.trigger.empty()) add("trigger", f.trigger);
  if (before) add("before", std::to_string(*before));
  return q;
}

std::string select(std::string_view name, std::string_view label,
                   const std::set<std::string>& values, const std::string& selected) {
  std::string out = "<label>" + htmlEscape(label) + " <select name=\"" + htmlEscape(name) +
                    "\"><option value=\"\">any</option>";
  for (const std::string& v : values) {
    out += "<option value=\"" + htmlEscape(v) + "\"" + (v == selected ? " selected" : "") + ">" +
           htmlEscape(v) + "</option>";
  }
  return out + "</select></label> ";
}

}  // namespace

std::string htmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string renderIndex(const std::vector<EnvironmentSnapshot>& environments) {
  std::string out = head("windlass: environments");
  out +=
      "<h1>Environments</h1>\n<table class=\"environments\"><thead><tr><th>Environment</th>"
      "<th>Commit</th><th>Health</th><th>Drift</th><th>Hold</th><th>Last sync</th>"
      "<th>Next sync</th></tr></thead><tbody>\n";
  for (const EnvironmentSnapshot& e : environments) {
    out += "<tr class=\"environment\" data-env=\"" + htmlEscape(e.name) + "\">";
    out += "<td class=\"name\"><a href=\"/environments/" + htmlEscape(percentEncode(e.name)) +
           "\">" + htmlEscape(e.name) + "</a>";
    if (!e.revision.branch.empty()) {
      out += "<div class=\"muted\">" + htmlEscape(e.revision.branch) + "</div>";
    }
    out += "</td><td class=\"commit\">";
    if (e.revision.commit.empty()) {
      out += "<span class=\"muted\">none yet</span>";
    } else {
      out += "<code title=\"" + htmlEscape(e.revision.commit) + "\">" +
             htmlEscape(shortId(e.revision.commit)) + "</code> <span class=\"subject\">" +
             htmlEscape(e.revision.subject) + "</span><div class=\"muted\">" +
             htmlEscape(e.revision.author) + "</div>";
    }
    out += "</td><td class=\"health\">" + badge(e.health.empty() ? "Unknown" : e.health) +
           "</td><td class=\"drift\">";
    if (e.drift.empty()) {
      out += "<span class=\"muted\">none</span>";
    } else {
      out += "<ul>";
      for (const std::string& d : e.drift) out += "<li>" + htmlEscape(d) + "</li>";
      out += "</ul>";
    }
    std::string hold = holdText(e);
    out += "</td><td class=\"hold\">" +
           (hold.empty() ? std::string("<span class=\"muted\">no</span>") : htmlEscape(hold)) +
           "</td><td class=\"last-sync\">";
    if (e.lastSyncTime.empty()) {
      out += "<span class=\"muted\">never</span>";
    } else {
      out += "<time>" + htmlEscape(e.lastSyncTime) + "</time> " + badge(e.lastSyncOutcome);
    }
    out += "</td><td class=\"next-sync\">" +
           (e.nextSync.empty() ? std::string("<span class=\"muted\">-</span>")
                               : "<time>" + htmlEscape(e.nextSync) + "</time>") +
           "</td></tr>\n";
  }
  out += "</tbody></table>\n";
  return out + std::string(kFoot);
}

std::string renderHistory(const EnvironmentSnapshot& environment,
                          const std::vector<std::string>& records, const HistoryFilter& filter,
                          const Status& chain, size_t badLines) {
  std::string out = head("windlass: " + environment.name);
  out += "<h1>" + htmlEscape(environment.name) + "</h1>\n<p class=\"summary\">";
  if (!environment.revision.commit.empty()) {
    out += "at <code>" + htmlEscape(shortId(environment.revision.commit)) + "</code> " +
           htmlEscape(environment.revision.subject) + " ";
  }
  out += badge(environment.health.empty() ? "Unknown" : environment.health);
  std::string hold = holdText(environment);
  if (!hold.empty()) out += " <span class=\"hold\">" + htmlEscape(hold) + "</span>";
  out += "</p>\n";
  if (chain.ok()) {
    out += "<p class=\"chain chain-ok\">History chain verified: " + std::to_string(records.size()) +
           " record" + (records.size() == 1 ? "" : "s") + ", every hash matches.</p>\n";
  } else {
    out += "<p class=\"chain chain-broken\">History chain does NOT verify: " +
           htmlEscape(chain.message()) + "</p>\n";
  }
  if (badLines > 0) {
    out += "<p class=\"error\">" + std::to_string(badLines) + " unreadable line" +
           (badLines == 1 ? "" : "s") + " in the history file.</p>\n";
  }

  JsonAllocator allocator;
  std::vector<JsonDocument> docs;
  docs.reserve(records.size());
  std::set<std::string> outcomes, triggers;
  for (const std::string& line : records) {
    JsonDocument doc(&allocator);
    doc.Parse(line.data(), line.size());
    if (doc.HasParseError() || !doc.IsObject()) continue;
    outcomes.emplace(str(doc, "reason"));
    triggers.emplace(str(doc, "trigger"));
    docs.push_back(std::move(doc));
  }
  if (!filter.outcome.empty()) outcomes.insert(filter.outcome);
  if (!filter.trigger.empty()) triggers.insert(filter.trigger);
  out += "<form class=\"filter\" method=\"get\">" +
         select("outcome", "Outcome", outcomes, filter.outcome) +
         select("trigger", "Trigger", triggers, filter.trigger) +
         "<button type=\"submit\">Filter</button> <button type=\"button\" id=\"expand\">Expand "
         "all</button></form>\n<section class=\"history\">\n";
  size_t shown = 0;
  std::optional<uint64_t> next;
  for (auto it = docs.rbegin(); it != docs.rend(); ++it) {
    const JsonDocument& r = *it;
    uint64_t seq = sequenceOf(r);
    if (filter.before && seq >= *filter.before) continue;
    if (!filter.outcome.empty() && str(r, "reason") != filter.outcome) continue;
    if (!filter.trigger.empty() && str(r, "trigger") != filter.trigger) continue;
    if (shown == kPageSize) {
      next = sequenceOf(*std::prev(it));
      break;
    }
    out += renderRecord(r);
    ++shown;
  }
  if (shown == 0) out += "<p class=\"muted empty\">No records.</p>\n";
  out += "</section>\n";
  std::string self = "/environments/" + percentEncode(environment.name);
  if (next) {
    out += "<p class=\"pager\"><a href=\"" + htmlEscape(self + filterQuery(filter, next)) +
           "\">Older records</a></p>\n";
  }
  if (filter.before) {
    out += "<p class=\"pager\"><a href=\"" + htmlEscape(self + filterQuery(filter, std::nullopt)) +
           "\">Newest records</a></p>\n";
  }
  return out + std::string(kFoot);
}

std::optional<HttpResponse> webResponse(
    const HttpRequest& request,
    const std::function<std::vector<EnvironmentSnapshot>()>& environments,
    const reconcile::HistoryStore& history) {
  std::string_view target = request.target;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  bool isPage = path == "/" || path == "/assets/style.css" || path == "/assets/app.js" ||
                (path.starts_with("/environments/") && path.size() > 14 &&
                 path.find('/', 14) == std::string_view::npos);
  if (!isPage) return std::nullopt;
  if (request.method != "GET") {
    HttpResponse r = errorPage(405, "method not allowed");
    r.headers["Allow"] = "GET";
    return r;
  }
  if (path == "/assets/style.css")
    return page(200, std::string(kWebStyleCss), "text/css; charset=utf-8");
  if (path == "/assets/app.js") {
    return page(200, std::string(kWebAppJs), "text/javascript; charset=utf-8");
  }
  std::vector<EnvironmentSnapshot> envs = environments();
  if (path == "/") return page(200, renderIndex(envs));

  auto name = percentDecode(path.substr(14));
  auto it = std::find_if(envs.begin(), envs.end(),
                         [&](const EnvironmentSnapshot& e) { return name && e.name == *name; });
  // The name is not echoed: it is whatever the client sent.
  if (it == envs.end()) return errorPage(404, "no such environment");
  HistoryFilter filter;
  for (auto [key, out] :
       {std::pair{"outcome", &filter.outcome}, std::pair{"trigger", &filter.trigger}}) {
    auto v = queryValue(query, key);
    if (!v || v->size() > 64) {
      if (v) return errorPage(400, std::string(key) + " is too long");
      continue;
    }
    *out = *v;
  }
  if (auto b = queryValue(query, "before"); b && !b->empty()) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(b->data(), b->data() + b->size(), v);
    if (ec != std::errc() || p != b->data() + b->size()) {
      return errorPage(400, "before must be a record sequence number");
    }
    filter.before = v;
  }
  auto read = history.read(it->name);
  if (!read) return errorPage(500, "the history of " + it->name + " cannot be read");
  std::vector<std::string> lines;
  lines.reserve(read->records.size());
  for (const reconcile::SyncRecord& r : read->records)
    lines.push_back(reconcile::serializeRecord(r));
  Status chain = history.verify(it->name);
  return page(200, renderHistory(*it, lines, filter, chain, read->badLines.size()));
}

}  // namespace windlass::agent
