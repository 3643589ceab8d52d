#include "agent/api.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace windlass::agent {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/windlass-api-test-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& content) const {
    std::ofstream(path + "/" + name) << content;
  }
  std::string path;
};

// An agent with environments prod and dev, three history records of prod, a
// token and a webhook secret, recording what the router asked of it.
struct Fixture {
  TempDir dir;
  Metrics metrics{false};
  reconcile::HistoryStore store{dir.path, [] {
                                  reconcile::HistoryOptions o;
                                  o.sync = false;
                                  return o;
                                }()};
  bool isReady = true;
  std::vector<std::string> syncs;  // "env by actor"
  std::vector<PushEvent> pushes;
  std::vector<std::string> lines;  // serializeRecord of prod's records, oldest first
  Api api{backend()};

  Fixture() {
    dir.write("token", "t0ken\n");
    dir.write("secret", "s3cret\n");
    for (int i = 1; i <= 3; ++i) {
      reconcile::SyncRecord r;
      r.time = "2024-05-01T12:00:0" + std::to_string(i) + ".000Z";
      r.environment = "prod";
      r.revision.commit = std::string(40, static_cast<char>('0' + i));
      r.message = "sync " + std::to_string(i);
      REQUIRE(store.append(r).ok());
      lines.push_back(reconcile::serializeRecord(r));
    }
  }

  ApiBackend backend() {
    ApiBackend b;
    b.ready = [this] { return isReady; };
    b.environments = [] {
      EnvironmentSnapshot prod;
      prod.name = "prod";
      prod.revision = {"abc123", "env/prod", "Ada <ada@example.com>", "Release \"1\""};
      prod.lastSyncTime = "2024-05-01T12:00:03.000Z";
      prod.lastSyncOutcome = "Succeeded";
      prod.health = "Healthy";
      prod.drift = {"apps/Deployment shop/web"};
      prod.nextSync = "2024-05-01T12:01:03.000Z";
      prod.leader = true;
      EnvironmentSnapshot dev;
      dev.name = "dev";
      dev.suspended = true;
      return std::vector<EnvironmentSnapshot>{prod, dev};
    };
    b.requestSync = [this](const std::string& env, const std::string& actor) {
      syncs.push_back(env + " by " + actor);
      return env == "dev" ? Status::failedPrecondition("dev is suspended") : Status();
    };
    b.push = [this](const PushEvent& e) { pushes.push_back(e); };
    b.metrics = &metrics;
    b.history = &store;
    b.tokenFile = dir.path + "/token";
    b.webhookSecretFile = dir.path + "/secret";
    return b;
  }

  HttpResponse call(std::string method, std::string target, std::string body = "",
                    std::map<std::string, std::string> headers = {}) {
    return api.handle(
        HttpRequest{std::move(method), std::move(target), std::move(headers), std::move(body)});
  }
};

TEST_CASE("health, readiness and metrics") {
  Fixture f;
  HttpResponse r = f.call("GET", "/healthz");
  CHECK(r.status == 200);
  CHECK(r.body == "ok\n");
  CHECK(r.contentType == "text/plain; charset=utf-8");
  CHECK(f.call("GET", "/readyz").status == 200);
  f.isReady = false;
  r = f.call("GET", "/readyz");
  CHECK(r.status == 503);
  CHECK(r.body == "not ready\n");
  f.metrics.setLeader(true);
  r = f.call("GET", "/metrics");
  CHECK(r.status == 200);
  CHECK(r.contentType == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(r.body == f.metrics.expose());
  r = f.call("POST", "/metrics");
  CHECK(r.status == 405);
  CHECK(r.headers["Allow"] == "GET");
  CHECK(f.call("GET", "/nothing").status == 404);
  CHECK(f.call("GET", "/api/v1/environments/prod/other").status == 404);
}

TEST_CASE("environments") {
  Fixture f;
  std::string prod =
      R"({"name":"prod","revision":{"commit":"abc123","branch":"env/prod",)"
      R"("author":"Ada <ada@example.com>","subject":"Release \"1\""},)"
      R"("lastSyncTime":"2024-05-01T12:00:03.000Z","lastSyncOutcome":"Succeeded",)"
      R"("health":"Healthy","drift":["apps/Deployment shop/web"],"suspended":false,)"
      R"("held":false,"hold":"","nextSync":"2024-05-01T12:01:03.000Z","leader":true})";
  std::string dev =
      R"({"name":"dev","revision":{"commit":"","branch":"","author":"","subject":""},)"
      R"("lastSyncTime":"","lastSyncOutcome":"","health":"","drift":[],"suspended":true,)"
      R"("held":false,"hold":"","nextSync":"","leader":false})";
  HttpResponse r = f.call("GET", "/api/v1/environments");
  CHECK(r.status == 200);
  CHECK(r.contentType == "application/json");
  CHECK(r.body == "{\"environments\":[" + prod + "," + dev + "]}\n");
  r = f.call("GET", "/api/v1/environments/prod");
  CHECK(r.body == prod + "\n");
  r = f.call("GET", "/api/v1/environments/qa%22");
  CHECK(r.status == 404);
  CHECK(r.body == "{\"error\":\"no such environment\"}\n");
  CHECK(f.call("DELETE", "/api/v1/environments/prod").status == 405);
}

