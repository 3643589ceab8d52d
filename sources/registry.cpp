#include "sources/registry.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <mutex>
#include <set>
#include <thread>

#include "core/base64.h"
#include "core/json.h"
#include "core/sha256.h"
#include "core/url.h"

namespace windlass::sources {

namespace {

constexpr std::string_view kDockerHub = "registry-1.docker.io";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool validPathComponent(std::string_view c) {
  // distribution's reference grammar: [a-z0-9]+ separated by ".", "_", "__" or "-"+.
  if (c.empty()) return false;
  auto alnum = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); };
  if (!alnum(c.front()) || !alnum(c.back())) return false;
  for (char ch : c) {
    if (!alnum(ch) && ch != '.' && ch != '_' && ch != '-') return false;
  }
  return true;
}

}  // namespace

Result<ImageRepository> parseImageRepository(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::invalidArgument("image \"" + std::string(text) + "\": " + why);
  };
  if (text.empty()) return bad("empty");
  if (text.find('@') != std::string_view::npos) {
    return bad("a digest is not allowed here (name the repository only)");
  }
  std::string_view rest = text;
  std::string host;
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
        first == "localhost") {
      host = std::string(first);
      rest.remove_prefix(slash + 1);
    }
  }
  if (host.empty() || host == "docker.io" || host == "index.docker.io") {
    host = std::string(kDockerHub);
    if (rest.find('/') == std::string_view::npos) {
      if (rest.find(':') != std::string_view::npos) return bad("a tag is not allowed here");
      return ImageRepository{host, "library/" + std::string(rest)};
    }
  }
  if (rest.empty()) return bad("no repository after the registry host");
  std::string_view path = rest;
  while (true) {
    size_t s = path.find('/');
    std::string_view c = path.substr(0, s);
    if (c.find(':') != std::string_view::npos) return bad("a tag is not allowed here");
    if (!validPathComponent(c)) {
      return bad("path component \"" + std::string(c) +
                 "\" is not valid (lowercase letters, digits and . _ - inside)");
    }
    if (s == std::string_view::npos) break;
    path.remove_prefix(s + 1);
  }
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':' &&
        c != '[' && c != ']') {
      return bad("registry host \"" + host + "\" is not valid");
    }
  }
  return ImageRepository{host, std::string(rest)};
}

