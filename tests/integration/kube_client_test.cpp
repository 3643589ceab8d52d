// The Kubernetes client against the harness's real kube-apiserver: discovery, server-side
// apply (dry-run, create, idempotent re-apply), paginated list, delete, a 403 for the
// restricted user, and an unreachable server.
//
// Needs the harness environment (tests/harness/up ENVFILE; source ENVFILE). A missing
// variable fails the test: integration tests never skip.
#include "reconcile/kube_client.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace windlass::reconcile {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  REQUIRE_MESSAGE((v != nullptr && *v != '\0'),
                  std::string(name)
                      << " is not set: start the harness (tests/harness/up ENVFILE) and source "
                         "ENVFILE before running the integration suite");
  return v;
}

std::unique_ptr<KubeClient> connect(const std::string& kubeconfig, ClientOptions options = {}) {
  auto cfg = loadKubeconfig(kubeconfig);
  REQUIRE_MESSAGE(cfg.has_value(), cfg.error().message());
  auto client = KubeClient::create(std::move(*cfg), options);
  REQUIRE_MESSAGE(client.has_value(), client.error().message());
  return std::move(*client);
}

JsonValue parse(const std::string& json, JsonAllocator& alloc) {
  auto v = parseJsonBody(json, alloc, "test");
  REQUIRE(v.has_value());
  return std::move(*v);
}

std::string str(const JsonValue& v) { return v.IsString() ? v.GetString() : "<not a string>"; }

const Gvk kConfigMap = Gvk::fromApiVersion("v1", "ConfigMap");
const Gvk kNamespace = Gvk::fromApiVersion("v1", "Namespace");

// A namespace for this run, deleted at the end.
struct TestNamespace {
  KubeClient& client;
  std::string name;
  TestNamespace(KubeClient& c, const std::string& suffix)
      : client(c), name("windlass-kube-it-" + std::to_string(::getpid()) + "-" + suffix) {
    JsonAllocator alloc;
    JsonValue ns = parse(
        R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + name + R"("}})", alloc);
    auto applied = client.apply(ns, alloc);
    REQUIRE_MESSAGE(applied.has_value(), applied.error().message());
  }
  ~TestNamespace() { (void)client.remove(kNamespace, "", name); }
};

TEST_CASE("discovery: scope and plural of built-in kinds; unknown kinds are NotFound") {
  auto client = connect(env("KUBECONFIG"));
  auto deploy = client->resolve(Gvk::fromApiVersion("apps/v1", "Deployment"));
  REQUIRE_MESSAGE(deploy.has_value(), deploy.error().message());
  CHECK(deploy->plural == "deployments");
  CHECK(deploy->namespaced);
  auto role = client->resolve(Gvk::fromApiVersion("rbac.authorization.k8s.io/v1", "ClusterRole"));
  REQUIRE(role.has_value());
  CHECK(role->plural == "clusterroles");
  CHECK_FALSE(role->namespaced);
  auto cm = client->resolve(kConfigMap);
  REQUIRE(cm.has_value());
  CHECK(cm->plural == "configmaps");
  CHECK(client->knownResources().size() > 40);

  auto widget = client->resolve(Gvk::fromApiVersion("example.com/v1", "Widget"));
  REQUIRE_FALSE(widget.has_value());
  CHECK(widget.error().code() == Code::kNotFound);
  CHECK(widget.error().message() ==
        "no resource for kind \"example.com/v1/Widget\": is its CustomResourceDefinition "
        "installed?");

  // The legacy per-group-version documents give the same answers.
  ClientOptions legacy;
  legacy.legacyDiscovery = true;
  auto old = connect(env("KUBECONFIG"), legacy);
  auto oldDeploy = old->resolve(Gvk::fromApiVersion("apps/v1", "Deployment"));
  REQUIRE_MESSAGE(oldDeploy.has_value(), oldDeploy.error().message());
  CHECK(oldDeploy->plural == "deployments");
  CHECK(oldDeploy->namespaced);
  auto oldRole = old->resolve(Gvk::fromApiVersion("rbac.authorization.k8s.io/v1", "ClusterRole"));
  REQUIRE(oldRole.has_value());
  CHECK_FALSE(oldRole->namespaced);
  CHECK(old->knownResources().size() == client->knownResources().size());
}

