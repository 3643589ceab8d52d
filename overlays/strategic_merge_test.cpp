#include "overlays/strategic_merge.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "overlays/merge_schema.h"

namespace windlass::overlays {
namespace {

std::string toJson(const JsonValue& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return sb.GetString();
}

JsonValue parse(const char* text, JsonAllocator& alloc) {
  JsonDocument doc(&alloc);
  doc.Parse(text);
  REQUIRE_MESSAGE(!doc.HasParseError(), text);
  JsonValue v;
  v.CopyFrom(doc, alloc);
  return v;
}

struct MergeCase {
  const char* about;
  const char* target;
  const char* patch;
  const char* expected;  // what kubectl kustomize (v5.5.0) printed, as JSON
};

// Each triple comes from an experiment with `kubectl kustomize` (Kustomize v5.5.0):
// a kustomization with the target as its only resource and `patches: [{path: p}]`.
// The first ten are the conformance cases patch-smp-* and crd-custom-resource-*.
const MergeCase kCases[] = {
    {"containers merge by name; patch containers first",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders","labels":{"app":"orders"}},"spec":{
     "replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{
     "maxSurge":1,"maxUnavailable":0}},"selector":{"matchLabels":{
     "app":"orders"}},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"tolerations":[{"key":"dedicated",
     "operator":"Equal","value":"orders","effect":"NoSchedule"}],
     "containers":[{"name":"api","image":"example.com/orders:4.0",
     "args":["--port=8080","--verbose"],"ports":[{"containerPort":8080,
     "name":"http"},{"containerPort":9090,"name":"metrics"}],
     "env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"volumeMounts":[{"name":"cache","mountPath":"/cache"},
     {"name":"config","mountPath":"/etc/orders"}]},{"name":"proxy",
     "image":"example.com/proxy:1.2","ports":[{"containerPort":15001}]}],
     "volumes":[{"name":"cache","emptyDir":{}},{"name":"config",
     "configMap":{"name":"orders-config"}}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders"},"spec":{"template":{"spec":{"containers":[
     {"name":"proxy","image":"example.com/proxy:1.3","resources":{
     "limits":{"cpu":"200m"}}},{"name":"log-shipper","image":"example.com/shipper:0.4"}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "labels":{"app":"orders"},"name":"orders"},"spec":{
     "replicas":2,"selector":{"matchLabels":{"app":"orders"}},
     "strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0},
     "type":"RollingUpdate"},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"containers":[{"image":"example.com/proxy:1.3",
     "name":"proxy","ports":[{"containerPort":15001}],"resources":{
     "limits":{"cpu":"200m"}}},{"image":"example.com/shipper:0.4",
     "name":"log-shipper"},{"args":["--port=8080","--verbose"],
     "env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"image":"example.com/orders:4.0","name":"api",
     "ports":[{"containerPort":8080,"name":"http"},{"containerPort":9090,
     "name":"metrics"}],"volumeMounts":[{"mountPath":"/cache",
     "name":"cache"},{"mountPath":"/etc/orders","name":"config"}]}],
     "tolerations":[{"effect":"NoSchedule","key":"dedicated",
     "operator":"Equal","value":"orders"}],"volumes":[{
     "emptyDir":{},"name":"cache"},{"configMap":{"name":"orders-config"},
     "name":"config"}]}}}})"},
    {"$patch: replace element replaces merged lists (ports, env)",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders","labels":{"app":"orders"}},"spec":{
     "replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{
     "maxSurge":1,"maxUnavailable":0}},"selector":{"matchLabels":{
     "app":"orders"}},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"tolerations":[{"key":"dedicated",
     "operator":"Equal","value":"orders","effect":"NoSchedule"}],
     "containers":[{"name":"api","image":"example.com/orders:4.0",
     "args":["--port=8080","--verbose"],"ports":[{"containerPort":8080,
     "name":"http"},{"containerPort":9090,"name":"metrics"}],
     "env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"volumeMounts":[{"name":"cache","mountPath":"/cache"},
     {"name":"config","mountPath":"/etc/orders"}]},{"name":"proxy",
     "image":"example.com/proxy:1.2","ports":[{"containerPort":15001}]}],
     "volumes":[{"name":"cache","emptyDir":{}},{"name":"config",
     "configMap":{"name":"orders-config"}}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders"},"spec":{"template":{"spec":{"containers":[
     {"name":"api","ports":[{"$patch":"replace"},{"containerPort":7000,
     "name":"only"}],"env":[{"$patch":"replace"},{"name":"ONLY_VAR",
     "value":"1"}]}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "labels":{"app":"orders"},"name":"orders"},"spec":{
     "replicas":2,"selector":{"matchLabels":{"app":"orders"}},
     "strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0},
     "type":"RollingUpdate"},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"containers":[{"args":["--port=8080",
     "--verbose"],"env":[{"name":"ONLY_VAR","value":"1"}],
     "image":"example.com/orders:4.0","name":"api","ports":[
     {"containerPort":7000,"name":"only"}],"volumeMounts":[
     {"mountPath":"/cache","name":"cache"},{"mountPath":"/etc/orders",
     "name":"config"}]},{"image":"example.com/proxy:1.2",
     "name":"proxy","ports":[{"containerPort":15001}]}],
     "tolerations":[{"effect":"NoSchedule","key":"dedicated",
     "operator":"Equal","value":"orders"}],"volumes":[{
     "emptyDir":{},"name":"cache"},{"configMap":{"name":"orders-config"},
     "name":"config"}]}}}})"},
    {"null deletes a label, replicas and a whole list",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders","labels":{"app":"orders"}},"spec":{
     "replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{
     "maxSurge":1,"maxUnavailable":0}},"selector":{"matchLabels":{
     "app":"orders"}},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"tolerations":[{"key":"dedicated",
     "operator":"Equal","value":"orders","effect":"NoSchedule"}],
     "containers":[{"name":"api","image":"example.com/orders:4.0",
     "args":["--port=8080","--verbose"],"ports":[{"containerPort":8080,
     "name":"http"},{"containerPort":9090,"name":"metrics"}],
     "env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"volumeMounts":[{"name":"cache","mountPath":"/cache"},
     {"name":"config","mountPath":"/etc/orders"}]},{"name":"proxy",
     "image":"example.com/proxy:1.2","ports":[{"containerPort":15001}]}],
     "volumes":[{"name":"cache","emptyDir":{}},{"name":"config",
     "configMap":{"name":"orders-config"}}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders","labels":{"app":null,"owner":"orders-team"}},
     "spec":{"replicas":null,"template":{"spec":{"tolerations":null}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "labels":{"owner":"orders-team"},"name":"orders"},
     "spec":{"selector":{"matchLabels":{"app":"orders"}},
     "strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0},
     "type":"RollingUpdate"},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"containers":[{"args":["--port=8080",
     "--verbose"],"env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"image":"example.com/orders:4.0","name":"api",
     "ports":[{"containerPort":8080,"name":"http"},{"containerPort":9090,
     "name":"metrics"}],"volumeMounts":[{"mountPath":"/cache",
     "name":"cache"},{"mountPath":"/etc/orders","name":"config"}]},
     {"image":"example.com/proxy:1.2","name":"proxy","ports":[
     {"containerPort":15001}]}],"volumes":[{"emptyDir":{
     },"name":"cache"},{"configMap":{"name":"orders-config"},
     "name":"config"}]}}}})"},
    {"container ports merge by containerPort, patch entries first",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders","labels":{"app":"orders"}},"spec":{
     "replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{
     "maxSurge":1,"maxUnavailable":0}},"selector":{"matchLabels":{
     "app":"orders"}},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"tolerations":[{"key":"dedicated",
     "operator":"Equal","value":"orders","effect":"NoSchedule"}],
     "containers":[{"name":"api","image":"example.com/orders:4.0",
     "args":["--port=8080","--verbose"],"ports":[{"containerPort":8080,
     "name":"http"},{"containerPort":9090,"name":"metrics"}],
     "env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"volumeMounts":[{"name":"cache","mountPath":"/cache"},
     {"name":"config","mountPath":"/etc/orders"}]},{"name":"proxy",
     "image":"example.com/proxy:1.2","ports":[{"containerPort":15001}]}],
     "volumes":[{"name":"cache","emptyDir":{}},{"name":"config",
     "configMap":{"name":"orders-config"}}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders"},"spec":{"template":{"spec":{"containers":[
     {"name":"api","ports":[{"containerPort":9090,"name":"prom"},
     {"containerPort":8443,"name":"https"}]}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "labels":{"app":"orders"},"name":"orders"},"spec":{
     "replicas":2,"selector":{"matchLabels":{"app":"orders"}},
     "strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0},
     "type":"RollingUpdate"},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"containers":[{"args":["--port=8080",
     "--verbose"],"env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"image":"example.com/orders:4.0","name":"api",
     "ports":[{"containerPort":9090,"name":"prom"},{"containerPort":8443,
     "name":"https"},{"containerPort":8080,"name":"http"}],
     "volumeMounts":[{"mountPath":"/cache","name":"cache"},
     {"mountPath":"/etc/orders","name":"config"}]},{"image":"example.com/proxy:1.2",
     "name":"proxy","ports":[{"containerPort":15001}]}],
     "tolerations":[{"effect":"NoSchedule","key":"dedicated",
     "operator":"Equal","value":"orders"}],"volumes":[{
     "emptyDir":{},"name":"cache"},{"configMap":{"name":"orders-config"},
     "name":"config"}]}}}})"},
    {"$patch: replace on a map; atomic list keeps the directive verbatim",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders","labels":{"app":"orders"}},"spec":{
     "replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{
     "maxSurge":1,"maxUnavailable":0}},"selector":{"matchLabels":{
     "app":"orders"}},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"tolerations":[{"key":"dedicated",
     "operator":"Equal","value":"orders","effect":"NoSchedule"}],
     "containers":[{"name":"api","image":"example.com/orders:4.0",
     "args":["--port=8080","--verbose"],"ports":[{"containerPort":8080,
     "name":"http"},{"containerPort":9090,"name":"metrics"}],
     "env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"volumeMounts":[{"name":"cache","mountPath":"/cache"},
     {"name":"config","mountPath":"/etc/orders"}]},{"name":"proxy",
     "image":"example.com/proxy:1.2","ports":[{"containerPort":15001}]}],
     "volumes":[{"name":"cache","emptyDir":{}},{"name":"config",
     "configMap":{"name":"orders-config"}}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders"},"spec":{"strategy":{"$patch":"replace",
     "type":"Recreate"},"template":{"spec":{"tolerations":[
     {"$patch":"replace"},{"key":"spot","operator":"Exists"}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "labels":{"app":"orders"},"name":"orders"},"spec":{
     "replicas":2,"selector":{"matchLabels":{"app":"orders"}},
     "strategy":{"type":"Recreate"},"template":{"metadata":{
     "labels":{"app":"orders"}},"spec":{"containers":[{
     "args":["--port=8080","--verbose"],"env":[{"name":"DB_HOST",
     "value":"db.orders.svc"},{"name":"DB_POOL","value":"10"},
     {"name":"FEATURE_X","value":"off"}],"image":"example.com/orders:4.0",
     "name":"api","ports":[{"containerPort":8080,"name":"http"},
     {"containerPort":9090,"name":"metrics"}],"volumeMounts":[
     {"mountPath":"/cache","name":"cache"},{"mountPath":"/etc/orders",
     "name":"config"}]},{"image":"example.com/proxy:1.2",
     "name":"proxy","ports":[{"containerPort":15001}]}],
     "tolerations":[{"$patch":"replace"},{"key":"spot",
     "operator":"Exists"}],"volumes":[{"emptyDir":{},"name":"cache"},
     {"configMap":{"name":"orders-config"},"name":"config"}]}}}})"},
    {"$retainKeys is copied, not honoured",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders","labels":{"app":"orders"}},"spec":{
     "replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{
     "maxSurge":1,"maxUnavailable":0}},"selector":{"matchLabels":{
     "app":"orders"}},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"tolerations":[{"key":"dedicated",
     "operator":"Equal","value":"orders","effect":"NoSchedule"}],
     "containers":[{"name":"api","image":"example.com/orders:4.0",
     "args":["--port=8080","--verbose"],"ports":[{"containerPort":8080,
     "name":"http"},{"containerPort":9090,"name":"metrics"}],
     "env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"volumeMounts":[{"name":"cache","mountPath":"/cache"},
     {"name":"config","mountPath":"/etc/orders"}]},{"name":"proxy",
     "image":"example.com/proxy:1.2","ports":[{"containerPort":15001}]}],
     "volumes":[{"name":"cache","emptyDir":{}},{"name":"config",
     "configMap":{"name":"orders-config"}}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders"},"spec":{"strategy":{"$retainKeys":[
     "type"],"type":"Recreate"},"template":{"spec":{"volumes":[
     {"name":"cache","$retainKeys":["name","configMap"],
     "configMap":{"name":"cache-seed"}}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "labels":{"app":"orders"},"name":"orders"},"spec":{
     "replicas":2,"selector":{"matchLabels":{"app":"orders"}},
     "strategy":{"$retainKeys":["type"],"rollingUpdate":{
     "maxSurge":1,"maxUnavailable":0},"type":"Recreate"},
     "template":{"metadata":{"labels":{"app":"orders"}},
     "spec":{"containers":[{"args":["--port=8080","--verbose"],
     "env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"image":"example.com/orders:4.0","name":"api",
     "ports":[{"containerPort":8080,"name":"http"},{"containerPort":9090,
     "name":"metrics"}],"volumeMounts":[{"mountPath":"/cache",
     "name":"cache"},{"mountPath":"/etc/orders","name":"config"}]},
     {"image":"example.com/proxy:1.2","name":"proxy","ports":[
     {"containerPort":15001}]}],"tolerations":[{"effect":"NoSchedule",
     "key":"dedicated","operator":"Equal","value":"orders"}],
     "volumes":[{"$retainKeys":["name","configMap"],"configMap":{
     "name":"cache-seed"},"emptyDir":{},"name":"cache"},
     {"configMap":{"name":"orders-config"},"name":"config"}]}}}})"},
    {"$setElementOrder is copied, not honoured",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders","labels":{"app":"orders"}},"spec":{
     "replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{
     "maxSurge":1,"maxUnavailable":0}},"selector":{"matchLabels":{
     "app":"orders"}},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"tolerations":[{"key":"dedicated",
     "operator":"Equal","value":"orders","effect":"NoSchedule"}],
     "containers":[{"name":"api","image":"example.com/orders:4.0",
     "args":["--port=8080","--verbose"],"ports":[{"containerPort":8080,
     "name":"http"},{"containerPort":9090,"name":"metrics"}],
     "env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"volumeMounts":[{"name":"cache","mountPath":"/cache"},
     {"name":"config","mountPath":"/etc/orders"}]},{"name":"proxy",
     "image":"example.com/proxy:1.2","ports":[{"containerPort":15001}]}],
     "volumes":[{"name":"cache","emptyDir":{}},{"name":"config",
     "configMap":{"name":"orders-config"}}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders"},"spec":{"template":{"spec":{"$setElementOrder/containers":[
     {"name":"proxy"},{"name":"api"}],"containers":[{"name":"api",
     "imagePullPolicy":"Always"}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "labels":{"app":"orders"},"name":"orders"},"spec":{
     "replicas":2,"selector":{"matchLabels":{"app":"orders"}},
     "strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0},
     "type":"RollingUpdate"},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"$setElementOrder/containers":[
     {"name":"proxy"},{"name":"api"}],"containers":[{"args":[
     "--port=8080","--verbose"],"env":[{"name":"DB_HOST",
     "value":"db.orders.svc"},{"name":"DB_POOL","value":"10"},
     {"name":"FEATURE_X","value":"off"}],"image":"example.com/orders:4.0",
     "imagePullPolicy":"Always","name":"api","ports":[{
     "containerPort":8080,"name":"http"},{"containerPort":9090,
     "name":"metrics"}],"volumeMounts":[{"mountPath":"/cache",
     "name":"cache"},{"mountPath":"/etc/orders","name":"config"}]},
     {"image":"example.com/proxy:1.2","name":"proxy","ports":[
     {"containerPort":15001}]}],"tolerations":[{"effect":"NoSchedule",
     "key":"dedicated","operator":"Equal","value":"orders"}],
     "volumes":[{"emptyDir":{},"name":"cache"},{"configMap":{
     "name":"orders-config"},"name":"config"}]}}}})"},
    {"volumes by name, volumeMounts by mountPath",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders","labels":{"app":"orders"}},"spec":{
     "replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{
     "maxSurge":1,"maxUnavailable":0}},"selector":{"matchLabels":{
     "app":"orders"}},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"tolerations":[{"key":"dedicated",
     "operator":"Equal","value":"orders","effect":"NoSchedule"}],
     "containers":[{"name":"api","image":"example.com/orders:4.0",
     "args":["--port=8080","--verbose"],"ports":[{"containerPort":8080,
     "name":"http"},{"containerPort":9090,"name":"metrics"}],
     "env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"volumeMounts":[{"name":"cache","mountPath":"/cache"},
     {"name":"config","mountPath":"/etc/orders"}]},{"name":"proxy",
     "image":"example.com/proxy:1.2","ports":[{"containerPort":15001}]}],
     "volumes":[{"name":"cache","emptyDir":{}},{"name":"config",
     "configMap":{"name":"orders-config"}}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"orders"},"spec":{"template":{"spec":{"containers":[
     {"name":"api","volumeMounts":[{"name":"tmp","mountPath":"/tmp"},
     {"name":"config","mountPath":"/etc/orders","readOnly":true}]}],
     "volumes":[{"name":"cache","emptyDir":{"medium":"Memory",
     "sizeLimit":"256Mi"}},{"name":"tmp","emptyDir":{}}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "labels":{"app":"orders"},"name":"orders"},"spec":{
     "replicas":2,"selector":{"matchLabels":{"app":"orders"}},
     "strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0},
     "type":"RollingUpdate"},"template":{"metadata":{"labels":{
     "app":"orders"}},"spec":{"containers":[{"args":["--port=8080",
     "--verbose"],"env":[{"name":"DB_HOST","value":"db.orders.svc"},
     {"name":"DB_POOL","value":"10"},{"name":"FEATURE_X",
     "value":"off"}],"image":"example.com/orders:4.0","name":"api",
     "ports":[{"containerPort":8080,"name":"http"},{"containerPort":9090,
     "name":"metrics"}],"volumeMounts":[{"mountPath":"/tmp",
     "name":"tmp"},{"mountPath":"/etc/orders","name":"config",
     "readOnly":true},{"mountPath":"/cache","name":"cache"}]},
     {"image":"example.com/proxy:1.2","name":"proxy","ports":[
     {"containerPort":15001}]}],"tolerations":[{"effect":"NoSchedule",
     "key":"dedicated","operator":"Equal","value":"orders"}],
     "volumes":[{"emptyDir":{"medium":"Memory","sizeLimit":"256Mi"},
     "name":"cache"},{"emptyDir":{},"name":"tmp"},{"configMap":{
     "name":"orders-config"},"name":"config"}]}}}})"},
    {"Service ports by port",
     R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"orders"},
     "spec":{"selector":{"app":"orders"},"ports":[{"name":"http",
     "port":80,"targetPort":8080},{"name":"metrics","port":9090}]}})",
     R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"orders"},
     "spec":{"ports":[{"port":80,"targetPort":8081},{"name":"grpc",
     "port":50051}]}})",
     R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"orders"},
     "spec":{"ports":[{"name":"http","port":80,"targetPort":8081},
     {"name":"grpc","port":50051},{"name":"metrics","port":9090}],
     "selector":{"app":"orders"}}})"},
    {"unknown kind: lists replaced",
     R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute",
     "metadata":{"name":"store"},"spec":{"parentRefs":[
     {"name":"public-gateway","namespace":"infra"}],"hostnames":[
     "store.example.com"],"rules":[{"matches":[{"path":{
     "type":"PathPrefix","value":"/"}}],"backendRefs":[
     {"name":"store","port":80}]}]}})",
     R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute",
     "metadata":{"name":"store"},"spec":{"hostnames":["store.example.com",
     "www.store.example.com"]}})",
     R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute",
     "metadata":{"name":"store"},"spec":{"hostnames":["store.example.com",
     "www.store.example.com"],"parentRefs":[{"name":"public-gateway",
     "namespace":"infra"}],"rules":[{"backendRefs":[{"name":"store",
     "port":80}],"matches":[{"path":{"type":"PathPrefix",
     "value":"/"}}]}]}})"},
    {"unknown kind: finalizers and named lists replaced; nested apiVersion/kind looked up",
     R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{
     "name":"w","finalizers":["a","b"]},"spec":{"items":[
     {"name":"x","v":1},{"name":"y","v":2}],"tpl":{"apiVersion":"apps/v1",
     "kind":"Deployment","spec":{"template":{"spec":{"containers":[
     {"name":"c1","image":"i1"}]}}}}}})",
     R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{
     "name":"w","finalizers":["c","a"]},"spec":{"items":[
     {"name":"y","v":3}],"tpl":{"spec":{"template":{"spec":{
     "containers":[{"name":"c2","image":"i2"}]}}}}}})",
     R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{
     "finalizers":["c","a"],"name":"w"},"spec":{"items":[
     {"name":"y","v":3}],"tpl":{"apiVersion":"apps/v1",
     "kind":"Deployment","spec":{"template":{"spec":{"containers":[
     {"image":"i2","name":"c2"},{"image":"i1","name":"c1"}]}}}}}})"},
    {"finalizers merged as a set, ownerReferences by uid",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"w","finalizers":["a","b","d"],"ownerReferences":[
     {"uid":"u1","name":"o1"},{"uid":"u2","name":"o2"}]},
     "spec":{"template":{"spec":{"containers":[{"name":"c1",
     "image":"i1"}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"w","finalizers":["c","a"],"ownerReferences":[
     {"uid":"u2","name":"o2b"}]},"spec":{"template":{"spec":{
     "containers":[{"name":"c2","image":"i2"}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "finalizers":["c","a","b","d"],"name":"w","ownerReferences":[
     {"name":"o2b","uid":"u2"},{"name":"o1","uid":"u1"}]},
     "spec":{"template":{"spec":{"containers":[{"image":"i2",
     "name":"c2"},{"image":"i1","name":"c1"}]}}}})"},
    {"extensions/v1beta1 Deployment has no schema: containers replaced",
     R"({"apiVersion":"extensions/v1beta1","kind":"Deployment",
     "metadata":{"name":"w","finalizers":["a","b","d"],
     "ownerReferences":[{"uid":"u1","name":"o1"},{"uid":"u2",
     "name":"o2"}]},"spec":{"template":{"spec":{"containers":[
     {"name":"c1","image":"i1"}]}}}})",
     R"({"apiVersion":"extensions/v1beta1","kind":"Deployment",
     "metadata":{"name":"w","finalizers":["c","a"],"ownerReferences":[
     {"uid":"u2","name":"o2b"}]},"spec":{"template":{"spec":{
     "containers":[{"name":"c2","image":"i2"}]}}}})",
     R"({"apiVersion":"extensions/v1beta1","kind":"Deployment",
     "metadata":{"finalizers":["c","a"],"name":"w","ownerReferences":[
     {"name":"o2b","uid":"u2"}]},"spec":{"template":{"spec":{
     "containers":[{"image":"i2","name":"c2"}]}}}})"},
    {"autoscaling/v2 HPA has no schema: finalizers replaced",
     R"({"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler",
     "metadata":{"name":"h","finalizers":["a"]},"spec":{
     "metrics":[{"type":"Resource","resource":{"name":"cpu"}}]}})",
     R"({"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler",
     "metadata":{"name":"h","finalizers":["b"]},"spec":{
     "metrics":[{"type":"Resource","resource":{"name":"memory"}}]}})",
     R"({"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler",
     "metadata":{"finalizers":["b"],"name":"h"},"spec":{
     "metrics":[{"resource":{"name":"memory"},"type":"Resource"}]}})"},
    {"CronJob jobTemplate containers and env merge",
     R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{
     "name":"cj"},"spec":{"schedule":"x","jobTemplate":{
     "spec":{"template":{"spec":{"containers":[{"name":"a",
     "image":"ia","env":[{"name":"A","value":"a"}]}]}}}}}})",
     R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{
     "name":"cj"},"spec":{"jobTemplate":{"spec":{"template":{
     "spec":{"containers":[{"name":"b","image":"ib"},{"name":"a",
     "env":[{"name":"B","value":"b"}]}]}}}}}})",
     R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{
     "name":"cj"},"spec":{"jobTemplate":{"spec":{"template":{
     "spec":{"containers":[{"image":"ib","name":"b"},{"env":[
     {"name":"B","value":"b"},{"name":"A","value":"a"}],
     "image":"ia","name":"a"}]}}}},"schedule":"x"}})"},
    {"topologySpreadConstraints by topologyKey+whenUnsatisfiable",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"d"},"spec":{"template":{"spec":{"topologySpreadConstraints":[
     {"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule",
     "maxSkew":1},{"topologyKey":"host","whenUnsatisfiable":"ScheduleAnyway",
     "maxSkew":1}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"d"},"spec":{"template":{"spec":{"topologySpreadConstraints":[
     {"topologyKey":"host","whenUnsatisfiable":"ScheduleAnyway",
     "maxSkew":3},{"topologyKey":"rack","whenUnsatisfiable":"DoNotSchedule",
     "maxSkew":2}]}}}})",
     R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
     "name":"d"},"spec":{"template":{"spec":{"topologySpreadConstraints":[
     {"maxSkew":2,"topologyKey":"rack","whenUnsatisfiable":"DoNotSchedule"},
     {"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule"},
     {"maxSkew":3,"topologyKey":"host","whenUnsatisfiable":"ScheduleAnyway"}]}}}})"},
    {"ServiceAccount: secrets merge, imagePullSecrets replaced",
     R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{
     "name":"sa"},"imagePullSecrets":[{"name":"a"}],"secrets":[
     {"name":"s1"}]})",
     R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{
     "name":"sa"},"imagePullSecrets":[{"name":"b"}],"secrets":[
     {"name":"s2"}]})",
     R"({"apiVersion":"v1","imagePullSecrets":[{"name":"b"}],
     "kind":"ServiceAccount","metadata":{"name":"sa"},"secrets":[
     {"name":"s2"},{"name":"s1"}]})"},
    {"PodSpec imagePullSecrets and hostAliases merge; tolerations and args replaced",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"imagePullSecrets":[{"name":"a"}],"hostAliases":[
     {"ip":"1.1.1.1","hostnames":["a"]}],"tolerations":[
     {"key":"k"}],"containers":[{"name":"a","args":["x"]}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"imagePullSecrets":[{"name":"b"}],"hostAliases":[
     {"ip":"1.1.1.1","hostnames":["b"]}],"tolerations":[
     {"key":"k2"}],"containers":[{"name":"a","args":["y"]}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"args":["y"],"name":"a"}],"hostAliases":[
     {"hostnames":["b"],"ip":"1.1.1.1"}],"imagePullSecrets":[
     {"name":"b"},{"name":"a"}],"tolerations":[{"key":"k2"}]}})"},
    {"Ingress rules replaced",
     R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
     "metadata":{"name":"i"},"spec":{"rules":[{"host":"a"},
     {"host":"b"}],"tls":[{"hosts":["a"]}]}})",
     R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
     "metadata":{"name":"i"},"spec":{"rules":[{"host":"c"}]}})",
     R"({"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
     "metadata":{"name":"i"},"spec":{"rules":[{"host":"c"}],
     "tls":[{"hosts":["a"]}]}})"},
    {"ports with protocol: match on both keys, target order kept",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","image":"ia","env":[
     {"name":"E1","value":"1"},{"name":"E2","value":"2"}],
     "ports":[{"containerPort":80,"protocol":"TCP","name":"tcp"},
     {"containerPort":80,"protocol":"UDP","name":"udp"},
     {"containerPort":90}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","ports":[{"containerPort":80,
     "protocol":"UDP","name":"changed-udp"}]}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"env":[{"name":"E1","value":"1"},
     {"name":"E2","value":"2"}],"image":"ia","name":"a",
     "ports":[{"containerPort":80,"name":"tcp","protocol":"TCP"},
     {"containerPort":80,"name":"changed-udp","protocol":"UDP"},
     {"containerPort":90}]},{"image":"ib","name":"b"}]}})"},
    {"ports: patch entries without protocol are lost when the target sets it",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","image":"ia","env":[
     {"name":"E1","value":"1"},{"name":"E2","value":"2"}],
     "ports":[{"containerPort":80,"protocol":"TCP","name":"tcp"},
     {"containerPort":80,"protocol":"UDP","name":"udp"},
     {"containerPort":90}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","ports":[{"containerPort":80,
     "name":"changed"},{"containerPort":90,"protocol":"UDP",
     "name":"ninety-udp"}]}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"env":[{"name":"E1","value":"1"},
     {"name":"E2","value":"2"}],"image":"ia","name":"a",
     "ports":[{"containerPort":80,"name":"tcp","protocol":"TCP"},
     {"containerPort":80,"name":"udp","protocol":"UDP"},
     {"containerPort":90}]},{"image":"ib","name":"b"}]}})"},
    {"Service ports: patch without protocol ignored for a port with protocol",
     R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},
     "spec":{"ports":[{"name":"http","port":80,"protocol":"TCP",
     "targetPort":8080},{"name":"m","port":9090,"protocol":"TCP"}]}})",
     R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},
     "spec":{"ports":[{"port":80,"targetPort":8081},{"port":443,
     "name":"https"}]}})",
     R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},
     "spec":{"ports":[{"name":"https","port":443},{"name":"http",
     "port":80,"protocol":"TCP","targetPort":8080},{"name":"m",
     "port":9090,"protocol":"TCP"}]}})"},
    {"Service ports with protocol on both sides: new port first, matched keep order",
     R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},
     "spec":{"ports":[{"name":"http","port":80,"protocol":"TCP",
     "targetPort":8080},{"name":"m","port":9090,"protocol":"TCP"}]}})",
     R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},
     "spec":{"ports":[{"port":80,"protocol":"TCP","targetPort":8081},
     {"port":443,"protocol":"TCP","name":"https"}]}})",
     R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},
     "spec":{"ports":[{"name":"https","port":443,"protocol":"TCP"},
     {"name":"http","port":80,"protocol":"TCP","targetPort":8081},
     {"name":"m","port":9090,"protocol":"TCP"}]}})"},
    {"finalizers keep string type; patch values first",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "finalizers":["123","true","x"]},"spec":{"containers":[
     {"name":"a","image":"ia","env":[{"name":"E1","value":"1"},
     {"name":"E2","value":"2"}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "finalizers":["456","y"]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"finalizers":[
     "456","y","123","true","x"],"name":"p"},"spec":{"containers":[
     {"env":[{"name":"E1","value":"1"},{"name":"E2","value":"2"}],
     "image":"ia","name":"a"},{"image":"ib","name":"b"}]}})"},
    {"$patch: replace in a list the target lacks is kept; element dropped",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "finalizers":["123","true","x"]},"spec":{"containers":[
     {"name":"a","image":"ia","env":[{"name":"E1","value":"1"},
     {"name":"E2","value":"2"}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","ports":[{"$patch":"replace"},
     {"containerPort":1}]}],"initContainers":[{"$patch":"replace"},
     {"name":"init","image":"x"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"finalizers":[
     "123","true","x"],"name":"p"},"spec":{"containers":[
     {"env":[{"name":"E1","value":"1"},{"name":"E2","value":"2"}],
     "image":"ia","name":"a","ports":[{"$patch":"replace"},
     {"containerPort":1}]},{"image":"ib","name":"b"}],"initContainers":[
     {"$patch":"replace"}]}})"},
    {"$patch: delete element removes the whole list",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "finalizers":["123","true","x"]},"spec":{"containers":[
     {"name":"a","image":"ia","env":[{"name":"E1","value":"1"},
     {"name":"E2","value":"2"}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","env":[{"$patch":"delete"}]}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"finalizers":[
     "123","true","x"],"name":"p"},"spec":{"containers":[
     {"image":"ia","name":"a"},{"image":"ib","name":"b"}]}})"},
    {"deleting every element leaves an empty list",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","image":"ia","env":[
     {"name":"E1","value":"1"},{"name":"E2","value":"2"}],
     "ports":[{"containerPort":80,"protocol":"TCP","name":"tcp"},
     {"containerPort":80,"protocol":"UDP","name":"udp"},
     {"containerPort":90}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","env":[{"name":"E1",
     "$patch":"delete"},{"name":"E2","$patch":"delete"}]}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"env":[],"image":"ia","name":"a",
     "ports":[{"containerPort":80,"name":"tcp","protocol":"TCP"},
     {"containerPort":80,"name":"udp","protocol":"UDP"},
     {"containerPort":90}]},{"image":"ib","name":"b"}]}})"},
    {"$patch: delete on a map removes it",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "finalizers":["123","true","x"]},"spec":{"containers":[
     {"name":"a","image":"ia","env":[{"name":"E1","value":"1"},
     {"name":"E2","value":"2"}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"$patch":"delete"}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"finalizers":[
     "123","true","x"],"name":"p"}})"},
    {"$patch: merge is removed and the map merges",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "finalizers":["123","true","x"]},"spec":{"containers":[
     {"name":"a","image":"ia","env":[{"name":"E1","value":"1"},
     {"name":"E2","value":"2"}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "$patch":"merge","labels":{"a":"b"}}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"finalizers":[
     "123","true","x"],"labels":{"a":"b"},"name":"p"},"spec":{
     "containers":[{"env":[{"name":"E1","value":"1"},{"name":"E2",
     "value":"2"}],"image":"ia","name":"a"},{"image":"ib",
     "name":"b"}]}})"},
    {"$patch: replace inside an element replaces the element",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "finalizers":["123","true","x"]},"spec":{"containers":[
     {"name":"a","image":"ia","env":[{"name":"E1","value":"1"},
     {"name":"E2","value":"2"}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","$patch":"replace",
     "image":"new"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"finalizers":[
     "123","true","x"],"name":"p"},"spec":{"containers":[
     {"env":[{"name":"E1","value":"1"},{"name":"E2","value":"2"}],
     "image":"ia","name":"a"},{"image":"ib","name":"b"}]}})"},
    {"a patch element without its merge key empties the list",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "finalizers":["123","true","x"]},"spec":{"containers":[
     {"name":"a","image":"ia","env":[{"name":"E1","value":"1"},
     {"name":"E2","value":"2"}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"image":"nokey"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"finalizers":[
     "123","true","x"],"name":"p"},"spec":{"containers":[
     ]}})"},
    {"a target element without its merge key drops the elements before it",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","image":"ia"},{"image":"nameless"},
     {"name":"c","image":"ic"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"z","image":"iz"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"image":"nameless"}]}})"},
    {"duplicate keys in the target collapse to the last one on any patch",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","env":[{"name":"A",
     "value":"1"},{"name":"B","value":"2"},{"name":"A",
     "value":"3"}]},{"name":"b","image":"ib"},{"name":"b",
     "image":"ib2"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "labels":{"x":"y"}}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"labels":{
     "x":"y"},"name":"p"},"spec":{"containers":[{"env":[
     {"name":"A","value":"3"},{"name":"B","value":"2"}],
     "name":"a"},{"image":"ib2","name":"b"}]}})"},
    {"null and {} elements of the patch are dropped",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "finalizers":["123","true","x"]},"spec":{"containers":[
     {"name":"a","image":"ia","env":[{"name":"E1","value":"1"},
     {"name":"E2","value":"2"}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[null,{},{"name":"c","image":"ic"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"finalizers":[
     "123","true","x"],"name":"p"},"spec":{"containers":[
     {"image":"ic","name":"c"}]}})"},
    {"an empty list in the patch leaves a merged list alone and replaces nothing else",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "finalizers":["123","true","x"]},"spec":{"containers":[
     {"name":"a","image":"ia","env":[{"name":"E1","value":"1"},
     {"name":"E2","value":"2"}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","env":[]}],"volumes":[
     ]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"finalizers":[
     "123","true","x"],"name":"p"},"spec":{"containers":[
     {"env":[{"name":"E1","value":"1"},{"name":"E2","value":"2"}],
     "image":"ia","name":"a"},{"image":"ib","name":"b"}],
     "volumes":[]}})"},
    {"nulls vanish from new fields; deleting a missing field is a no-op",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","image":"ia","env":[
     {"name":"E1","value":"1"},{"name":"E2","value":"2"}],
     "ports":[{"containerPort":80,"protocol":"TCP","name":"tcp"},
     {"containerPort":80,"protocol":"UDP","name":"udp"},
     {"containerPort":90}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "annotations":{"x":null,"y":"1"}},"spec":{"containers":[
     {"name":"c","image":null,"resources":{"limits":null,
     "requests":{"cpu":null,"memory":"1Gi"}}}],"newmap":{
     "a":null,"b":{"c":null}}}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{
     "y":"1"},"name":"p"},"spec":{"containers":[{"name":"c",
     "resources":{"requests":{"memory":"1Gi"}}},{"env":[
     {"name":"E1","value":"1"},{"name":"E2","value":"2"}],
     "image":"ia","name":"a","ports":[{"containerPort":80,
     "name":"tcp","protocol":"TCP"},{"containerPort":80,
     "name":"udp","protocol":"UDP"},{"containerPort":90}]},
     {"image":"ib","name":"b"}],"newmap":{"b":{}}}})"},
    {"$deleteFromPrimitiveList is copied, not honoured",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "spec":{"containers":[{"name":"a","image":"ia","env":[
     {"name":"E1","value":"1"},{"name":"E2","value":"2"}],
     "ports":[{"containerPort":80,"protocol":"TCP","name":"tcp"},
     {"containerPort":80,"protocol":"UDP","name":"udp"},
     {"containerPort":90}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "$deleteFromPrimitiveList/finalizers":["x"]},"spec":{
     "containers":[{"name":"a","$deleteFromPrimitiveList/args":[
     "x"]}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"$deleteFromPrimitiveList/finalizers":[
     "x"],"name":"p"},"spec":{"containers":[{"$deleteFromPrimitiveList/args":[
     "x"],"env":[{"name":"E1","value":"1"},{"name":"E2",
     "value":"2"}],"image":"ia","name":"a","ports":[{"containerPort":80,
     "name":"tcp","protocol":"TCP"},{"containerPort":80,
     "name":"udp","protocol":"UDP"},{"containerPort":90}]},
     {"image":"ib","name":"b"}]}})"},
    {"$patch: replace at the top leaves the target unchanged",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
     "finalizers":["123","true","x"]},"spec":{"containers":[
     {"name":"a","image":"ia","env":[{"name":"E1","value":"1"},
     {"name":"E2","value":"2"}]},{"name":"b","image":"ib"}]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
     "$patch":"replace","spec":{"containers":[]}})",
     R"({"apiVersion":"v1","kind":"Pod","metadata":{"finalizers":[
     "123","true","x"],"name":"p"},"spec":{"containers":[
     {"env":[{"name":"E1","value":"1"},{"name":"E2","value":"2"}],
     "image":"ia","name":"a"},{"image":"ib","name":"b"}]}})"},
};

