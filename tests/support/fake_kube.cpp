#include "tests/support/fake_kube.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

#include "core/json.h"

namespace windlass::reconcile {

namespace {

constexpr char kCreationTimestamp[] = "2026-01-01T00:00:00Z";

std::string toJson(const JsonValue& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

const JsonValue* member(const JsonValue& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string memberString(const JsonValue& obj, const char* key) {
  const JsonValue* v = member(obj, key);
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

// Sets obj[key] to a copy of `value` (obj must be an object).
void put(JsonValue& obj, const std::string& key, const JsonValue& value, JsonAllocator& alloc) {
  JsonValue copy(value, alloc);
  auto it = obj.FindMember(key.c_str());
  if (it != obj.MemberEnd()) {
    it->value.Swap(copy);
  } else {
    obj.AddMember(JsonValue(key.c_str(), static_cast<rapidjson::SizeType>(key.size()), alloc), copy,
                  alloc);
  }
}

JsonValue& objectMember(JsonValue& obj, const char* key, JsonAllocator& alloc) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsObject()) {
    put(obj, key, JsonValue(rapidjson::kObjectType), alloc);
    it = obj.FindMember(key);
  }
  return it->value;
}

// Every member of `from` over `into`; both objects.
void mergeMembers(JsonValue& into, const JsonValue& from, JsonAllocator& alloc) {
  for (const auto& m : from.GetObject()) {
    put(into, std::string(m.name.GetString(), m.name.GetStringLength()), m.value, alloc);
  }
}

// `applied` over `existing` (see the header): the simplified server-side apply.
void mergeApplied(JsonValue& existing, const JsonValue& applied, JsonAllocator& alloc) {
  for (const auto& m : applied.GetObject()) {
    std::string name(m.name.GetString(), m.name.GetStringLength());
    if (name == "status") continue;  // the status subresource is not applied
    const JsonValue* mine = member(existing, name.c_str());
    bool merge = name == "spec" || name == "data" || name == "stringData";
    if (merge && mine != nullptr && mine->IsObject() && m.value.IsObject()) {
      mergeMembers(objectMember(existing, name.c_str(), alloc), m.value, alloc);
    } else if (name == "metadata" && m.value.IsObject()) {
      JsonValue& md = objectMember(existing, "metadata", alloc);
      for (const auto& f : m.value.GetObject()) {
        std::string field(f.name.GetString(), f.name.GetStringLength());
        const JsonValue* old = member(md, field.c_str());
        if ((field == "labels" || field == "annotations") && old != nullptr && old->IsObject() &&
            f.value.IsObject()) {
          mergeMembers(objectMember(md, field.c_str(), alloc), f.value, alloc);
        } else {
          put(md, field, f.value, alloc);
        }
      }
    } else {
      put(existing, name, m.value, alloc);
    }
  }
}

// A copy without what the server owns, to tell whether an apply changed anything.
JsonValue userFields(const JsonValue& obj, JsonAllocator& alloc) {
  JsonValue copy(obj, alloc);
  auto md = copy.FindMember("metadata");
  if (md != copy.MemberEnd() && md->value.IsObject()) {
    for (const char* f :
         {"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"}) {
      md->value.RemoveMember(f);
    }
  }
  return copy;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t next = s.find(sep, pos);
    if (next == std::string_view::npos) next = s.size();
    out.emplace_back(s.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// One selector term against `labels` (may be null): k=v, k==v, k!=v, k in (a,b),
// k notin (a,b), k, !k.
bool matchesTerm(const JsonValue* labels, const std::string& term) {
  auto value = [&](const std::string& key, std::string* out) {
    const JsonValue* v = labels != nullptr ? member(*labels, key.c_str()) : nullptr;
    if (v == nullptr || !v->IsString()) return false;
    *out = v->GetString();
    return true;
  };
  std::string have;
  for (const char* op : {" notin ", " in "}) {
    size_t at = term.find(op);
    if (at == std::string::npos) continue;
    std::string key = trim(term.substr(0, at));
    std::string set = trim(term.substr(at + std::string(op).size()));
    std::set<std::string> values;
    if (set.size() >= 2) {
      for (const std::string& v : split(set.substr(1, set.size() - 2), ',')) values.insert(trim(v));
    }
    bool in = value(key, &have) && values.count(have) > 0;
    return std::string(op) == " in " ? in : !in;
  }
  if (size_t at = term.find("!="); at != std::string::npos) {
    return !(value(trim(term.substr(0, at)), &have) && have == trim(term.substr(at + 2)));
  }
  if (size_t at = term.find('='); at != std::string::npos) {
    size_t skip = term.compare(at, 2, "==") == 0 ? 2 : 1;
    return value(trim(term.substr(0, at)), &have) && have == trim(term.substr(at + skip));
  }
  if (!term.empty() && term[0] == '!') return !value(trim(term.substr(1)), &have);
  return value(term, &have);
}

bool matchesSelector(const JsonValue& obj, const std::string& selector) {
  const JsonValue* md = member(obj, "metadata");
  const JsonValue* labels = md != nullptr ? member(*md, "labels") : nullptr;
  std::string term;
  int depth = 0;
  auto flush = [&]() {
    bool ok = trim(term).empty() || matchesTerm(labels, trim(term));
    term.clear();
    return ok;
  };
  for (char c : selector) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      if (!flush()) return false;
      continue;
    }
    term.push_back(c);
  }
  return flush();
}

Response jsonResponse(long code, std::string body) {
  Response r;
  r.httpStatus = code;
  r.httpVersion = 2;
  r.body = std::move(body);
  r.contentType = "application/json";
  return r;
}

// A metav1.Status failure.
Response errorResponse(long code, const std::string& reason, const std::string& message) {
  JsonDocument d;
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("kind", "Status", a);
  d.AddMember("apiVersion", "v1", a);
  d.AddMember("status", "Failure", a);
  d.AddMember("message", JsonValue(message.c_str(), a), a);
  d.AddMember("reason", JsonValue(reason.c_str(), a), a);
  d.AddMember("code", static_cast<int64_t>(code), a);
  return jsonResponse(code, toJson(d));
}

std::string objectKey(const Gvk& gvk, std::string_view ns, std::string_view name) {
  return gvk.group + "/" + gvk.kind + "/" + std::string(ns) + "/" + std::string(name);
}

ResourceInfo info(std::string group, std::string version, std::string kind, std::string plural,
                  bool namespaced) {
  return ResourceInfo{Gvk{std::move(group), std::move(version), std::move(kind)}, std::move(plural),
                      namespaced};
}

}  // namespace

JsonValue parseObject(std::string_view json, JsonAllocator& alloc) {
  JsonDocument d(&alloc);
  d.Parse(json.data(), json.size());
  JsonValue out;
  if (!d.HasParseError()) out.Swap(d);
  return out;
}

FakeKube::FakeKube() {
  resources_ = {
      info("", "v1", "ConfigMap", "configmaps", true),
      info("", "v1", "Namespace", "namespaces", false),
      info("", "v1", "Secret", "secrets", true),
      info("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
           false),
      info("apps", "v1", "Deployment", "deployments", true),
      info("example.com", "v1", "Widget", "widgets", true),
  };
}

// ---- test controls ------------------------------------------------------------------------

Status FakeKube::seed(std::string_view json) {
  std::lock_guard<std::mutex> lock(mu_);
  JsonAllocator alloc;
  JsonDocument d(&alloc);
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) return Status::invalidArgument("seed: not an object");
  JsonValue obj;
  obj.Swap(d);
  const JsonValue* md = member(obj, "metadata");
  std::string name = md != nullptr ? memberString(*md, "name") : "";
  std::string ns = md != nullptr ? memberString(*md, "namespace") : "";
  Gvk gvk = Gvk::fromApiVersion(memberString(obj, "apiVersion"), memberString(obj, "kind"));
  auto found = resolveLocked(gvk);
  if (!found || name.empty()) return Status::invalidArgument("seed: unknown kind or no name");
  return store(objectKey(gvk, found->namespaced ? ns : "", name), obj, alloc);
}

Status FakeKube::setStatus(const Gvk& gvk, std::string_view ns, std::string_view name,
                           std::string_view statusJson) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(objectKey(gvk, ns, name));
  if (it == objects_.end()) return Status::notFound("setStatus: no such object");
  JsonDocument obj, status(&obj.GetAllocator());
  obj.Parse(it->second.c_str());
  status.Parse(statusJson.data(), statusJson.size());
  if (status.HasParseError()) return Status::invalidArgument("setStatus: status is not JSON");
  put(obj, "status", status, obj.GetAllocator());
  it->second = toJson(obj);
  return {};
}