TEST_CASE("a CRD created after discovery is found by refreshing") {
  auto client = connect(env("KUBECONFIG"));
  REQUIRE(client->refreshDiscovery().ok());
  std::string group = "it" + std::to_string(::getpid()) + ".windlass.dev";
  JsonAllocator alloc;
  JsonValue crd =
      parse(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"gadgets.)" +
                group + R"("},
    "spec":{"group":")" +
                group + R"(","scope":"Cluster",
      "names":{"plural":"gadgets","singular":"gadget","kind":"Gadget"},
      "versions":[{"name":"v1","served":true,"storage":true,
        "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}})",
            alloc);
  auto applied = client->apply(crd, alloc);
  REQUIRE_MESSAGE(applied.has_value(), applied.error().message());
  Gvk gadget = Gvk::fromApiVersion(group + "/v1", "Gadget");
  Result<ResourceInfo> info = Status::notFound("not yet");
  for (int i = 0; i < 100 && !info; ++i) {  // the CRD becomes Established asynchronously
    info = client->resolve(gadget);
    if (!info) ::usleep(100 * 1000);
  }
  REQUIRE_MESSAGE(info.has_value(), info.error().message());
  CHECK(info->plural == "gadgets");
  CHECK_FALSE(info->namespaced);
  CHECK(client
            ->remove(Gvk::fromApiVersion("apiextensions.k8s.io/v1", "CustomResourceDefinition"), "",
                     "gadgets." + group)
            .ok());
}

TEST_CASE("server-side apply: dry-run stores nothing, apply creates, re-apply is idempotent") {
  auto client = connect(env("KUBECONFIG"));
  TestNamespace ns(*client, "apply");
  JsonAllocator alloc;
  JsonValue cm = parse(R"({"apiVersion":"v1","kind":"ConfigMap",
    "metadata":{"name":"settings","namespace":")" +
                           ns.name + R"(","labels":{"app":"web"}},
    "data":{"mode":"fast"}})",
                       alloc);

  ApplyOptions dry;
  dry.dryRun = true;
  auto planned = client->apply(cm, alloc, dry);
  REQUIRE_MESSAGE(planned.has_value(), planned.error().message());
  CHECK(str((*planned)["data"]["mode"]) == "fast");
  auto absent = client->get(kConfigMap, ns.name, "settings", alloc);
  REQUIRE_FALSE(absent.has_value());
  CHECK(absent.error().code() == Code::kNotFound);
  CHECK(absent.error().message().rfind("ConfigMap " + ns.name + "/settings: get not found: ", 0) ==
        0);

  auto created = client->apply(cm, alloc);
  REQUIRE_MESSAGE(created.has_value(), created.error().message());
  std::string rv = str((*created)["metadata"]["resourceVersion"]);
  const JsonValue& managed = (*created)["metadata"]["managedFields"];
  REQUIRE(managed.IsArray());
  CHECK(str(managed[0]["manager"]) == "windlass");
  CHECK(str(managed[0]["operation"]) == "Apply");

  auto again = client->apply(cm, alloc);
  REQUIRE(again.has_value());
  CHECK(str((*again)["metadata"]["resourceVersion"]) == rv);  // nothing was written

  auto live = client->get(kConfigMap, ns.name, "settings", alloc);
  REQUIRE(live.has_value());
  CHECK(str((*live)["data"]["mode"]) == "fast");
  CHECK(str((*live)["metadata"]["resourceVersion"]) == rv);

  // An invalid object is 422, naming the object and the verb.
  JsonValue bad = parse(R"({"apiVersion":"v1","kind":"ConfigMap",
    "metadata":{"name":"Not_Valid","namespace":")" +
                            ns.name + R"("}})",
                        alloc);
  auto invalid = client->apply(bad, alloc);
  REQUIRE_FALSE(invalid.has_value());
  CHECK(invalid.error().code() == Code::kInvalidArgument);
  CHECK(invalid.error().message().rfind("ConfigMap " + ns.name + "/Not_Valid: patch invalid: ",
                                        0) == 0);

  CHECK(client->remove(kConfigMap, ns.name, "settings").ok());
  auto gone = client->get(kConfigMap, ns.name, "settings", alloc);
  REQUIRE_FALSE(gone.has_value());
  CHECK(gone.error().code() == Code::kNotFound);
  Status twice = client->remove(kConfigMap, ns.name, "settings");
  CHECK(twice.code() == Code::kNotFound);
}