TEST_CASE("strategicMerge gives what kubectl kustomize v5.5.0 gives") {
  for (const MergeCase& c : kCases) {
    CAPTURE(c.about);
    JsonAllocator alloc;
    JsonValue target = parse(c.target, alloc);
    JsonValue patch = parse(c.patch, alloc);
    JsonValue expected = parse(c.expected, alloc);
    Result<MergeOutcome> r = strategicMerge(target, patch, MergeSchema::kubernetes(), alloc);
    REQUIRE_MESSAGE(r.has_value(), r.error().message());
    CHECK(*r == MergeOutcome::kMerged);
    // Object members compare in any order, list elements in order.
    CHECK_MESSAGE(target == expected, toJson(target));
  }
}

TEST_CASE("patches apply in order, later ones seeing earlier results") {
  // Conformance case patch-smp-ordered-application, reduced to the env list.
  JsonAllocator alloc;
  JsonValue target = parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
      "name":"orders"},"spec":{"template":{"spec":{"containers":[{"name":"api","env":[
      {"name":"DB_HOST","value":"db"},{"name":"DB_POOL","value":"10"}]}]}}}})",
                           alloc);
  const char* patches[] = {
      R"({"spec":{"template":{"spec":{"containers":[{"name":"api","env":[
          {"name":"STAGE","value":"one"}]}]}}}})",
      R"({"spec":{"template":{"spec":{"containers":[{"name":"api","env":[
          {"name":"STAGE","value":"two"},{"name":"ONLY_IN_TWO","value":"2"}]}]}}}})",
      R"({"spec":{"template":{"spec":{"containers":[{"name":"api","env":[
          {"name":"ONLY_IN_TWO","$patch":"delete"}]}]}}}})",
  };
  for (const char* p : patches) {
    Result<MergeOutcome> r =
        strategicMerge(target, parse(p, alloc), MergeSchema::kubernetes(), alloc);
    REQUIRE(r.has_value());
  }
  JsonValue expected = parse(R"([{"name":"STAGE","value":"two"},{"name":"DB_HOST","value":"db"},
      {"name":"DB_POOL","value":"10"}])",
                             alloc);
  CHECK(target["spec"]["template"]["spec"]["containers"][0]["env"] == expected);
}