Result<std::optional<RegistryCredentials>> parseDockerConfig(std::string_view json,
                                                             std::string_view host) {
  JsonDocument doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) return Status::invalidArgument("docker config: not valid JSON");
  if (!doc.IsObject()) return Status::invalidArgument("docker config: not a JSON object");
  auto auths = doc.FindMember("auths");
  if (auths == doc.MemberEnd() || auths->value.IsNull())
    return std::optional<RegistryCredentials>();
  if (!auths->value.IsObject()) {
    return Status::invalidArgument("docker config: \"auths\" is not an object");
  }
  // The key of an entry, reduced to its host: scheme and path dropped.
  auto keyHost = [](std::string_view key) {
    std::string k = lower(key);
    for (std::string_view scheme : {"https://", "http://"}) {
      if (k.rfind(scheme, 0) == 0) k.erase(0, scheme.size());
    }
    size_t s = k.find('/');
    if (s != std::string::npos) k.erase(s);
    return k;
  };
  std::string want = lower(host);
  bool hub = want == kDockerHub;
  for (auto& m : auths->value.GetObject()) {
    std::string name(m.name.GetString(), m.name.GetStringLength());
    std::string h = keyHost(name);
    bool match = h == want || (hub && (h == "index.docker.io" || h == "docker.io"));
    if (!match) continue;
    if (!m.value.IsObject()) {
      return Status::invalidArgument("docker config: auths[\"" + name + "\"] is not an object");
    }
    auto str = [&](const char* field) -> Result<std::string> {
      auto it = m.value.FindMember(field);
      if (it == m.value.MemberEnd() || it->value.IsNull()) return std::string();
      if (!it->value.IsString()) {
        return Status::invalidArgument("docker config: auths[\"" + name + "\"]." + field +
                                       " is not a string");
      }
      return std::string(it->value.GetString(), it->value.GetStringLength());
    };
    RegistryCredentials c;
    auto auth = str("auth");
    if (!auth) return auth.error();
    if (!auth->empty()) {
      // base64(user:password), decoded by hand so a bad value never reaches a message.
      std::string decoded;
      uint32_t acc = 0;
      int bits = 0;
      for (char ch : *auth) {
        int v;
        if (ch >= 'A' && ch <= 'Z')
          v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
          v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
          v = ch - '0' + 52;
        else if (ch == '+')
          v = 62;
        else if (ch == '/')
          v = 63;
        else if (ch == '=' || ch == '\n' || ch == '\r')
          continue;
        else {
          return Status::invalidArgument("docker config: auths[\"" + name +
                                         "\"].auth is not base64");
        }
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
          bits -= 8;
          decoded.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
      }
      size_t colon = decoded.find(':');
      if (colon == std::string::npos) {
        return Status::invalidArgument("docker config: auths[\"" + name +
                                       "\"].auth is not base64 of user:password");
      }
      c.username = decoded.substr(0, colon);
      c.password = decoded.substr(colon + 1);
    }
    auto user = str("username");
    auto pass = str("password");
    auto idt = str("identitytoken");
    if (!user) return user.error();
    if (!pass) return pass.error();
    if (!idt) return idt.error();
    if (!user->empty()) c.username = *user;
    if (!pass->empty()) c.password = *pass;
    c.identityToken = *idt;
    return std::optional<RegistryCredentials>(std::move(c));
  }
  return std::optional<RegistryCredentials>();
}

Result<std::vector<std::string>> parseTagList(std::string_view json) {
  JsonDocument doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) return Status::invalidArgument("tag list: not valid JSON");
  if (!doc.IsObject()) return Status::invalidArgument("tag list: not a JSON object");
  std::vector<std::string> tags;
  auto it = doc.FindMember("tags");
  if (it == doc.MemberEnd() || it->value.IsNull()) return tags;
  if (!it->value.IsArray()) return Status::invalidArgument("tag list: \"tags\" is not an array");
  tags.reserve(it->value.Size());
  for (auto& t : it->value.GetArray()) {
    if (!t.IsString()) return Status::invalidArgument("tag list: a tag is not a string");
    tags.emplace_back(t.GetString(), t.GetStringLength());
  }
  return tags;
}

std::optional<std::string> nextLinkFromHeader(std::string_view value) {
  // link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ), comma-separated.
  while (true) {
    value = trim(value);
    while (!value.empty() && value.front() == ',') value = trim(value.substr(1));
    if (value.empty() || value.front() != '<') return std::nullopt;
    size_t close = value.find('>');
    if (close == std::string_view::npos) return std::nullopt;
    std::string target(value.substr(1, close - 1));
    value.remove_prefix(close + 1);
    bool next = false;
    // Parameters up to the next comma outside quotes.
    while (true) {
      value = trim(value);
      if (value.empty() || value.front() == ',') break;
      if (value.front() != ';') return std::nullopt;
      value = trim(value.substr(1));
      size_t i = 0;
      while (i < value.size() && value[i] != '=' && value[i] != ';' && value[i] != ',') ++i;
      std::string name = lower(trim(value.substr(0, i)));
      value.remove_prefix(i);
      std::string param;
      if (!value.empty() && value.front() == '=') {
        value = trim(value.substr(1));
        if (!value.empty() && value.front() == '"') {
          size_t q = value.find('"', 1);
          if (q == std::string_view::npos) return std::nullopt;
          param = std::string(value.substr(1, q - 1));
          value.remove_prefix(q + 1);
        } else {
          size_t j = 0;
          while (j < value.size() && value[j] != ';' && value[j] != ',') ++j;
          param = std::string(trim(value.substr(0, j)));
          value.remove_prefix(j);
        }
      }
      if (name == "rel") {
        // rel may hold several space-separated relation types.
        std::string_view rels = param;
        while (!rels.empty()) {
          size_t sp = rels.find(' ');
          if (iequals(rels.substr(0, sp), "next")) next = true;
          if (sp == std::string_view::npos) break;
          rels.remove_prefix(sp + 1);
        }
      }
    }
    if (next && !target.empty()) return target;
  }
}

