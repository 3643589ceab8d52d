#include "reconcile/kube_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <thread>

namespace windlass::reconcile {

// ---- RAII for libcurl -------------------------------------------------------------------

namespace {

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using SlistHandle = std::unique_ptr<curl_slist, SlistDeleter>;

// Appends to a curl_slist without leaking the list when curl_slist_append fails.
bool appendHeader(SlistHandle& list, const std::string& header) {
  curl_slist* next = curl_slist_append(list.get(), header.c_str());
  if (next == nullptr) return false;
  (void)list.release();
  list.reset(next);
  return true;
}

std::once_flag gCurlInit;
CURLcode gCurlInitResult = CURLE_OK;

}  // namespace

// One share handle: DNS cache and TLS sessions, shared by every multi handle of a client.
struct CurlShared {
  CURLSH* handle = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;

  ~CurlShared() {
    if (handle != nullptr) curl_share_cleanup(handle);
  }
  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* self) {
    static_cast<CurlShared*>(self)->locks[static_cast<size_t>(data)].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* self) {
    static_cast<CurlShared*>(self)->locks[static_cast<size_t>(data)].unlock();
  }
};

// One multi handle; it owns the connection cache (kept between calls, HTTP/2 multiplexed).
struct CurlMulti {
  CURLM* handle = nullptr;
  ~CurlMulti() {
    if (handle != nullptr) curl_multi_cleanup(handle);
  }
};

// ---- small helpers ----------------------------------------------------------------------

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string memberString(const JsonValue& obj, const char* key) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