TEST_CASE("$patch: delete at the top deletes the resource and leaves the target alone") {
  JsonAllocator alloc;
  JsonValue target = parse(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"orders-config"},"data":{"a":"b"}})",
                           alloc);
  const std::string before = toJson(target);
  JsonValue patch = parse(R"({"$patch":"delete","apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"orders-config"}})",
                          alloc);
  Result<MergeOutcome> r = strategicMerge(target, patch, MergeSchema::kubernetes(), alloc);
  REQUIRE(r.has_value());
  CHECK(*r == MergeOutcome::kDeleted);
  CHECK(toJson(target) == before);
}

TEST_CASE("errors name the field path and leave the target unchanged") {
  struct ErrorCase {
    const char* patch;
    const char* message;
  };
  const ErrorCase cases[] = {
      {R"({"metadata":{"$patch":"foo"}})", "metadata: unknown patch strategy 'foo'"},
      {R"({"spec":{"containers":[{"name":"a","image":{"x":1}}]}})",
       "spec.containers[name=a].image: cannot merge a map into a scalar"},
      {R"({"spec":{"containers":{"name":"a"}}})",
       "spec.containers: cannot merge a map into a list"},
      {R"({"spec":{"containers":[{"name":"a","env":[{"$patch":"bogus"}]}]}})",
       "spec.containers[name=a].env: unknown patch strategy 'bogus'"},
  };
  for (const ErrorCase& c : cases) {
    CAPTURE(c.patch);
    JsonAllocator alloc;
    JsonValue target = parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
        "spec":{"containers":[{"name":"a","image":"i","env":[{"name":"E","value":"1"}]}]}})",
                             alloc);
    const std::string before = toJson(target);
    Result<MergeOutcome> r =
        strategicMerge(target, parse(c.patch, alloc), MergeSchema::kubernetes(), alloc);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == Code::kInvalidArgument);
    CHECK(r.error().message() == c.message);
    CHECK(toJson(target) == before);
  }
}