TEST_CASE("history: newest first, paged, records as serializeRecord prints them") {
  Fixture f;
  HttpResponse r = f.call("GET", "/api/v1/environments/prod/history");
  CHECK(r.status == 200);
  CHECK(r.body ==
        "{\"records\":[" + f.lines[2] + "," + f.lines[1] + "," + f.lines[0] + "],\"next\":null}\n");
  r = f.call("GET", "/api/v1/environments/prod/history?limit=2");
  CHECK(r.body == "{\"records\":[" + f.lines[2] + "," + f.lines[1] + "],\"next\":2}\n");
  r = f.call("GET", "/api/v1/environments/prod/history?limit=2&before=2");
  CHECK(r.body == "{\"records\":[" + f.lines[0] + "],\"next\":null}\n");
  r = f.call("GET", "/api/v1/environments/dev/history");
  CHECK(r.body == "{\"records\":[],\"next\":null}\n");
  r = f.call("GET", "/api/v1/environments/prod/history/2");
  CHECK(r.status == 200);
  CHECK(r.body == f.lines[1] + "\n");
  CHECK(f.call("GET", "/api/v1/environments/prod/history/9").status == 404);
  CHECK(f.call("GET", "/api/v1/environments/prod/history/x").status == 404);
  r = f.call("GET", "/api/v1/environments/prod/history?limit=0");
  CHECK(r.status == 400);
  CHECK(r.body == "{\"error\":\"limit must be a number from 1 to 100\"}\n");
  r = f.call("GET", "/api/v1/environments/prod/history?before=-1");
  CHECK(r.status == 400);
  CHECK(r.body == "{\"error\":\"before must be a record sequence number\"}\n");
}

TEST_CASE("manual sync needs the bearer token") {
  Fixture f;
  std::string target = "/api/v1/environments/prod/sync";
  HttpResponse r = f.call("POST", target);
  CHECK(r.status == 401);
  CHECK(r.headers["WWW-Authenticate"] == "Bearer realm=\"windlass\"");
  CHECK(r.body == "{\"error\":\"a valid bearer token is required\"}\n");
  CHECK(f.call("POST", target, "", {{"authorization", "Bearer t0ke"}}).status == 401);
  CHECK(f.call("POST", target, "", {{"authorization", "t0ken"}}).status == 401);
  CHECK(f.syncs.empty());
  r = f.call("POST", target, "", {{"authorization", "Bearer t0ken"}});
  CHECK(r.status == 202);
  CHECK(r.body == "{\"accepted\":true,\"environment\":\"prod\"}\n");
  r = f.call("POST", target, "",
             {{"authorization", "Bearer t0ken"}, {"x-windlass-actor", "alice"}});
  CHECK(r.status == 202);
  r = f.call("POST", "/api/v1/environments/dev/sync", "", {{"authorization", "Bearer t0ken"}});
  CHECK(r.status == 503);
  CHECK(r.body == "{\"error\":\"dev is suspended\"}\n");
  CHECK(f.syncs ==
        std::vector<std::string>{"prod by token:token", "prod by alice", "dev by token:token"});
  CHECK(f.call("GET", target).status == 405);
  // No token file: nothing is accepted, not even an empty token.
  fs::remove(f.dir.path + "/token");
  CHECK(f.call("POST", target, "", {{"authorization", "Bearer "}}).status == 401);
  CHECK(f.call("POST", target, "", {{"authorization", "Bearer t0ken"}}).status == 401);
  CHECK(f.syncs.size() == 3);
}

TEST_CASE("webhooks: verified, parsed, counted") {
  Fixture f;
  std::string body = R"({"ref":"refs/heads/main","repository":{"clone_url":"https://g/x.git"}})";
  std::string sig = "sha256=" + hmacSha256Hex("s3cret", body);
  HttpResponse r = f.call("POST", "/hooks/github", body, {{"x-hub-signature-256", sig}});
  CHECK(r.status == 202);
  CHECK(r.body == "{\"accepted\":true}\n");
  REQUIRE(f.pushes.size() == 1);
  CHECK(f.pushes[0].branch == "main");
  CHECK(f.pushes[0].repositoryUrls == std::vector<std::string>{"https://g/x.git"});

  r = f.call("POST", "/hooks/github", body + " ", {{"x-hub-signature-256", sig}});
  CHECK(r.status == 401);
  CHECK(r.body == "{\"error\":\"header X-Hub-Signature-256 does not match the body\"}\n");
  r = f.call("POST", "/hooks/gitlab", body, {{"x-gitlab-token", "wrong"}});
  CHECK(r.status == 401);
  CHECK(r.body.find("s3cret") == std::string::npos);
  r = f.call("POST", "/hooks/gitlab", "{}", {{"x-gitlab-token", "s3cret"}});
  CHECK(r.status == 202);
  CHECK(r.body == "{\"accepted\":false,\"reason\":\"no repository in the payload\"}\n");
  r = f.call("POST", "/hooks/generic", "nope",
             {{"x-windlass-signature", "sha256=" + hmacSha256Hex("s3cret", "nope")}});
  CHECK(r.status == 400);
  CHECK(f.pushes.size() == 1);
  CHECK(f.call("POST", "/hooks/bitbucket", body).status == 404);
  CHECK(f.call("GET", "/hooks/github").status == 405);

  // Without a secret file every hook is refused.
  fs::remove(f.dir.path + "/secret");
  r = f.call("POST", "/hooks/github", body, {{"x-hub-signature-256", sig}});
  CHECK(r.status == 401);
  CHECK(f.pushes.size() == 1);

  const MetricsRegistry& m = f.metrics.registry();
  CHECK(m.value(f.metrics.webhookRequests, {"github", "accepted"}) == 1);
  CHECK(m.value(f.metrics.webhookRequests, {"github", "unauthorized"}) == 2);
  CHECK(m.value(f.metrics.webhookRequests, {"gitlab", "unauthorized"}) == 1);
  CHECK(m.value(f.metrics.webhookRequests, {"gitlab", "ignored"}) == 1);
  CHECK(m.value(f.metrics.webhookRequests, {"generic", "bad_request"}) == 1);
}

}  // namespace
}  // namespace windlass::agent