const JsonValue* member(const JsonValue& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string toJson(const JsonValue& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string resourceKey(const Gvk& gvk) { return gvk.group + "/" + gvk.version + "/" + gvk.kind; }

const char* reasonWord(long httpStatus) {
  switch (httpStatus) {
    case 400:
      return "bad request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not found";
    case 405:
      return "method not allowed";
    case 409:
      return "conflict";
    case 410:
      return "gone";
    case 415:
      return "unsupported media type";
    case 422:
      return "invalid";
    case 429:
      return "throttled";
    default:
      return httpStatus >= 500 ? "server error" : "failed";
  }
}

bool retryableCurlCode(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

}  // namespace

// ---- public free functions --------------------------------------------------------------

Gvk Gvk::fromApiVersion(std::string_view apiVersion, std::string_view kind) {
  Gvk g;
  size_t slash = apiVersion.find('/');
  if (slash == std::string_view::npos) {
    g.version = std::string(apiVersion);
  } else {
    g.group = std::string(apiVersion.substr(0, slash));
    g.version = std::string(apiVersion.substr(slash + 1));
  }
  g.kind = std::string(kind);
  return g;
}

std::string objectSubject(const Gvk& gvk, std::string_view ns, std::string_view name) {
  std::string s = gvk.groupKind() + " ";
  if (!ns.empty()) s += std::string(ns) + "/";
  s += name;
  return s;
}

Status statusFromHttp(long httpStatus, std::string_view body, std::string_view subject,
                      std::string_view verb) {
  if (httpStatus >= 200 && httpStatus < 300) return Status();
  std::string serverMessage;
  {
    JsonDocument doc;
    doc.Parse(body.data(), body.size());
    if (!doc.HasParseError() && doc.IsObject()) serverMessage = memberString(doc, "message");
  }
  if (serverMessage.empty()) {
    serverMessage = std::string(body.substr(0, 300));
    while (!serverMessage.empty() && std::isspace(static_cast<unsigned char>(serverMessage.back())))
      serverMessage.pop_back();
  }
  std::string msg = std::string(subject) + ": " + std::string(verb) + " " + reasonWord(httpStatus);
  if (httpStatus >= 500 || std::string_view(reasonWord(httpStatus)) == "failed")
    msg += " (HTTP " + std::to_string(httpStatus) + ")";
  if (!serverMessage.empty()) msg += ": " + serverMessage;
  switch (httpStatus) {
    case 400:
    case 422:
      return Status::invalidArgument(msg);
    case 401:
      return Status::unauthenticated(msg);
    case 403:
      return Status::permissionDenied(msg);
    case 404:
      return Status::notFound(msg);
    case 409:
      return Status::conflict(msg);
    case 410:
      return Status::aborted(msg);
    case 429:
      return Status::resourceExhausted(msg);
    case 504:
      return Status::deadlineExceeded(msg);
    default:
      if (httpStatus >= 500) return Status::unavailable(msg);
      return Status::failedPrecondition(msg);
  }
}

Result<JsonValue> parseJsonBody(std::string_view body, JsonAllocator& alloc,
                                std::string_view subject) {
  try {
    JsonDocument doc(&alloc);
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError()) {
      return Status::invalidArgument(std::string(subject) + ": response is not JSON (offset " +
                                     std::to_string(doc.GetErrorOffset()) + ")");
    }
    JsonValue out;
    out.Swap(static_cast<JsonValue&>(doc));
    return out;
  } catch (const JsonAssertion& e) {
    return Status::internal(std::string(subject) + ": " + e.what());
  }
}

// ---- the client -------------------------------------------------------------------------

KubeClient::KubeClient(ClusterConfig config, ClientOptions options)
    : credentials_(std::move(config)), options_(std::move(options)) {}

KubeClient::~KubeClient() {
  idleMultis_.clear();  // multi handles before the share handle they use
  shared_.reset();
}

Result<std::unique_ptr<KubeClient>> KubeClient::create(ClusterConfig config,
                                                       ClientOptions options) {
  std::call_once(gCurlInit, [] { gCurlInitResult = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (gCurlInitResult != CURLE_OK)
    return Status::internal(std::string("libcurl: ") + curl_easy_strerror(gCurlInitResult));
  if (options.parallelism == 0) options.parallelism = 1;
  if (options.retry.maxAttempts < 1) options.retry.maxAttempts = 1;
  std::unique_ptr<KubeClient> client(new KubeClient(std::move(config), std::move(options)));
  auto shared = std::make_unique<CurlShared>();
  shared->handle = curl_share_init();
  if (shared->handle == nullptr) return Status::internal("libcurl: curl_share_init failed");
  curl_share_setopt(shared->handle, CURLSHOPT_LOCKFUNC, &CurlShared::lock);
  curl_share_setopt(shared->handle, CURLSHOPT_UNLOCKFUNC, &CurlShared::unlock);
  curl_share_setopt(shared->handle, CURLSHOPT_USERDATA, shared.get());
  curl_share_setopt(shared->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(shared->handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  client->shared_ = std::move(shared);
  return client;
}

std::unique_ptr<CurlMulti> KubeClient::takeMulti() {
  {
    std::lock_guard<std::mutex> lock(multisMu_);
    if (!idleMultis_.empty()) {
      auto m = std::move(idleMultis_.back());
      idleMultis_.pop_back();
      return m;
    }
  }
  auto m = std::make_unique<CurlMulti>();
  m->handle = curl_multi_init();
  if (m->handle != nullptr) curl_multi_setopt(m->handle, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  return m;
}

void KubeClient::returnMulti(std::unique_ptr<CurlMulti> multi) {
  std::lock_guard<std::mutex> lock(multisMu_);
  idleMultis_.push_back(std::move(multi));
}

namespace {

using Clock = std::chrono::steady_clock;

// One request in flight (or waiting for its next attempt).
struct Transfer {
  const Request* request = nullptr;
  int attempts = 0;
  bool reauthenticated = false;
  Clock::time_point notBefore{};
  EasyHandle easy;
  SlistHandle headers;
  std::string body;
  std::string contentType;
  long retryAfterSeconds = -1;
  std::array<char, CURL_ERROR_SIZE> error{};
  std::optional<Result<Response>> result;

  std::string subject() const {
    return request->subject.empty() ? request->path : request->subject;
  }
  std::string verb() const {
    return request->verb.empty() ? lower(request->method) : request->verb;
  }
};

size_t onBody(char* data, size_t size, size_t n, void* self) {
  static_cast<Transfer*>(self)->body.append(data, size * n);
  return size * n;
}

size_t onHeader(char* data, size_t size, size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  std::string_view line(data, size * n);
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name = lower(std::string(line.substr(0, colon)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front())))
    value.remove_prefix(1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
    value.remove_suffix(1);
  if (name == "retry-after") {
    long secs = 0;
    bool digits = !value.empty();
    for (char c : value) {
      if (c < '0' || c > '9')
        digits = false;
      else if (secs < 100000)
        secs = secs * 10 + (c - '0');
    }
    t->retryAfterSeconds = digits ? secs : -1;
  } else if (name == "content-type") {
    t->contentType = std::string(value);
  }
  return size * n;
}

void setBlob(CURL* h, CURLoption opt, const std::string& data) {
  curl_blob blob{const_cast<char*>(data.data()), data.size(), CURL_BLOB_COPY};
  curl_easy_setopt(h, opt, &blob);
}

// TLS, credentials and the Accept header of one request to the API server.
bool setConnection(CURL* h, const ClusterConfig& cfg, const AuthInfo& auth, SlistHandle& headers,
                   const std::string& accept, const std::string& impersonateUser) {
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (cfg.insecureSkipTlsVerify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!cfg.caPem.empty()) {
    setBlob(h, CURLOPT_CAINFO_BLOB, cfg.caPem);
  }
  if (!auth.clientCertPem.empty()) {
    setBlob(h, CURLOPT_SSLCERT_BLOB, auth.clientCertPem);
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    setBlob(h, CURLOPT_SSLKEY_BLOB, auth.clientKeyPem);
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  }
  bool ok = appendHeader(headers, "Accept: " + accept);
  if (!impersonateUser.empty())
    ok = ok && appendHeader(headers, "Impersonate-User: " + impersonateUser);
  if (!auth.bearerToken.empty()) {
    ok = ok && appendHeader(headers, "Authorization: Bearer " + auth.bearerToken);
  } else if (!auth.username.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(h, CURLOPT_USERNAME, auth.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, auth.password.c_str());
  }
  return ok;
}

}  // namespace

Result<Response> KubeClient::send(const Request& request) {
  std::vector<Request> one{request};
  auto results = sendBatch(one);
  return std::move(results[0]);
}

std::vector<Result<Response>> KubeClient::sendBatch(const std::vector<Request>& requests) {
  std::vector<Transfer> transfers(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) transfers[i].request = &requests[i];
  auto finish = [&]() {
    std::vector<Result<Response>> out;
    out.reserve(transfers.size());
    for (auto& t : transfers) out.push_back(std::move(*t.result));
    return out;
  };
  if (requests.empty()) return {};

  std::unique_ptr<CurlMulti> multi = takeMulti();
  if (multi->handle == nullptr) {
    for (auto& t : transfers) t.result = Status::internal("libcurl: curl_multi_init failed");
    return finish();
  }
  CURLM* m = multi->handle;
  const ClusterConfig& cfg = config();

  // Starts the next attempt of `t`; false when it could not even be set up (result set).
  auto start = [&](Transfer& t) -> bool {
    auto auth = credentials_.current();
    if (!auth) {
      t.result = auth.error().withContext(t.subject() + ": " + t.verb());
      return false;
    }
    t.easy.reset(curl_easy_init());
    t.headers.reset();
    t.body.clear();
    t.contentType.clear();
    t.retryAfterSeconds = -1;
    t.error[0] = '\0';
    CURL* h = t.easy.get();
    if (h == nullptr) {
      t.result = Status::internal("libcurl: curl_easy_init failed");
      return false;
    }
    const Request& r = *t.request;
    std::string url = cfg.server + r.path;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_SHARE, shared_->handle);
    curl_easy_setopt(h, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connectTimeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.requestTimeout.count()));
    curl_easy_setopt(h, CURLOPT_USERAGENT, options_.userAgent.c_str());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t.error.data());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &onBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &onHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    bool ok = setConnection(h, cfg, *auth, t.headers, r.accept, options_.impersonateUser);
    if (r.method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
      if (!r.body.empty() || r.method != "DELETE") {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body.c_str());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
        ok = ok && appendHeader(t.headers, "Content-Type: " + (r.contentType.empty()
                                                                   ? std::string("application/json")
                                                                   : r.contentType));
      }
    }
    ok = ok && appendHeader(t.headers, "Expect:");
    if (!ok) {
      t.result = Status::internal("libcurl: out of memory building headers");
      return false;
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, t.headers.get());
    ++t.attempts;
    if (curl_multi_add_handle(m, h) != CURLM_OK) {
      t.result = Status::internal("libcurl: curl_multi_add_handle failed");
      return false;
    }
    return true;
  };

  auto backoff = [&](const Transfer& t) {
    auto d = options_.retry.initialBackoff;
    for (int i = 1; i < t.attempts && d < options_.retry.maxBackoff; ++i) d *= 2;
    d = std::min(d, options_.retry.maxBackoff);
    if (t.retryAfterSeconds >= 0) {
      d = std::min<std::chrono::milliseconds>(std::chrono::seconds(t.retryAfterSeconds),
                                              options_.retry.maxRetryAfter);
    }
    return d;
  };

  // Decides what a finished attempt means: a result, or a retry scheduled.
  auto complete = [&](Transfer& t, CURLcode rc) {
    long httpStatus = 0;
    curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &httpStatus);
    bool canRetry = t.attempts < options_.retry.maxAttempts;
    if (rc == CURLE_OK) {
      if (httpStatus == 401 && !t.reauthenticated &&
          (cfg.exec.has_value() || !cfg.tokenFile.empty())) {
        credentials_.invalidate();
        t.reauthenticated = true;
        t.notBefore = Clock::now();
        return;
      }
      if ((httpStatus == 429 || httpStatus >= 500) && canRetry) {
        t.notBefore = Clock::now() + backoff(t);
        return;
      }
      Response resp;
      resp.httpStatus = httpStatus;
      long version = 0;
      curl_easy_getinfo(t.easy.get(), CURLINFO_HTTP_VERSION, &version);
      resp.httpVersion = version == CURL_HTTP_VERSION_2_0 ? 2 : 1;
      resp.body = std::move(t.body);
      resp.contentType = std::move(t.contentType);
      t.result = std::move(resp);
      return;
    }
    if (retryableCurlCode(rc) && canRetry) {
      t.notBefore = Clock::now() + backoff(t);
      return;
    }
    std::string detail = t.error[0] != '\0' ? std::string(t.error.data()) : curl_easy_strerror(rc);
    std::string msg = t.subject() + ": " + t.verb() + ": cannot reach " + cfg.server + ": " +
                      detail + " (" + std::to_string(t.attempts) +
                      (t.attempts == 1 ? " attempt)" : " attempts)");
    if (rc == CURLE_OPERATION_TIMEDOUT)
      t.result = Status::deadlineExceeded(msg);
    else
      t.result = Status::unavailable(msg);
  };

  size_t remaining = transfers.size();
  size_t active = 0;
  std::vector<Transfer*> waiting;
  for (auto& t : transfers) waiting.push_back(&t);
  while (remaining > 0) {
    // Start what may start.
    auto now = Clock::now();
    for (auto it = waiting.begin(); it != waiting.end() && active < options_.parallelism;) {
      Transfer& t = **it;
      if (t.notBefore > now) {
        ++it;
        continue;
      }
      it = waiting.erase(it);
      if (start(t)) {
        ++active;
      } else {
        t.easy.reset();
        --remaining;
      }
    }
    if (remaining == 0) break;
    if (active == 0) {
      Clock::time_point next = Clock::time_point::max();
      for (Transfer* t : waiting) next = std::min(next, t->notBefore);
      std::this_thread::sleep_until(next);
      continue;
    }
    int running = 0;
    curl_multi_perform(m, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(m, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      CURLcode rc = msg->data.result;
      curl_multi_remove_handle(m, msg->easy_handle);
      --active;
      complete(*t, rc);
      t->easy.reset();
      t->headers.reset();
      if (t->result) {
        --remaining;
      } else {
        waiting.push_back(t);
      }
    }
    if (remaining == 0) break;
    // Wait for sockets, or until the next scheduled retry may start.
    long timeoutMs = 1000;
    if (active < options_.parallelism) {
      auto n = Clock::now();
      for (Transfer* t : waiting) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t->notBefore - n).count();
        timeoutMs = std::clamp<long>(left, 0, timeoutMs);
      }
    }
    if (active > 0) curl_multi_poll(m, nullptr, 0, static_cast<int>(timeoutMs), nullptr);
  }
  returnMulti(std::move(multi));
  return finish();
}