TEST_CASE("list follows continue tokens; apply in a concurrent batch") {
  auto client = connect(env("KUBECONFIG"));
  TestNamespace ns(*client, "list");
  std::vector<Request> batch;
  JsonAllocator alloc;
  for (int i = 0; i < 30; ++i) {
    JsonValue cm = parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-)" +
                             std::to_string(i) + R"(","namespace":")" + ns.name +
                             R"(","labels":{"set":")" + (i % 3 == 0 ? "third" : "rest") +
                             R"("}},"data":{"i":")" + std::to_string(i) + R"("}})",
                         alloc);
    auto req = client->applyRequest(cm);
    REQUIRE_MESSAGE(req.has_value(), req.error().message());
    batch.push_back(std::move(*req));
  }
  auto results = client->sendBatch(batch);
  for (size_t i = 0; i < results.size(); ++i) {
    REQUIRE_MESSAGE(results[i].has_value(), results[i].error().message());
    Status st = statusFromHttp(results[i]->httpStatus, results[i]->body, batch[i].subject, "patch");
    CHECK_MESSAGE(st.ok(), st.message());
  }

  ListOptions paged;
  paged.pageSize = 7;
  auto all = client->list(kConfigMap, ns.name, alloc, paged);
  REQUIRE_MESSAGE(all.has_value(), all.error().message());
  int ours = 0;
  std::set<std::string> names;
  for (const JsonValue& item : *all) {
    CHECK(str(item["kind"]) == "ConfigMap");
    CHECK(str(item["apiVersion"]) == "v1");
    std::string name = str(item["metadata"]["name"]);
    names.insert(name);
    if (name.rfind("cm-", 0) == 0) ++ours;
  }
  CHECK(ours == 30);
  CHECK(names.size() == all->size());  // no page repeated

  ListOptions third;
  third.labelSelector = "set=third";
  third.pageSize = 4;
  auto selected = client->list(kConfigMap, ns.name, alloc, third);
  REQUIRE(selected.has_value());
  CHECK(selected->size() == 10);
}

TEST_CASE("the restricted user gets a clear 403") {
  auto admin = connect(env("KUBECONFIG"));
  auto restricted = connect(env("WINDLASS_TEST_RESTRICTED_KUBECONFIG"));
  std::string readonly = env("WINDLASS_TEST_RESTRICTED_NAMESPACE");
  JsonAllocator alloc;
  JsonValue cm = parse(R"({"apiVersion":"v1","kind":"ConfigMap",
    "metadata":{"name":"not-allowed","namespace":")" +
                           readonly + R"("},"data":{"a":"b"}})",
                       alloc);
  auto denied = restricted->apply(cm, alloc);
  REQUIRE_FALSE(denied.has_value());
  CHECK(denied.error().code() == Code::kPermissionDenied);
  CHECK(denied.error().message().rfind(
            "ConfigMap " + readonly +
                "/not-allowed: patch forbidden: configmaps \"not-allowed\" "
                "is forbidden: User \"restricted\" cannot patch resource \"configmaps\"",
            0) == 0);
  auto list = restricted->list(kConfigMap, readonly, alloc);
  CHECK_MESSAGE(list.has_value(), (list ? "" : list.error().message()));
  auto elsewhere = restricted->list(kConfigMap, "default", alloc);
  REQUIRE_FALSE(elsewhere.has_value());
  CHECK(elsewhere.error().code() == Code::kPermissionDenied);
  CHECK(elsewhere.error().message().rfind("ConfigMap in default: list forbidden: ", 0) == 0);
  CHECK(admin->get(kConfigMap, readonly, "not-allowed", alloc).error().code() == Code::kNotFound);
}