TEST_CASE("a null written with no value goes from every map the merge walks") {
  // kubectl kustomize v5.5.0 on this Deployment as YAML, where `labels:`,
  // `resources:`, `capabilities:`, `emptyDir:`, tolerations' `value:` and
  // `sel.matchLabels:` have no value and `keep: ~` is written out, with the patch
  // `spec: {replicas: 2}`. Tolerations are not merged, so theirs stays.
  const char* target = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
      "name":"d","labels":null},"spec":{"sel":{"matchLabels":null},"keep":null,
      "template":{"spec":{"containers":[{"name":"c","image":"x","resources":null,
      "securityContext":{"runAsUser":1,"capabilities":null}},{"name":"other","resources":null}],
      "volumes":[{"name":"v","emptyDir":null}],"tolerations":[{"key":"k","value":null}]}}}})";
  const std::vector<std::vector<std::string>> empty = {
      {"metadata", "labels"},
      {"spec", "sel", "matchLabels"},
      {"spec", "template", "spec", "containers", "0", "resources"},
      {"spec", "template", "spec", "containers", "0", "securityContext", "capabilities"},
      {"spec", "template", "spec", "containers", "1", "resources"},
      {"spec", "template", "spec", "volumes", "0", "emptyDir"},
      {"spec", "template", "spec", "tolerations", "0", "value"},
      {"spec", "no", "such", "field"},
      {"metadata", "name"},
  };
  JsonAllocator alloc;
  const JsonValue patch = parse(R"({"spec":{"replicas":2}})", alloc);

  JsonValue merged = parse(target, alloc);
  std::vector<std::vector<std::string>> nulls = empty;
  Result<MergeOutcome> r = strategicMerge(merged, patch, MergeSchema::kubernetes(), alloc, &nulls);
  REQUIRE(r.has_value());
  CHECK(*r == MergeOutcome::kMerged);
  CHECK_MESSAGE(merged == parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{
      "name":"d"},"spec":{"replicas":2,"sel":{},"keep":null,"template":{"spec":{
      "containers":[{"name":"c","image":"x","securityContext":{"runAsUser":1}},
      {"name":"other"}],"volumes":[{"name":"v"}],"tolerations":[{"key":"k","value":null}]}}}})",
                                alloc),
                toJson(merged));
  CHECK(nulls == std::vector<std::vector<std::string>>{
                     {"spec", "template", "spec", "tolerations", "0", "value"}});

  // A second patch still sees what the first left.
  JsonValue again = parse(R"({"spec":{"template":{"spec":{"tolerations":[{"key":"k"}]}}}})", alloc);
  REQUIRE(strategicMerge(merged, again, MergeSchema::kubernetes(), alloc, &nulls).has_value());
  CHECK(nulls.empty());

  // Without the paths every null counts as written out, and all stay.
  JsonValue plain = parse(target, alloc);
  REQUIRE(strategicMerge(plain, patch, MergeSchema::kubernetes(), alloc).has_value());
  CHECK(plain["metadata"].HasMember("labels"));
  CHECK(plain["spec"]["template"]["spec"]["volumes"][0].HasMember("emptyDir"));

  // Deleted: target and paths unchanged.
  JsonValue deleted = parse(target, alloc);
  nulls = empty;
  r = strategicMerge(deleted, parse(R"({"$patch":"delete"})", alloc), MergeSchema::kubernetes(),
                     alloc, &nulls);
  REQUIRE(r.has_value());
  CHECK(*r == MergeOutcome::kDeleted);
  CHECK(nulls == empty);
}