// ---- discovery ---------------------------------------------------------------------------

Status KubeClient::discoverAggregated(std::map<std::string, ResourceInfo>& out, bool& supported) {
  supported = false;
  const std::string accept =
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
      "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
      "application/json";
  std::vector<Request> reqs(2);
  reqs[0].path = "/api";
  reqs[1].path = "/apis";
  for (auto& r : reqs) {
    r.accept = accept;
    r.subject = "discovery " + r.path;
    r.verb = "get";
  }
  auto results = sendBatch(reqs);
  JsonAllocator alloc;
  std::vector<JsonValue> docs;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i]) return results[i].error();
    WINDLASS_RETURN_IF_ERROR(
        statusFromHttp(results[i]->httpStatus, results[i]->body, reqs[i].subject, "get"));
    auto doc = parseJsonBody(results[i]->body, alloc, reqs[i].subject);
    if (!doc) return doc.error();
    if (memberString(*doc, "kind") != "APIGroupDiscoveryList") return Status();  // not offered
    docs.push_back(std::move(*doc));
  }
  supported = true;
  for (const JsonValue& doc : docs) {
    const JsonValue* items = member(doc, "items");
    if (items == nullptr || !items->IsArray()) continue;
    for (const JsonValue& group : items->GetArray()) {
      const JsonValue* meta = member(group, "metadata");
      std::string groupName = meta != nullptr ? memberString(*meta, "name") : "";
      const JsonValue* versions = member(group, "versions");
      if (versions == nullptr || !versions->IsArray()) continue;
      for (const JsonValue& v : versions->GetArray()) {
        std::string version = memberString(v, "version");
        const JsonValue* resources = member(v, "resources");
        if (resources == nullptr || !resources->IsArray()) continue;
        for (const JsonValue& r : resources->GetArray()) {
          const JsonValue* rk = member(r, "responseKind");
          ResourceInfo info;
          info.gvk = Gvk{groupName, version, rk != nullptr ? memberString(*rk, "kind") : ""};
          info.plural = memberString(r, "resource");
          info.namespaced = memberString(r, "scope") == "Namespaced";
          if (info.gvk.kind.empty() || info.plural.empty()) continue;
          out.emplace(resourceKey(info.gvk), std::move(info));
        }
      }
    }
  }
  return Status();
}