TEST_CASE("HTTP/2 is negotiated with the API server") {
  auto client = connect(env("KUBECONFIG"));
  Request r;
  r.path = "/version";
  auto resp = client->send(r);
  REQUIRE_MESSAGE(resp.has_value(), resp.error().message());
  CHECK(resp->httpStatus == 200);
  CHECK(resp->httpVersion == 2);
}

TEST_CASE("an exec credential plugin authenticates against the real server") {
  std::string token = env("WINDLASS_TEST_ADMIN_TOKEN");
  auto admin = loadKubeconfig(env("KUBECONFIG"));
  REQUIRE(admin.has_value());
  std::string dir = "/tmp/windlass-kube-it-exec-" + std::to_string(::getpid());
  REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
  {
    std::ofstream(dir + "/plugin") << "#!/bin/sh\nprintf '{\"apiVersion\":\"client.authentication."
                                      "k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":"
                                      "{\"token\":\"%s\"}}' \"$ADMIN_TOKEN\"\n";
    std::ofstream(dir + "/ca.crt") << admin->caPem;
    std::ofstream(dir + "/config")
        << "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
           "clusters: [{name: c, cluster: {server: \""
        << admin->server
        << "\", certificate-authority: ca.crt}}]\n"
           "users:\n- name: u\n  user:\n    exec:\n      apiVersion: "
           "client.authentication.k8s.io/v1\n"
           "      command: ./plugin\n      env: [{name: ADMIN_TOKEN, value: \""
        << token << "\"}]\n";
  }
  REQUIRE(::chmod((dir + "/plugin").c_str(), 0755) == 0);
  auto client = connect(dir + "/config");
  JsonAllocator alloc;
  auto ns = client->get(kNamespace, "", "default", alloc);
  CHECK_MESSAGE(ns.has_value(), (ns ? "" : ns.error().message()));
  std::filesystem::remove_all(dir);
}

TEST_CASE("one client used from several threads at once") {
  auto client = connect(env("KUBECONFIG"));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      JsonAllocator alloc;  // one allocator per thread
      for (int i = 0; i < 10; ++i) {
        if (client->get(kNamespace, "", "kube-system", alloc).has_value()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok.load() == 40);
}

TEST_CASE("client certificates authenticate too") {
  auto client = connect(env("WINDLASS_TEST_ADMIN_CERT_KUBECONFIG"));
  JsonAllocator alloc;
  auto ns = client->get(kNamespace, "", "kube-system", alloc);
  REQUIRE_MESSAGE(ns.has_value(), ns.error().message());
  CHECK(str((*ns)["metadata"]["name"]) == "kube-system");
}

TEST_CASE("a wrong token is Unauthenticated and never printed") {
  auto cfg = loadKubeconfig(env("KUBECONFIG"));
  REQUIRE(cfg.has_value());
  cfg->token = "wrong-token-value";
  auto client = KubeClient::create(std::move(*cfg));
  REQUIRE(client.has_value());
  JsonAllocator alloc;
  auto got = (*client)->get(kNamespace, "", "default", alloc);
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code() == Code::kUnauthenticated);
  CHECK(got.error().message() == "discovery /api: get unauthorized: Unauthorized");
  CHECK(got.error().message().find("wrong-token-value") == std::string::npos);
}

TEST_CASE("an unreachable API server is Unavailable after bounded retries") {
  auto cfg = loadKubeconfig(env("KUBECONFIG"));
  REQUIRE(cfg.has_value());
  cfg->server = "https://127.0.0.1:1";  // nothing listens on port 1
  ClientOptions opts;
  opts.retry.maxAttempts = 3;
  opts.retry.initialBackoff = std::chrono::milliseconds(50);
  auto client = KubeClient::create(std::move(*cfg), opts);
  REQUIRE(client.has_value());
  JsonAllocator alloc;
  auto got = (*client)->get(kConfigMap, "default", "x", alloc);
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code() == Code::kUnavailable);
  CHECK(got.error().message().rfind("discovery /api: get: cannot reach https://127.0.0.1:1: ", 0) ==
        0);
  CHECK(got.error().message().ends_with("(3 attempts)"));
}

}  // namespace
}  // namespace windlass::reconcile