TEST_CASE("target and patch must be maps") {
  JsonAllocator alloc;
  JsonValue list(rapidjson::kArrayType);
  JsonValue map(rapidjson::kObjectType);
  Result<MergeOutcome> r = strategicMerge(list, map, MergeSchema::kubernetes(), alloc);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message() == "strategic merge: target is not a map");
  r = strategicMerge(map, list, MergeSchema::kubernetes(), alloc);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message() == "strategic merge: patch is not a map");
}

TEST_CASE("the built-in schema knows kinds by exact apiVersion") {
  const MergeSchema& s = MergeSchema::kubernetes();
  SchemaTypeId deployment = s.typeForResource("apps/v1", "Deployment");
  REQUIRE(deployment != kNoType);
  CHECK(s.typeForResource("extensions/v1beta1", "Deployment") == kNoType);
  CHECK(s.typeForResource("autoscaling/v2", "HorizontalPodAutoscaler") == kNoType);
  CHECK(s.typeForResource("example.com/v1", "Widget") == kNoType);

  const SchemaField* spec = s.field(deployment, "spec");
  REQUIRE(spec != nullptr);
  CHECK_FALSE(spec->mergeList);
  const SchemaField* tmpl = s.field(spec->type, "template");
  REQUIRE(tmpl != nullptr);
  const SchemaField* podSpec = s.field(tmpl->type, "spec");
  REQUIRE(podSpec != nullptr);
  const SchemaField* containers = s.field(podSpec->type, "containers");
  REQUIRE(containers != nullptr);
  CHECK(containers->mergeList);
  CHECK(containers->keys == std::vector<std::string>{"name"});
  const SchemaField* ports = s.field(containers->type, "ports");
  REQUIRE(ports != nullptr);
  CHECK(ports->keys == std::vector<std::string>{"containerPort", "protocol"});
  CHECK(s.field(podSpec->type, "tolerations") == nullptr);
  CHECK(s.field(kNoType, "spec") == nullptr);

  const SchemaField* meta = s.field(s.typeForResource("v1", "ConfigMap"), "metadata");
  REQUIRE(meta != nullptr);
  const SchemaField* finalizers = s.field(meta->type, "finalizers");
  REQUIRE(finalizers != nullptr);
  CHECK(finalizers->mergeList);
  CHECK(finalizers->keys.empty());
}