std::string FakeKube::object(const Gvk& gvk, std::string_view ns, std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(objectKey(gvk, ns, name));
  return it == objects_.end() ? "" : it->second;
}

size_t FakeKube::objectCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return objects_.size();
}

void FakeKube::addResource(const ResourceInfo& added) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(resources_.begin(), resources_.end(),
                         [&](const ResourceInfo& r) { return r.gvk == added.gvk; });
  if (it != resources_.end()) {
    *it = added;
  } else {
    resources_.push_back(added);
  }
}

void FakeKube::removeResource(const Gvk& gvk) {
  std::lock_guard<std::mutex> lock(mu_);
  resources_.erase(std::remove_if(resources_.begin(), resources_.end(),
                                  [&](const ResourceInfo& r) { return r.gvk == gvk; }),
                   resources_.end());
}

void FakeKube::failApply(std::string_view subject, long httpStatus, std::string_view message,
                         bool dryRunOnly) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_[std::string(subject)] = Fault{httpStatus, std::string(message), dryRunOnly};
}

void FakeKube::failMethod(std::string_view method, long httpStatus, std::string_view message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (httpStatus == 0) {
    methodFaults_.erase(std::string(method));
  } else {
    methodFaults_[std::string(method)] = Fault{httpStatus, std::string(message), false};
  }
}