Result<Challenge> parseChallenge(std::string_view value) {
  value = trim(value);
  size_t i = 0;
  while (i < value.size() && value[i] != ' ' && value[i] != ',') ++i;
  if (i == 0) return Status::invalidArgument("challenge: no scheme");
  Challenge c;
  c.scheme = std::string(value.substr(0, i));
  value.remove_prefix(i);
  while (true) {
    value = trim(value);
    while (!value.empty() && value.front() == ',') value = trim(value.substr(1));
    if (value.empty()) break;
    size_t eq = value.find('=');
    if (eq == std::string_view::npos) {
      // token68 or the start of another challenge: stop at the first challenge.
      break;
    }
    std::string name = lower(trim(value.substr(0, eq)));
    if (name.empty() || name.find(' ') != std::string::npos) break;  // next challenge
    value = trim(value.substr(eq + 1));
    std::string param;
    if (!value.empty() && value.front() == '"') {
      size_t j = 1;
      bool closed = false;
      while (j < value.size()) {
        if (value[j] == '\\' && j + 1 < value.size()) {
          param.push_back(value[j + 1]);
          j += 2;
          continue;
        }
        if (value[j] == '"') {
          closed = true;
          break;
        }
        param.push_back(value[j++]);
      }
      if (!closed) return Status::invalidArgument("challenge: unterminated quoted value");
      value.remove_prefix(j + 1);
    } else {
      size_t j = 0;
      while (j < value.size() && value[j] != ',') ++j;
      param = std::string(trim(value.substr(0, j)));
      value.remove_prefix(j);
    }
    c.params[name] = std::move(param);
  }
  return c;
}

Result<BearerToken> parseTokenResponse(std::string_view json) {
  JsonDocument doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::invalidArgument("token response: not a JSON object");
  }
  BearerToken t;
  for (const char* field : {"token", "access_token"}) {
    auto it = doc.FindMember(field);
    if (it != doc.MemberEnd() && it->value.IsString() && it->value.GetStringLength() > 0) {
      t.token.assign(it->value.GetString(), it->value.GetStringLength());
      break;
    }
  }
  if (t.token.empty()) return Status::invalidArgument("token response: no \"token\"");
  auto exp = doc.FindMember("expires_in");
  if (exp != doc.MemberEnd() && exp->value.IsInt64() && exp->value.GetInt64() > 0) {
    t.expiresInSeconds = exp->value.GetInt64();
  }
  return t;
}

std::optional<int64_t> parseRetryAfter(std::string_view value, std::chrono::seconds now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return 999'999'999;
    return std::stoll(std::string(value));
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  std::string s(value);
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  int64_t at = static_cast<int64_t>(::timegm(&tm));
  return std::max<int64_t>(0, at - now.count());
}

// ---------------------------------------------------------------------------------------
// The client.

namespace {

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

constexpr size_t kMaxBody = 64 << 20;  // a tag page or token answer never needs more

struct Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names; last value wins
  bool truncated = false;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

size_t onBody(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  size_t len = size * n;
  if (r->body.size() + len > kMaxBody) {
    r->truncated = true;
    return 0;
  }
  r->body.append(data, len);
  return len;
}

size_t onHeader(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    r->headers.clear();  // a new response (after a 100 or a redirect)
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    r->headers[lower(trim(line.substr(0, colon)))] = std::string(trim(line.substr(colon + 1)));
  }
  return size * n;
}