Status KubeClient::discoverLegacy(std::map<std::string, ResourceInfo>& out) {
  std::vector<Request> roots(2);
  roots[0].path = "/api";
  roots[1].path = "/apis";
  for (auto& r : roots) {
    r.subject = "discovery " + r.path;
    r.verb = "get";
  }
  auto results = sendBatch(roots);
  JsonAllocator alloc;
  std::vector<std::string> groupVersions;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i]) return results[i].error();
    WINDLASS_RETURN_IF_ERROR(
        statusFromHttp(results[i]->httpStatus, results[i]->body, roots[i].subject, "get"));
    auto doc = parseJsonBody(results[i]->body, alloc, roots[i].subject);
    if (!doc) return doc.error();
    if (i == 0) {
      const JsonValue* versions = member(*doc, "versions");
      if (versions != nullptr && versions->IsArray()) {
        for (const JsonValue& v : versions->GetArray()) {
          if (v.IsString()) groupVersions.push_back(v.GetString());
        }
      }
    } else {
      const JsonValue* groups = member(*doc, "groups");
      if (groups == nullptr || !groups->IsArray()) continue;
      for (const JsonValue& g : groups->GetArray()) {
        const JsonValue* versions = member(g, "versions");
        if (versions == nullptr || !versions->IsArray()) continue;
        for (const JsonValue& v : versions->GetArray()) {
          std::string gv = memberString(v, "groupVersion");
          if (!gv.empty()) groupVersions.push_back(gv);
        }
      }
    }
  }
  std::vector<Request> reqs;
  for (const std::string& gv : groupVersions) {
    Request r;
    r.path = (gv.find('/') == std::string::npos ? "/api/" : "/apis/") + gv;
    r.subject = "discovery " + r.path;
    r.verb = "get";
    reqs.push_back(std::move(r));
  }
  auto lists = sendBatch(reqs);
  for (size_t i = 0; i < lists.size(); ++i) {
    // A group version that fails (an aggregated API that is down) is left out, as
    // kubectl does; its kinds stay unknown.
    if (!lists[i] || lists[i]->httpStatus != 200) continue;
    auto doc = parseJsonBody(lists[i]->body, alloc, reqs[i].subject);
    if (!doc) continue;
    Gvk base = Gvk::fromApiVersion(groupVersions[i], "");
    const JsonValue* resources = member(*doc, "resources");
    if (resources == nullptr || !resources->IsArray()) continue;
    for (const JsonValue& r : resources->GetArray()) {
      ResourceInfo info;
      info.plural = memberString(r, "name");
      if (info.plural.empty() || info.plural.find('/') != std::string::npos) continue;
      info.gvk = base;
      info.gvk.kind = memberString(r, "kind");
      const JsonValue* ns = member(r, "namespaced");
      info.namespaced = ns != nullptr && ns->IsBool() && ns->GetBool();
      if (info.gvk.kind.empty()) continue;
      out.emplace(resourceKey(info.gvk), std::move(info));
    }
  }
  return Status();
}