size_t FakeKube::count(std::string_view verb) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find(std::string(verb));
  return it == counts_.end() ? 0 : it->second;
}

std::vector<std::string> FakeKube::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

void FakeKube::resetCounts() {
  std::lock_guard<std::mutex> lock(mu_);
  counts_.clear();
  log_.clear();
}

// ---- discovery ------------------------------------------------------------------------------

Result<ResourceInfo> FakeKube::resolveLocked(const Gvk& gvk) const {
  for (const ResourceInfo& r : resources_) {
    if (r.gvk == gvk) return r;
  }
  return Status::notFound("no resource for kind \"" + gvk.apiVersion() + "/" + gvk.kind +
                          "\": is its CustomResourceDefinition installed?");
}

Result<ResourceInfo> FakeKube::resolve(const Gvk& gvk) {
  std::lock_guard<std::mutex> lock(mu_);
  return resolveLocked(gvk);
}

std::vector<ResourceInfo> FakeKube::knownResources() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ResourceInfo> out = resources_;
  std::sort(out.begin(), out.end(), [](const ResourceInfo& a, const ResourceInfo& b) {
    return std::tie(a.gvk.group, a.gvk.version, a.gvk.kind) <
           std::tie(b.gvk.group, b.gvk.version, b.gvk.kind);
  });
  return out;
}

Result<std::string> FakeKube::pathLocked(const Gvk& gvk, std::string_view ns,
                                         std::string_view name) const {
  auto found = resolveLocked(gvk);
  if (!found) return found.error();
  std::string path =
      gvk.group.empty() ? "/api/" + gvk.version : "/apis/" + gvk.group + "/" + gvk.version;
  if (found->namespaced) {
    if (ns.empty() && !name.empty())
      return Status::invalidArgument(objectSubject(gvk, ns, name) + ": namespace is required");
    if (!ns.empty()) path += "/namespaces/" + percentEncode(ns);
  }
  path += "/" + found->plural;
  if (!name.empty()) path += "/" + percentEncode(name);
  return path;
}

Result<std::string> FakeKube::resourcePath(const Gvk& gvk, std::string_view ns,
                                           std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  return pathLocked(gvk, ns, name);
}

// ---- serving --------------------------------------------------------------------------------

