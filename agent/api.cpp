#include "agent/api.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <optional>
#include <utility>

#include "agent/wiring.h"
#include "core/json.h"

namespace windlass::agent {

namespace {

constexpr size_t kDefaultLimit = 20;
constexpr size_t kMaxLimit = 100;

HttpResponse jsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body) + "\n";
  return r;
}

std::string jsonString(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

HttpResponse error(int status, std::string_view message) {
  return jsonResponse(status, "{\"error\":" + jsonString(message) + "}");
}

HttpResponse textResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.contentType = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

HttpResponse methodNotAllowed(const char* allow) {
  HttpResponse r = error(405, "method not allowed");
  r.headers["Allow"] = allow;
  return r;
}

// Splits "/a/b/c" into {"a","b","c"}; empty segments are kept (so "//" never matches a route).
std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> parts;
  if (path.starts_with("/")) path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    parts.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

// The value of `name` in the query string, or nullopt. No percent-decoding:
// every parameter is a number.
std::optional<std::string_view> queryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<uint64_t> parseUnsigned(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 19) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

const std::string* header(const HttpRequest& request, const std::string& name) {
  auto it = request.headers.find(name);
  return it == request.headers.end() ? nullptr : &it->second;
}

bool printableActor(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

std::string snapshotJson(const EnvironmentSnapshot& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](const std::string& v) {
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  w.Key("name");
  str(s.name);
  w.Key("revision");
  w.StartObject();
  w.Key("commit");
  str(s.revision.commit);
  w.Key("branch");
  str(s.revision.branch);
  w.Key("author");
  str(s.revision.author);
  w.Key("subject");
  str(s.revision.subject);
  w.EndObject();
  w.Key("lastSyncTime");
  str(s.lastSyncTime);
  w.Key("lastSyncOutcome");
  str(s.lastSyncOutcome);
  w.Key("health");
  str(s.health);
  w.Key("drift");
  w.StartArray();
  for (const std::string& d : s.drift) str(d);
  w.EndArray();
  w.Key("suspended");
  w.Bool(s.suspended);
  w.Key("held");
  w.Bool(s.held);
  w.Key("hold");
  str(s.hold);
  w.Key("nextSync");
  str(s.nextSync);
  w.Key("leader");
  w.Bool(s.leader);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Api::Api(ApiBackend backend) : backend_(std::move(backend)) {}

HttpHandler Api::handler() const {
  return [this](const HttpRequest& request) { return handle(request); };
}

HttpResponse Api::handle(const HttpRequest& request) const {
  std::string_view target = request.target;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  const std::string& method = request.method;
  bool get = method == "GET";
  if (path == "/healthz") return get ? textResponse(200, "ok\n") : methodNotAllowed("GET");
  if (path == "/readyz") {
    if (!get) return methodNotAllowed("GET");
    return backend_.ready() ? textResponse(200, "ready\n") : textResponse(503, "not ready\n");
  }
  if (path == "/metrics") {
    if (!get) return methodNotAllowed("GET");
    HttpResponse r = textResponse(200, backend_.metrics->expose());
    r.contentType = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  std::vector<std::string> parts = splitPath(path);
  if (parts.size() == 2 && parts[0] == "hooks") {
    if (method != "POST") return methodNotAllowed("POST");
    return hook(parts[1], request);
  }
  if (parts.size() >= 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "environments") {
    return environment(request, parts);
  }
  return error(404, "not found");
}

HttpResponse Api::environment(const HttpRequest& request,
                              const std::vector<std::string>& parts) const {
  bool get = request.method == "GET";
  std::vector<EnvironmentSnapshot> envs = backend_.environments();
  if (parts.size() == 3) {
    if (!get) return methodNotAllowed("GET");
    std::string body = "{\"environments\":[";
    for (size_t i = 0; i < envs.size(); ++i) {
      if (i > 0) body += ",";
      body += snapshotJson(envs[i]);
    }
    return jsonResponse(200, body + "]}");
  }
  const std::string& name = parts[3];
  auto it = std::find_if(envs.begin(), envs.end(),
                         [&](const EnvironmentSnapshot& e) { return e.name == name; });
  // The name is not echoed: it is whatever the client sent.
  if (it == envs.end()) return error(404, "no such environment");
  if (parts.size() == 4) {
    if (!get) return methodNotAllowed("GET");
    return jsonResponse(200, snapshotJson(*it));
  }
  if (parts[4] == "history" && parts.size() <= 6) {
    if (!get) return methodNotAllowed("GET");
    return history(*it, request, parts);
  }
  if (parts[4] == "sync" && parts.size() == 5) {
    if (request.method != "POST") return methodNotAllowed("POST");
    return sync(it->name, request);
  }
  return error(404, "not found");
}

HttpResponse Api::history(const EnvironmentSnapshot& env, const HttpRequest& request,
                          const std::vector<std::string>& parts) const {
  std::optional<uint64_t> sequence;
  size_t limit = kDefaultLimit;
  std::optional<uint64_t> before;
  if (parts.size() == 6) {
    sequence = parseUnsigned(parts[5]);
    if (!sequence) return error(404, "no such record");
  } else {
    std::string_view target = request.target;
    size_t q = target.find('?');
    std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
    if (auto l = queryParam(query, "limit")) {
      auto n = parseUnsigned(*l);
      if (!n || *n < 1 || *n > kMaxLimit) {
        return error(400, "limit must be a number from 1 to " + std::to_string(kMaxLimit));
      }
      limit = static_cast<size_t>(*n);
    }
    if (auto b = queryParam(query, "before")) {
      before = parseUnsigned(*b);
      if (!before) return error(400, "before must be a record sequence number");
    }
  }
  auto read = backend_.history->read(env.name);
  if (!read) return error(500, "history of " + env.name + " cannot be read");
  const std::vector<reconcile::SyncRecord>& records = read->records;
  if (sequence) {
    for (const reconcile::SyncRecord& r : records) {
      if (r.sequence == *sequence) return jsonResponse(200, reconcile::serializeRecord(r));
    }
    return error(404, "no such record");
  }
  std::string body = "{\"records\":[";
  size_t count = 0;
  std::optional<uint64_t> next;
  for (auto r = records.rbegin(); r != records.rend(); ++r) {
    if (before && r->sequence >= *before) continue;
    if (count == limit) {
      next = std::prev(r)->sequence;  // the oldest record shown: the next page is older
      break;
    }
    if (count > 0) body += ",";
    body += reconcile::serializeRecord(*r);
    ++count;
  }
  body += "],\"next\":" + (next ? std::to_string(*next) : std::string("null")) + "}";
  return jsonResponse(200, body);
}

HttpResponse Api::sync(const std::string& env, const HttpRequest& request) const {
  auto unauthorized = [] {
    HttpResponse r = error(401, "a valid bearer token is required");
    r.headers["WWW-Authenticate"] = "Bearer realm=\"windlass\"";
    return r;
  };
  std::string token = readSecretFile(backend_.tokenFile).value_or("");
  const std::string* auth = header(request, "authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (token.empty() || auth == nullptr || !std::string_view(*auth).starts_with(kBearer)) {
    return unauthorized();
  }
  if (!constantTimeEquals(std::string_view(*auth).substr(kBearer.size()), token)) {
    return unauthorized();
  }
  // The token's name (its file's name), unless the caller names a person.
  std::string actor = "token:" + backend_.tokenFile.substr(backend_.tokenFile.rfind('/') + 1);
  if (const std::string* a = header(request, "x-windlass-actor"); a && printableActor(*a)) {
    actor = *a;
  }
  Status s = backend_.requestSync(env, actor);
  if (s.code() == Code::kNotFound) return error(404, "no such environment");
  if (!s.ok()) return error(503, s.message());
  return jsonResponse(202, "{\"accepted\":true,\"environment\":" + jsonString(env) + "}");
}

HttpResponse Api::hook(std::string_view providerText, const HttpRequest& request) const {
  std::optional<WebhookProvider> provider = parseProvider(providerText);
  if (!provider) return error(404, "not found");
  const char* name = providerName(*provider);
  std::string secret = readSecretFile(backend_.webhookSecretFile).value_or("");
  Status verified = secret.empty()
                        ? Status::unauthenticated("no webhook secret is configured")
                        : verifyWebhook(*provider, request.headers, request.body, secret);
  if (!verified.ok()) {
    backend_.metrics->countWebhook(name, "unauthorized");
    return error(401, verified.message());
  }
  auto push = parsePushPayload(request.body);
  if (!push) {
    backend_.metrics->countWebhook(name, "bad_request");
    return error(400, push.error().message());
  }
  if (push->repositoryUrls.empty()) {
    backend_.metrics->countWebhook(name, "ignored");
    return jsonResponse(202, R"({"accepted":false,"reason":"no repository in the payload"})");
  }
  backend_.metrics->countWebhook(name, "accepted");
  backend_.push(*push);
  return jsonResponse(202, R"({"accepted":true})");
}

}  // namespace windlass::agent