Status KubeClient::refreshDiscovery() {
  std::lock_guard<std::mutex> serial(refreshMu_);
  std::map<std::string, ResourceInfo> fresh;
  bool aggregated = false;
  if (!options_.legacyDiscovery) {
    WINDLASS_RETURN_IF_ERROR(discoverAggregated(fresh, aggregated));
  }
  if (!aggregated) {
    fresh.clear();
    WINDLASS_RETURN_IF_ERROR(discoverLegacy(fresh));
  }
  std::unique_lock<std::shared_mutex> lock(discoveryMu_);
  resources_ = std::move(fresh);
  discovered_ = true;
  return Status();
}

std::vector<ResourceInfo> KubeClient::knownResources() {
  std::shared_lock<std::shared_mutex> lock(discoveryMu_);
  std::vector<ResourceInfo> out;
  out.reserve(resources_.size());
  for (const auto& [key, info] : resources_) out.push_back(info);
  return out;
}

Result<ResourceInfo> KubeClient::resolve(const Gvk& gvk) {
  const std::string key = resourceKey(gvk);
  {
    std::shared_lock<std::shared_mutex> lock(discoveryMu_);
    auto it = resources_.find(key);
    if (it != resources_.end()) return it->second;
  }
  WINDLASS_RETURN_IF_ERROR(refreshDiscovery());
  std::shared_lock<std::shared_mutex> lock(discoveryMu_);
  auto it = resources_.find(key);
  if (it != resources_.end()) return it->second;
  return Status::notFound("no resource for kind \"" + gvk.apiVersion() + "/" + gvk.kind +
                          "\": is its CustomResourceDefinition installed?");
}