std::vector<Result<Response>> FakeKube::sendBatch(const std::vector<Request>& requests) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Result<Response>> out;
  out.reserve(requests.size());
  for (const Request& r : requests) out.emplace_back(serve(r));
  return out;
}

Response FakeKube::serve(const Request& request) {
  log_.push_back(request.method + " " + request.path);
  if (onRequest_) onRequest_(request);
  if (auto f = methodFaults_.find(request.method); f != methodFaults_.end()) {
    return errorResponse(f->second.httpStatus, "Injected", f->second.message);
  }
  size_t q = request.path.find('?');
  std::string path = request.path.substr(0, q);
  std::map<std::string, std::string> query;
  if (q != std::string::npos) {
    for (const std::string& kv : split(std::string_view(request.path).substr(q + 1), '&')) {
      size_t eq = kv.find('=');
      query[percentDecode(kv.substr(0, eq))] =
          eq == std::string::npos ? "" : percentDecode(kv.substr(eq + 1));
    }
  }
  std::vector<std::string> seg = split(std::string_view(path).substr(1), '/');
  Gvk gv;
  size_t rest = 0;
  if (seg.size() >= 2 && seg[0] == "api") {
    gv.version = seg[1];
    rest = 2;
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    gv.group = seg[1];
    gv.version = seg[2];
    rest = 3;
  } else {
    return errorResponse(404, "NotFound", "the server could not find the requested resource");
  }
  std::vector<std::string> r(seg.begin() + static_cast<long>(rest), seg.end());
  std::string ns, plural, name;
  if (r.size() >= 3 && r[0] == "namespaces") {
    ns = percentDecode(r[1]);
    r.erase(r.begin(), r.begin() + 2);
  }
  if (r.empty() || r.size() > 2) {
    return errorResponse(404, "NotFound", "the server could not find the requested resource");
  }
  plural = r[0];
  if (r.size() == 2) name = percentDecode(r[1]);
  auto found = std::find_if(resources_.begin(), resources_.end(), [&](const ResourceInfo& i) {
    return i.gvk.group == gv.group && i.gvk.version == gv.version && i.plural == plural;
  });
  if (found == resources_.end()) {
    return errorResponse(404, "NotFound", "the server could not find the requested resource");
  }
  ResourceInfo info = *found;
  if (request.method == "GET" && name.empty()) return serveList(info, ns, query);
  if (request.method == "GET") return serveGet(info, ns, name);
  if (request.method == "PATCH" && !name.empty())
    return servePatch(info, ns, name, query, request.body);
  if (request.method == "DELETE" && !name.empty()) return serveDelete(info, ns, name);
  if (request.method == "POST" && name.empty()) return servePost(info, ns, request.body);
  if (request.method == "PUT" && !name.empty()) return servePut(info, ns, name, request.body);
  return errorResponse(405, "MethodNotAllowed", "method not allowed");
}

Response FakeKube::serveGet(const ResourceInfo& info, const std::string& ns,
                            const std::string& name) {
  ++counts_["get"];
  auto it = objects_.find(objectKey(info.gvk, ns, name));
  if (it == objects_.end()) {
    return errorResponse(404, "NotFound", info.plural + " \"" + name + "\" not found");
  }
  return jsonResponse(200, it->second);
}

Response FakeKube::serveList(const ResourceInfo& info, const std::string& ns,
                             const std::map<std::string, std::string>& query) {
  ++counts_["list"];
  auto sel = query.find("labelSelector");
  JsonDocument list;
  auto& a = list.GetAllocator();
  list.SetObject();
  list.AddMember("apiVersion", JsonValue(info.gvk.apiVersion().c_str(), a), a);
  list.AddMember("kind", JsonValue((info.gvk.kind + "List").c_str(), a), a);
  JsonValue md(rapidjson::kObjectType);
  md.AddMember("resourceVersion", JsonValue(std::to_string(resourceVersion_).c_str(), a), a);
  list.AddMember("metadata", md, a);
  JsonValue items(rapidjson::kArrayType);
  std::string prefix = info.gvk.group + "/" + info.gvk.kind + "/";
  for (const auto& [key, json] : objects_) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    JsonDocument obj(&a);
    obj.Parse(json.c_str());
    const JsonValue* omd = member(obj, "metadata");
    if (!ns.empty() && (omd == nullptr || memberString(*omd, "namespace") != ns)) continue;
    if (sel != query.end() && !matchesSelector(obj, sel->second)) continue;
    put(obj, "apiVersion", JsonValue(info.gvk.apiVersion().c_str(), a), a);
    JsonValue item;
    item.Swap(obj);
    items.PushBack(item, a);
  }
  list.AddMember("items", items, a);
  return jsonResponse(200, toJson(list));
}