// The scheme and authority of an absolute URL ("https://h:1"), or "" when `url` is not one.
std::string origin(std::string_view url) {
  size_t p = url.find("://");
  if (p == std::string_view::npos) return "";
  size_t s = url.find('/', p + 3);
  return std::string(url.substr(0, s));
}

}  // namespace

struct RegistryClient::Impl {
  RegistryOptions options;
  EasyHandle curl;
  struct CachedToken {
    std::string token;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, CachedToken> tokens;  // realm|service|scope|user → token
  // What each host asked for last time, so later requests go straight to it:
  // "basic" or "bearer" with the challenge's realm and service.
  struct HostAuth {
    std::string scheme;
    Challenge challenge;
  };
  std::map<std::string, HostAuth> hostAuth;

  std::string base(const ImageRepository& repo) const {
    return std::string(options.insecure ? "http://" : "https://") + repo.host;
  }
};

RegistryClient::RegistryClient(RegistryOptions options) : impl_(std::make_unique<Impl>()) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->options = std::move(options);
  impl_->curl.reset(curl_easy_init());
}

RegistryClient::~RegistryClient() = default;

namespace {

// One HTTP exchange on `h`. `authorization` is the whole header value or "". `userpass`
// ("user:password") is used instead when set. Never logs; curl's verbose mode stays off.
Result<Response> perform(CURL* h, const RegistryOptions& o, const std::string& method,
                         const std::string& url, const std::vector<std::string>& extraHeaders,
                         const std::string& authorization, const RegistryCredentials* basic) {
  if (h == nullptr) return Status::internal("curl_easy_init failed");
  curl_easy_reset(h);
  Response r;
  char err[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connectTimeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(o.requestTimeout.count()));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_USERAGENT, "windlass");
  // Registries redirect blob and sometimes manifest requests; follow within http(s) only,
  // and never send credentials to another host (curl's default without UNRESTRICTED_AUTH).
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (!o.caFile.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, o.caFile.c_str());
  if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  }
  Slist headers;
  for (const std::string& x : extraHeaders) {
    headers.reset(curl_slist_append(headers.release(), x.c_str()));
  }
  std::string authHeader;
  if (!authorization.empty()) {
    authHeader = "Authorization: " + authorization;
    headers.reset(curl_slist_append(headers.release(), authHeader.c_str()));
  }
  if (basic != nullptr) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, basic->username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, basic->password.c_str());
  }
  if (headers) curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  CURLcode rc = curl_easy_perform(h);
  // Wipe the copy of the secret header before it is freed.
  std::fill(authHeader.begin(), authHeader.end(), '\0');
  if (rc != CURLE_OK) {
    if (r.truncated) return Status::resourceExhausted("answer larger than 64 MiB");
    std::string why = err[0] != '\0' ? std::string(err) : curl_easy_strerror(rc);
    if (rc == CURLE_OPERATION_TIMEDOUT) return Status::unavailable("timed out: " + why);
    return Status::unavailable(why);
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

// The registry's error text from an error body ({"errors":[{"code","message"}]}), short.
std::string registryError(const Response& r) {
  JsonDocument doc;
  doc.Parse(r.body.data(), r.body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    auto it = doc.FindMember("errors");
    if (it != doc.MemberEnd() && it->value.IsArray() && it->value.Size() > 0 &&
        it->value[0].IsObject()) {
      std::string out;
      auto code = it->value[0].FindMember("code");
      auto msg = it->value[0].FindMember("message");
      if (code != it->value[0].MemberEnd() && code->value.IsString()) out = code->value.GetString();
      if (msg != it->value[0].MemberEnd() && msg->value.IsString()) {
        out += (out.empty() ? "" : ": ") + std::string(msg->value.GetString());
      }
      if (out.size() > 200) out.resize(200);
      return out;
    }
  }
  return "";
}

}  // namespace