Result<std::string> KubeClient::resourcePath(const Gvk& gvk, std::string_view ns,
                                             std::string_view name) {
  auto info = resolve(gvk);
  if (!info) return info.error();
  std::string path =
      gvk.group.empty() ? "/api/" + gvk.version : "/apis/" + gvk.group + "/" + gvk.version;
  if (info->namespaced) {
    if (ns.empty() && !name.empty())
      return Status::invalidArgument(objectSubject(gvk, ns, name) + ": namespace is required");
    if (!ns.empty()) path += "/namespaces/" + percentEncode(ns);
  }
  path += "/" + info->plural;
  if (!name.empty()) path += "/" + percentEncode(name);
  return path;
}

// ---- objects -----------------------------------------------------------------------------

Result<JsonValue> KubeClient::get(const Gvk& gvk, std::string_view ns, std::string_view name,
                                  JsonAllocator& alloc) {
  auto path = resourcePath(gvk, ns, name);
  if (!path) return path.error();
  Request r;
  r.path = std::move(*path);
  r.subject = objectSubject(gvk, ns, name);
  r.verb = "get";
  auto resp = send(r);
  if (!resp) return resp.error();
  WINDLASS_RETURN_IF_ERROR(statusFromHttp(resp->httpStatus, resp->body, r.subject, r.verb));
  return parseJsonBody(resp->body, alloc, r.subject);
}

Result<std::vector<JsonValue>> KubeClient::list(const Gvk& gvk, std::string_view ns,
                                                JsonAllocator& alloc, const ListOptions& options) {
  auto base = resourcePath(gvk, ns, "");
  if (!base) return base.error();
  std::string subject =
      gvk.groupKind() + (ns.empty() ? std::string(" (all)") : " in " + std::string(ns));
  std::vector<JsonValue> out;
  std::string continueToken;
  const std::string apiVersion = gvk.apiVersion();
  do {
    Request r;
    r.path = *base + "?limit=" + std::to_string(options.pageSize == 0 ? 500 : options.pageSize);
    if (!options.labelSelector.empty())
      r.path += "&labelSelector=" + percentEncode(options.labelSelector);
    if (!options.fieldSelector.empty())
      r.path += "&fieldSelector=" + percentEncode(options.fieldSelector);
    if (!continueToken.empty()) r.path += "&continue=" + percentEncode(continueToken);
    r.subject = subject;
    r.verb = "list";
    auto resp = send(r);
    if (!resp) return resp.error();
    WINDLASS_RETURN_IF_ERROR(statusFromHttp(resp->httpStatus, resp->body, r.subject, r.verb));
    auto page = parseJsonBody(resp->body, alloc, subject);
    if (!page) return page.error();
    const JsonValue* meta = member(*page, "metadata");
    continueToken = meta != nullptr ? memberString(*meta, "continue") : "";
    if (options.resourceVersion != nullptr && meta != nullptr) {
      *options.resourceVersion = memberString(*meta, "resourceVersion");
    }
    auto items = page->FindMember("items");
    if (items == page->MemberEnd() || !items->value.IsArray()) {
      if (items != page->MemberEnd() && items->value.IsNull()) continue;  // an empty list
      return Status::invalidArgument(subject + ": list response has no items");
    }
    for (JsonValue& item : items->value.GetArray()) {
      if (!item.IsObject()) continue;
      if (!item.HasMember("apiVersion"))
        item.AddMember("apiVersion", JsonValue(apiVersion, alloc), alloc);
      if (!item.HasMember("kind")) item.AddMember("kind", JsonValue(gvk.kind, alloc), alloc);
      out.push_back(std::move(item));
    }
  } while (!continueToken.empty());
  return out;
}