Status FakeKube::store(std::string key, JsonValue& object, JsonAllocator& alloc) {
  JsonValue& md = objectMember(object, "metadata", alloc);
  if (memberString(md, "uid").empty())
    put(md, "uid", JsonValue(("uid-" + std::to_string(++uid_)).c_str(), alloc), alloc);
  if (memberString(md, "creationTimestamp").empty())
    put(md, "creationTimestamp", JsonValue(kCreationTimestamp), alloc);
  if (memberString(md, "resourceVersion").empty())
    put(md, "resourceVersion", JsonValue(std::to_string(++resourceVersion_).c_str(), alloc), alloc);
  if (member(md, "generation") == nullptr) put(md, "generation", JsonValue(1), alloc);
  objects_[std::move(key)] = toJson(object);
  return {};
}

Response FakeKube::servePatch(const ResourceInfo& info, const std::string& ns,
                              const std::string& name,
                              const std::map<std::string, std::string>& query,
                              const std::string& body) {
  bool dryRun = query.count("dryRun") > 0 && query.at("dryRun") == "All";
  ++counts_[dryRun ? "dryrun" : "apply"];
  std::string subject = objectSubject(info.gvk, ns, name);
  if (auto f = faults_.find(subject); f != faults_.end() && (dryRun || !f->second.dryRunOnly)) {
    return errorResponse(f->second.httpStatus, "Injected", f->second.message);
  }
  if (info.namespaced && objects_.count(objectKey(Gvk{"", "v1", "Namespace"}, "", ns)) == 0) {
    return errorResponse(404, "NotFound", "namespaces \"" + ns + "\" not found");
  }
  JsonAllocator alloc;
  JsonDocument applied(&alloc);
  applied.Parse(body.c_str());
  if (applied.HasParseError() || !applied.IsObject()) {
    return errorResponse(400, "BadRequest", "error decoding YAML: the body is not an object");
  }
  std::string key = objectKey(info.gvk, ns, name);
  auto it = objects_.find(key);
  JsonDocument result(&alloc);
  if (it != objects_.end()) {
    result.Parse(it->second.c_str());
  } else {
    result.SetObject();
  }
  JsonValue before = userFields(result, alloc);
  mergeApplied(result, applied, alloc);
  JsonValue& md = objectMember(result, "metadata", alloc);
  if (info.namespaced) put(md, "namespace", JsonValue(ns.c_str(), alloc), alloc);
  JsonValue managed(rapidjson::kArrayType);
  JsonValue entry(rapidjson::kObjectType);
  std::string manager = query.count("fieldManager") ? query.at("fieldManager") : "";
  entry.AddMember("manager", JsonValue(manager.c_str(), alloc), alloc);
  entry.AddMember("operation", "Apply", alloc);
  managed.PushBack(entry, alloc);
  put(md, "managedFields", managed, alloc);
  bool changed = it == objects_.end() || !(userFields(result, alloc) == before);
  if (changed && it != objects_.end()) {
    put(md, "resourceVersion", JsonValue(std::to_string(resourceVersion_ + 1).c_str(), alloc),
        alloc);
    const JsonValue* spec = member(before, "spec");
    const JsonValue* newSpec = member(result, "spec");
    const JsonValue* gen = member(md, "generation");
    if ((spec == nullptr) != (newSpec == nullptr) || (spec && !(*spec == *newSpec))) {
      put(md, "generation", JsonValue(gen && gen->IsInt64() ? gen->GetInt64() + 1 : 1), alloc);
    }
  }
  JsonValue obj;
  obj.Swap(result);
  if (dryRun) {
    // What would be stored, with the server fields a real dry run fills in.
    JsonValue& dmd = objectMember(obj, "metadata", alloc);
    if (memberString(dmd, "uid").empty()) put(dmd, "uid", JsonValue("dry-run-uid"), alloc);
    if (memberString(dmd, "creationTimestamp").empty())
      put(dmd, "creationTimestamp", JsonValue(kCreationTimestamp), alloc);
    return jsonResponse(200, toJson(obj));
  }
  if (changed && it != objects_.end()) ++resourceVersion_;
  if (info.gvk.kind == "CustomResourceDefinition") {
    const JsonValue* spec = member(obj, "spec");
    const JsonValue* names = spec ? member(*spec, "names") : nullptr;
    const JsonValue* versions = spec ? member(*spec, "versions") : nullptr;
    if (names && versions && versions->IsArray() && !versions->Empty()) {
      ResourceInfo crd = ::windlass::reconcile::info(
          memberString(*spec, "group"), memberString((*versions)[0], "name"),
          memberString(*names, "kind"), memberString(*names, "plural"),
          memberString(*spec, "scope") != "Cluster");
      resources_.erase(std::remove_if(resources_.begin(), resources_.end(),
                                      [&](const ResourceInfo& r) { return r.gvk == crd.gvk; }),
                       resources_.end());
      resources_.push_back(crd);
    }
    JsonDocument status(&alloc);
    status.Parse(R"({"conditions":[{"type":"NamesAccepted","status":"True"},)"
                 R"({"type":"Established","status":"True"}]})");
    put(obj, "status", status, alloc);
  }
  (void)store(key, obj, alloc);
  return jsonResponse(it == objects_.end() ? 201 : 200, objects_[key]);
}