TEST_CASE("a schema extended with a custom kind merges its lists by key") {
  MergeSchema schema = MergeSchema::kubernetes();
  schema.addObjectField("WidgetRoot", "spec", "WidgetSpec");
  schema.addMergeListField("WidgetSpec", "items", "", {"name"});
  schema.addResourceType("example.com/v1", "Widget", "WidgetRoot");
  CHECK(MergeSchema::kubernetes().typeForResource("example.com/v1", "Widget") == kNoType);

  JsonAllocator alloc;
  const char* target = R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},
      "spec":{"items":[{"name":"x","v":1},{"name":"y","v":2}],"tags":["a"]}})";
  const char* patch = R"({"spec":{"items":[{"name":"y","v":3}],"tags":["b"]}})";

  JsonValue merged = parse(target, alloc);
  REQUIRE(strategicMerge(merged, parse(patch, alloc), schema, alloc).has_value());
  CHECK(merged["spec"] == parse(R"({"items":[{"name":"y","v":3},{"name":"x","v":1}],
      "tags":["b"]})",
                                alloc));

  JsonValue replaced = parse(target, alloc);
  REQUIRE(
      strategicMerge(replaced, parse(patch, alloc), MergeSchema::kubernetes(), alloc).has_value());
  CHECK(replaced["spec"] == parse(R"({"items":[{"name":"y","v":3}],"tags":["b"]})", alloc));
}

}  // namespace
}  // namespace windlass::overlays