namespace {

// The state of one watch stream: bytes not yet split into lines, and the outcome.
struct WatchStream {
  const std::function<void(const WatchEvent&)>* onEvent = nullptr;
  const CancelToken* cancel = nullptr;
  std::string pending;
  std::string subject;
  Status failure;  // an ERROR event or a malformed line
  long httpStatus = 0;
  std::string errorBody;  // the body of a non-2xx answer
};

// Hands every complete line of `w.pending` to the callback as an event.
void drainLines(WatchStream& w) {
  size_t start = 0;
  while (w.failure.ok()) {
    size_t nl = w.pending.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(w.pending.data() + start, nl - start);
    start = nl + 1;
    if (line.empty()) continue;
    JsonAllocator alloc;
    auto doc = parseJsonBody(line, alloc, w.subject);
    if (!doc) {
      w.failure = doc.error();
      break;
    }
    std::string type = memberString(*doc, "type");
    const JsonValue* object = member(*doc, "object");
    if (type == "ERROR") {
      long code = object != nullptr && member(*object, "code") != nullptr &&
                          member(*object, "code")->IsInt()
                      ? member(*object, "code")->GetInt()
                      : 500;
      std::string msg = object != nullptr ? memberString(*object, "message") : "";
      w.failure = code == 410
                      ? Status::aborted(w.subject + ": watch expired (410 Gone): list again")
                      : statusFromHttp(code, "", w.subject, "watch " + msg);
      break;
    }
    WatchEvent e;
    if (type == "ADDED")
      e.type = WatchEvent::Type::kAdded;
    else if (type == "MODIFIED")
      e.type = WatchEvent::Type::kModified;
    else if (type == "DELETED")
      e.type = WatchEvent::Type::kDeleted;
    else if (type == "BOOKMARK")
      e.type = WatchEvent::Type::kBookmark;
    else
      continue;
    if (object == nullptr || !object->IsObject()) continue;
    e.object = object;
    const JsonValue* md = member(*object, "metadata");
    e.resourceVersion = md != nullptr ? memberString(*md, "resourceVersion") : "";
    (*w.onEvent)(e);
  }
  w.pending.erase(0, start);
}

size_t onWatchBody(char* data, size_t size, size_t n, void* self) {
  auto* w = static_cast<WatchStream*>(self);
  if (w->httpStatus >= 300) {  // the body of an error is a metav1.Status, not events
    w->errorBody.append(data, size * n);
    return size * n;
  }
  w->pending.append(data, size * n);
  drainLines(*w);
  return w->failure.ok() ? size * n : 0;  // 0 ends the transfer
}

int onWatchProgress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<WatchStream*>(self)->cancel->cancelled() ? 1 : 0;
}

size_t onWatchHeader(char* data, size_t size, size_t n, void* self) {
  auto* w = static_cast<WatchStream*>(self);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos)
      w->httpStatus = std::atol(std::string(line.substr(sp + 1, 3)).c_str());
  }
  return size * n;
}

}  // namespace