Response FakeKube::servePost(const ResourceInfo& info, const std::string& ns,
                             const std::string& body) {
  ++counts_["create"];
  JsonAllocator alloc;
  JsonDocument obj(&alloc);
  obj.Parse(body.c_str());
  const JsonValue* md = obj.IsObject() ? member(obj, "metadata") : nullptr;
  std::string name = md != nullptr ? memberString(*md, "name") : "";
  if (name.empty()) return errorResponse(422, "Invalid", "metadata.name: Required value");
  if (info.namespaced && objects_.count(objectKey(Gvk{"", "v1", "Namespace"}, "", ns)) == 0) {
    return errorResponse(404, "NotFound", "namespaces \"" + ns + "\" not found");
  }
  std::string key = objectKey(info.gvk, ns, name);
  if (objects_.count(key) > 0) {
    return errorResponse(409, "AlreadyExists", info.plural + " \"" + name + "\" already exists");
  }
  JsonValue& m = objectMember(obj, "metadata", alloc);
  m.RemoveMember("resourceVersion");
  if (info.namespaced) put(m, "namespace", JsonValue(ns.c_str(), alloc), alloc);
  (void)store(key, obj, alloc);
  return jsonResponse(201, objects_[key]);
}

Response FakeKube::servePut(const ResourceInfo& info, const std::string& ns,
                            const std::string& name, const std::string& body) {
  ++counts_["update"];
  std::string key = objectKey(info.gvk, ns, name);
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return errorResponse(404, "NotFound", info.plural + " \"" + name + "\" not found");
  }
  JsonAllocator alloc;
  JsonDocument obj(&alloc);
  obj.Parse(body.c_str());
  if (obj.HasParseError() || !obj.IsObject()) {
    return errorResponse(400, "BadRequest", "the body is not an object");
  }
  JsonDocument stored(&alloc);
  stored.Parse(it->second.c_str());
  JsonValue& m = objectMember(obj, "metadata", alloc);
  std::string want = memberString(m, "resourceVersion");
  if (want.empty() || want != memberString(*member(stored, "metadata"), "resourceVersion")) {
    return errorResponse(409, "Conflict",
                         "Operation cannot be fulfilled on " + info.plural + " \"" + name +
                             "\": the object has been modified; please apply your changes to "
                             "the latest version and try again");
  }
  m.RemoveMember("resourceVersion");
  if (info.namespaced) put(m, "namespace", JsonValue(ns.c_str(), alloc), alloc);
  (void)store(key, obj, alloc);
  return jsonResponse(200, objects_[key]);
}