namespace {

// The request loop for one URL of `repo`: authorisation (cached or negotiated), 429s.
// `what` names the request in errors ("tags", "manifest 1.0").
class Exchange {
 public:
  Exchange(RegistryClient::Impl& impl, RegistryStats& stats, const ImageRepository& repo,
           const RegistryCredentials& creds)
      : impl_(impl), stats_(stats), repo_(repo), creds_(creds) {}

  Result<Response> run(const std::string& method, const std::string& url,
                       const std::vector<std::string>& headers) {
    bool negotiated = false;
    int throttled = 0;
    while (true) {
      std::string authorization;
      const RegistryCredentials* basic = nullptr;
      auto ha = impl_.hostAuth.find(repo_.host);
      if (ha != impl_.hostAuth.end()) {
        if (ha->second.scheme == "basic") {
          if (!creds_.anonymous()) basic = &creds_;
        } else {
          auto token = bearer(ha->second.challenge, !negotiated);
          if (!token) return token.error();
          if (!token->empty()) authorization = "Bearer " + *token;
        }
      }
      ++stats_.requests;
      auto r = perform(impl_.curl.get(), impl_.options, method, url, headers, authorization, basic);
      std::fill(authorization.begin(), authorization.end(), '\0');
      if (!r) return r.error().withContext("registry " + repo_.host);
      if (r->status == 401) {
        if (negotiated) return refused(*r);
        negotiated = true;
        std::string www = r->header("www-authenticate");
        if (www.empty()) return refused(*r);
        auto ch = parseChallenge(www);
        if (!ch) return ch.error().withContext("registry " + repo_.host);
        if (iequals(ch->scheme, "basic")) {
          if (creds_.anonymous()) return refused(*r);
          impl_.hostAuth[repo_.host] = {"basic", *ch};
        } else if (iequals(ch->scheme, "bearer")) {
          // A scope of our own when the challenge names none (some registries answer /v2/
          // style challenges on repository URLs).
          if (ch->params.find("scope") == ch->params.end() || ch->params["scope"].empty()) {
            ch->params["scope"] = "repository:" + repo_.repository + ":pull";
          }
          // The cached token (if any) was refused: drop it.
          dropToken(*ch);
          impl_.hostAuth[repo_.host] = {"bearer", *ch};
        } else {
          return Status::unimplemented("registry " + repo_.host + ": authentication scheme \"" +
                                       ch->scheme + "\" is not supported");
        }
        continue;
      }
      if (r->status == 429) {
        ++stats_.throttled;
        if (throttled++ >= impl_.options.maxRetries) {
          return Status::resourceExhausted("registry " + repo_.host + ": " + repo_.repository +
                                           ": still throttled (429) after " +
                                           std::to_string(impl_.options.maxRetries) + " retries");
        }
        auto now = std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch());
        int64_t wait = parseRetryAfter(r->header("retry-after"), now).value_or(1);
        wait = std::min<int64_t>(wait, impl_.options.maxRetryAfter.count());
        if (!sleep(std::chrono::seconds(wait))) {
          return Status::aborted("registry " + repo_.host + ": cancelled");
        }
        continue;
      }
      return r;
    }
  }

 private:
  std::string tokenKey(const Challenge& ch) {
    auto get = [&](const char* k) {
      auto it = ch.params.find(k);
      return it == ch.params.end() ? std::string() : it->second;
    };
    // The scope for this repository: a host challenge remembered from another repository
    // names that one's scope.
    return get("realm") + "|" + get("service") + "|" + scope(ch) + "|" + creds_.username;
  }

  std::string scope(const Challenge& ch) {
    std::string s = "repository:" + repo_.repository + ":pull";
    auto it = ch.params.find("scope");
    if (it != ch.params.end() && it->second.rfind("repository:" + repo_.repository + ":", 0) == 0) {
      s = it->second;
    }
    return s;
  }