Status KubeClient::watch(const Gvk& gvk, std::string_view ns, const WatchOptions& options,
                         const std::function<void(const WatchEvent&)>& onEvent,
                         const CancelToken& cancel) {
  auto base = resourcePath(gvk, ns, "");
  if (!base) return base.error();
  std::string url = config().server + *base + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=" +
                    std::to_string(options.timeout.count());
  if (!options.labelSelector.empty())
    url += "&labelSelector=" + percentEncode(options.labelSelector);
  if (!options.resourceVersion.empty()) {
    url += "&resourceVersion=" + percentEncode(options.resourceVersion);
  }
  auto auth = credentials_.current();
  if (!auth) return auth.error();
  WatchStream w;
  w.onEvent = &onEvent;
  w.cancel = &cancel;
  w.subject = gvk.groupKind() + (ns.empty() ? std::string(" (all)") : " in " + std::string(ns));
  EasyHandle easy(curl_easy_init());
  CURL* h = easy.get();
  if (h == nullptr) return Status::internal("libcurl: curl_easy_init failed");
  SlistHandle headers;
  std::array<char, CURL_ERROR_SIZE> error{};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connectTimeout.count()));
  // The server closes the watch after `timeout`; a dead connection is caught a bit later.
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>((options.timeout.count() + 30) * 1000));
  curl_easy_setopt(h, CURLOPT_USERAGENT, options_.userAgent.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error.data());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &onWatchBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &onWatchHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &w);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &onWatchProgress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &w);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  if (!setConnection(h, config(), *auth, headers, "application/json", options_.impersonateUser)) {
    return Status::internal("libcurl: out of memory building headers");
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  CURLcode rc = curl_easy_perform(h);
  if (cancel.cancelled()) return Status::aborted("cancelled");
  if (!w.failure.ok()) return w.failure;
  if (w.httpStatus == 410)
    return Status::aborted(w.subject + ": watch expired (410 Gone): list again");
  if (w.httpStatus == 401) credentials_.invalidate();
  if (w.httpStatus >= 300) return statusFromHttp(w.httpStatus, w.errorBody, w.subject, "watch");
  if (rc == CURLE_OPERATION_TIMEDOUT) return {};  // a quiet watch: resume
  if (rc != CURLE_OK) {
    return Status::unavailable(
        w.subject +
        ": watch: " + (error[0] != '\0' ? std::string(error.data()) : curl_easy_strerror(rc)));
  }
  return {};
}

Result<Request> KubeApi::applyRequest(const JsonValue& object, const ApplyOptions& options) {
  std::string apiVersion = memberString(object, "apiVersion");
  std::string kind = memberString(object, "kind");
  const JsonValue* meta = member(object, "metadata");
  std::string name = meta != nullptr ? memberString(*meta, "name") : "";
  std::string ns = meta != nullptr ? memberString(*meta, "namespace") : "";
  if (apiVersion.empty() || kind.empty() || name.empty()) {
    return Status::invalidArgument("apply: object " +
                                   (kind.empty() ? std::string("<no kind>") : kind) + " " +
                                   (name.empty() ? std::string("<no name>") : name) +
                                   ": apiVersion, kind and metadata.name are required");
  }
  Gvk gvk = Gvk::fromApiVersion(apiVersion, kind);
  auto info = resolve(gvk);
  if (!info) return info.error().withContext(objectSubject(gvk, ns, name));
  if (info->namespaced && ns.empty()) ns = defaultNamespace();
  if (!info->namespaced) ns.clear();
  auto path = resourcePath(gvk, ns, name);
  if (!path) return path.error();
  Request r;
  r.method = "PATCH";
  r.path = *path + "?fieldManager=" + percentEncode(options.fieldManager);
  if (options.force) r.path += "&force=true";
  if (options.dryRun) r.path += "&dryRun=All";
  r.contentType = "application/apply-patch+yaml";  // JSON is YAML
  r.body = toJson(object);
  r.subject = objectSubject(gvk, ns, name);
  r.verb = "patch";  // the RBAC verb the server checks
  return r;
}

Result<JsonValue> KubeClient::apply(const JsonValue& object, JsonAllocator& alloc,
                                    const ApplyOptions& options) {
  auto r = applyRequest(object, options);
  if (!r) return r.error();
  auto resp = send(*r);
  if (!resp) return resp.error();
  WINDLASS_RETURN_IF_ERROR(statusFromHttp(resp->httpStatus, resp->body, r->subject, r->verb));
  return parseJsonBody(resp->body, alloc, r->subject);
}

Status KubeClient::remove(const Gvk& gvk, std::string_view ns, std::string_view name,
                          const RemoveOptions& options) {
  auto path = resourcePath(gvk, ns, name);
  if (!path) return path.error();
  Request r;
  r.method = "DELETE";
  r.path = *path;
  char sep = '?';
  if (!options.propagationPolicy.empty()) {
    r.path += "?propagationPolicy=" + percentEncode(options.propagationPolicy);
    sep = '&';
  }
  if (options.dryRun) r.path += std::string(1, sep) + "dryRun=All";
  r.subject = objectSubject(gvk, ns, name);
  r.verb = "delete";
  auto resp = send(r);
  if (!resp) return resp.error();
  return statusFromHttp(resp->httpStatus, resp->body, r.subject, r.verb);
}

}  // namespace windlass::reconcile