Response FakeKube::serveDelete(const ResourceInfo& info, const std::string& ns,
                               const std::string& name) {
  ++counts_["delete"];
  auto it = objects_.find(objectKey(info.gvk, ns, name));
  if (it == objects_.end()) {
    return errorResponse(404, "NotFound", info.plural + " \"" + name + "\" not found");
  }
  objects_.erase(it);
  return jsonResponse(200, R"({"kind":"Status","apiVersion":"v1","status":"Success"})");
}

// ---- the typed calls, over the same requests ------------------------------------------------

Result<JsonValue> FakeKube::get(const Gvk& gvk, std::string_view ns, std::string_view name,
                                JsonAllocator& alloc) {
  std::lock_guard<std::mutex> lock(mu_);
  auto path = pathLocked(gvk, ns, name);
  if (!path) return path.error();
  std::string subject = objectSubject(gvk, ns, name);
  Response r = serve(Request{"GET", *path, "", "", "application/json", subject, "get"});
  WINDLASS_RETURN_IF_ERROR(statusFromHttp(r.httpStatus, r.body, subject, "get"));
  return parseJsonBody(r.body, alloc, subject);
}

Result<std::vector<JsonValue>> FakeKube::list(const Gvk& gvk, std::string_view ns,
                                              JsonAllocator& alloc, const ListOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  auto base = pathLocked(gvk, ns, "");
  if (!base) return base.error();
  std::string subject =
      gvk.groupKind() + (ns.empty() ? std::string(" (all)") : " in " + std::string(ns));
  std::string path =
      *base + "?limit=" + std::to_string(options.pageSize == 0 ? 500 : options.pageSize);
  if (!options.labelSelector.empty())
    path += "&labelSelector=" + percentEncode(options.labelSelector);
  Response r = serve(Request{"GET", path, "", "", "application/json", subject, "list"});
  WINDLASS_RETURN_IF_ERROR(statusFromHttp(r.httpStatus, r.body, subject, "list"));
  auto page = parseJsonBody(r.body, alloc, subject);
  if (!page) return page.error();
  if (options.resourceVersion != nullptr) {
    *options.resourceVersion = memberString(*member(*page, "metadata"), "resourceVersion");
  }
  std::vector<JsonValue> out;
  for (JsonValue& item : (*page)["items"].GetArray()) {
    if (!item.HasMember("kind")) item.AddMember("kind", JsonValue(gvk.kind.c_str(), alloc), alloc);
    out.push_back(std::move(item));
  }
  return out;
}

Result<JsonValue> FakeKube::apply(const JsonValue& object, JsonAllocator& alloc,
                                  const ApplyOptions& options) {
  auto req = applyRequest(object, options);
  if (!req) return req.error();
  std::lock_guard<std::mutex> lock(mu_);
  Response r = serve(*req);
  WINDLASS_RETURN_IF_ERROR(statusFromHttp(r.httpStatus, r.body, req->subject, req->verb));
  return parseJsonBody(r.body, alloc, req->subject);
}

Status FakeKube::remove(const Gvk& gvk, std::string_view ns, std::string_view name,
                        const RemoveOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  auto path = pathLocked(gvk, ns, name);
  if (!path) return path.error();
  std::string p = *path;
  if (!options.propagationPolicy.empty()) p += "?propagationPolicy=" + options.propagationPolicy;
  std::string subject = objectSubject(gvk, ns, name);
  Response r = serve(Request{"DELETE", p, "", "", "application/json", subject, "delete"});
  return statusFromHttp(r.httpStatus, r.body, subject, "delete");
}

Status FakeKube::watch(const Gvk&, std::string_view, const WatchOptions&,
                       const std::function<void(const WatchEvent&)>&, const CancelToken&) {
  return Status::unimplemented("FakeKube: watch is not served");
}

}  // namespace windlass::reconcile