  void dropToken(const Challenge& ch) { impl_.tokens.erase(tokenKey(ch)); }

  bool sleep(std::chrono::seconds d) {
    if (impl_.options.cancel != nullptr) return impl_.options.cancel->waitFor(d);
    std::this_thread::sleep_for(d);
    return true;
  }

  // A token for this repository from the challenge's realm (cached); "" never.
  Result<std::string> bearer(const Challenge& ch, bool mayUseCache) {
    std::string key = tokenKey(ch);
    auto now = std::chrono::steady_clock::now();
    auto cached = impl_.tokens.find(key);
    if (mayUseCache && cached != impl_.tokens.end() && cached->second.expires > now) {
      return cached->second.token;
    }
    auto realm = ch.params.find("realm");
    if (realm == ch.params.end() || realm->second.empty()) {
      return Status::invalidArgument("registry " + repo_.host +
                                     ": Bearer challenge without a realm");
    }
    if (realm->second.rfind("https://", 0) != 0 &&
        !(impl_.options.insecure && realm->second.rfind("http://", 0) == 0)) {
      return Status::failedPrecondition("registry " + repo_.host + ": token realm \"" +
                                        realm->second +
                                        "\" is not https (set insecure: true for plain HTTP)");
    }
    std::string url = realm->second;
    url += url.find('?') == std::string::npos ? '?' : '&';
    auto service = ch.params.find("service");
    if (service != ch.params.end()) url += "service=" + percentEncode(service->second) + "&";
    url += "scope=" + percentEncode(scope(ch));
    std::string authorization;
    const RegistryCredentials* basic = nullptr;
    std::string method = "GET";
    if (!creds_.identityToken.empty()) {
      // OAuth2 refresh token: Docker's token spec allows it on GET as well; keep it simple.
      authorization = "Bearer " + creds_.identityToken;
    } else if (!creds_.anonymous()) {
      basic = &creds_;
    }
    ++stats_.requests;
    ++stats_.tokenRequests;
    auto r = perform(impl_.curl.get(), impl_.options, method, url, {}, authorization, basic);
    std::fill(authorization.begin(), authorization.end(), '\0');
    if (!r) return r.error().withContext("registry " + repo_.host + ": token server");
    if (r->status == 401 || r->status == 403) {
      if (creds_.anonymous()) {
        return Status::unauthenticated("registry " + repo_.host + ": " + repo_.repository +
                                       ": the token server refused anonymous access "
                                       "(credentials needed)");
      }
      return Status::unauthenticated("registry " + repo_.host + ": credentials for user \"" +
                                     creds_.username + "\" refused by the token server");
    }
    if (r->status != 200) {
      return Status::unavailable("registry " + repo_.host + ": token server answered HTTP " +
                                 std::to_string(r->status));
    }
    auto t = parseTokenResponse(r->body);
    if (!t) return t.error().withContext("registry " + repo_.host);
    int64_t life = std::max<int64_t>(t->expiresInSeconds - 10, 1);
    impl_.tokens[key] = {t->token, now + std::chrono::seconds(life)};
    return t->token;
  }

  Status refused(const Response& r) {
    std::string detail = registryError(r);
    std::string tail = detail.empty() ? "" : " (" + detail + ")";
    if (creds_.anonymous()) {
      return Status::unauthenticated("registry " + repo_.host + ": " + repo_.repository +
                                     ": authentication required and no credentials given" + tail);
    }
    return Status::unauthenticated("registry " + repo_.host + ": credentials for user \"" +
                                   creds_.username + "\" refused" + tail);
  }

  RegistryClient::Impl& impl_;
  RegistryStats& stats_;
  const ImageRepository& repo_;
  const RegistryCredentials& creds_;
};

Status statusError(const ImageRepository& repo, const std::string& what, const Response& r) {
  std::string detail = registryError(r);
  std::string tail = detail.empty() ? "" : ": " + detail;
  std::string where = "registry " + repo.host + ": " + repo.repository + ": " + what;
  switch (r.status) {
    case 403:
      return Status::permissionDenied(where + ": access denied (HTTP 403)" + tail);
    case 404:
      return Status::notFound(where + ": not found (HTTP 404)" + tail);
    default:
      if (r.status >= 500) {
        return Status::unavailable(where + ": HTTP " + std::to_string(r.status) + tail);
      }
      return Status::failedPrecondition(where + ": unexpected HTTP " + std::to_string(r.status) +
                                        tail);
  }
}

}  // namespace

Result<std::vector<std::string>> RegistryClient::listTags(const ImageRepository& repo,
                                                          const RegistryCredentials& credentials) {
  Exchange ex(*impl_, stats_, repo, credentials);
  std::string base = impl_->base(repo);
  std::string url = base + "/v2/" + repo.repository +
                    "/tags/list?n=" + std::to_string(std::max(1, impl_->options.pageSize));
  std::vector<std::string> tags;
  std::set<std::string> seen;
  for (int page = 0;; ++page) {
    if (page >= impl_->options.maxPages) {
      return Status::failedPrecondition("registry " + repo.host + ": " + repo.repository +
                                        ": more than " + std::to_string(impl_->options.maxPages) +
                                        " pages of tags");
    }
    if (!seen.insert(url).second) {
      return Status::failedPrecondition("registry " + repo.host + ": " + repo.repository +
                                        ": tag pages link in a loop");
    }
    if (impl_->options.cancel != nullptr && impl_->options.cancel->cancelled()) {
      return Status::aborted("registry " + repo.host + ": cancelled");
    }
    auto r = ex.run("GET", url, {"Accept: application/json"});
    if (!r) return r.error();
    if (r->status != 200) return statusError(repo, "tags", *r);
    auto pageTags = parseTagList(r->body);
    if (!pageTags) {
      return pageTags.error().withContext("registry " + repo.host + ": " + repo.repository);
    }
    tags.insert(tags.end(), std::make_move_iterator(pageTags->begin()),
                std::make_move_iterator(pageTags->end()));
    auto next = nextLinkFromHeader(r->header("link"));
    if (!next) break;
    if (next->rfind("/", 0) == 0) {
      url = base + *next;
    } else if (origin(*next) == base) {
      url = *next;
    } else {
      return Status::failedPrecondition("registry " + repo.host + ": " + repo.repository +
                                        ": next page link points to another host");
    }
  }
  return tags;
}

Result<std::string> RegistryClient::digest(const ImageRepository& repo, const std::string& tag,
                                           const RegistryCredentials& credentials) {
  Exchange ex(*impl_, stats_, repo, credentials);
  std::string url =
      impl_->base(repo) + "/v2/" + repo.repository + "/manifests/" + percentEncode(tag);
  std::vector<std::string> accept = {
      "Accept: application/vnd.oci.image.index.v1+json, "
      "application/vnd.docker.distribution.manifest.list.v2+json, "
      "application/vnd.oci.image.manifest.v1+json, "
      "application/vnd.docker.distribution.manifest.v2+json"};
  auto r = ex.run("HEAD", url, accept);
  if (!r) return r.error();
  if (r->status != 200) return statusError(repo, "manifest " + tag, *r);
  std::string d = r->header("docker-content-digest");
  if (d.empty()) {
    auto g = ex.run("GET", url, accept);
    if (!g) return g.error();
    if (g->status != 200) return statusError(repo, "manifest " + tag, *g);
    d = "sha256:" + sha256Hex(g->body);
  }
  if (d.rfind("sha256:", 0) != 0 || d.size() != 71) {
    return Status::invalidArgument("registry " + repo.host + ": " + repo.repository +
                                   ": manifest " + tag + ": digest \"" + d.substr(0, 80) +
                                   "\" is not a sha256 digest");
  }
  return d;
}

}  // namespace windlass::sources
