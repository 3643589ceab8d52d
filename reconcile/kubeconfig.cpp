#include "reconcile/kubeconfig.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json.h"
#include "overlays/yaml.h"

extern char** environ;

namespace windlass::reconcile {
namespace {

namespace fs = std::filesystem;

Result<std::string> readWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string msg = "cannot read \"" + path + "\": " + std::strerror(err);
    if (err == ENOENT) return Status::notFound(msg);
    return Status::invalidArgument(msg);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trimSpace(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// A scalar field as text (YAML 1.1 typing may turn `token: 12345` into a number). Absent
// or null: nullopt. A map or a sequence: an error.
Result<std::optional<std::string>> scalarField(const JsonValue& obj, const char* key,
                                               const std::string& where) {
  if (!obj.IsObject()) return std::optional<std::string>{};
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::optional<std::string>{};
  const JsonValue& v = it->value;
  if (v.IsString())
    return std::optional<std::string>(std::string(v.GetString(), v.GetStringLength()));
  if (v.IsBool()) return std::optional<std::string>(v.GetBool() ? "true" : "false");
  if (v.IsInt64()) return std::optional<std::string>(std::to_string(v.GetInt64()));
  if (v.IsUint64()) return std::optional<std::string>(std::to_string(v.GetUint64()));
  return Status::invalidArgument(where + key + ": expected a string");
}

Result<bool> boolField(const JsonValue& obj, const char* key, const std::string& where) {
  if (!obj.IsObject()) return false;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) return false;
  if (it->value.IsBool()) return it->value.GetBool();
  if (it->value.IsString()) {
    std::string s = it->value.GetString();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return Status::invalidArgument(where + key + ": expected true or false");
}

// Finds the entry named `name` in the list `listKey` ("clusters", "users", "contexts") and
// returns its `innerKey` map ("cluster", "user", "context").
Result<const JsonValue*> findNamed(const JsonValue& root, const char* listKey, const char* innerKey,
                                   const std::string& name, const std::string& prefix,
                                   const char* what) {
  auto it = root.FindMember(listKey);
  std::vector<std::string> known;
  if (it != root.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsArray())
      return Status::invalidArgument(prefix + listKey + ": expected a list");
    size_t i = 0;
    for (const JsonValue& e : it->value.GetArray()) {
      std::string where = prefix + listKey + "[" + std::to_string(i++) + "]";
      if (!e.IsObject()) return Status::invalidArgument(where + ": expected a map");
      auto n = e.FindMember("name");
      if (n == e.MemberEnd() || !n->value.IsString())
        return Status::invalidArgument(where + ".name: expected a string");
      std::string entryName = n->value.GetString();
      if (entryName != name) {
        known.push_back(entryName);
        continue;
      }
      auto inner = e.FindMember(innerKey);
      if (inner == e.MemberEnd() || !inner->value.IsObject())
        return Status::invalidArgument(where + "." + innerKey + ": expected a map");
      return &inner->value;
    }
  }
  std::string msg = prefix + what + " \"" + name + "\" not found";
  if (!known.empty()) {
    msg += " (known: ";
    for (size_t i = 0; i < known.size(); ++i) msg += (i ? ", " : "") + known[i];
    msg += ")";
  }
  return Status::invalidArgument(msg);
}

std::string resolvePath(const std::string& p, const fs::path& baseDir) {
  if (p.empty()) return p;
  if (p.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home != nullptr) return (fs::path(home) / p.substr(2)).string();
  }
  fs::path path(p);
  if (path.is_absolute()) return p;
  return (baseDir / path).lexically_normal().string();
}

// `field-data` (base64) or `field` (a file path); `where` is the message prefix.
Result<std::string> pemField(const JsonValue& obj, const std::string& field,
                             const fs::path& baseDir, const std::string& where) {
  std::string dataKey = field + "-data";
  auto data = scalarField(obj, dataKey.c_str(), where);
  if (!data) return data.error();
  if (*data && !(*data)->empty()) {
    auto decoded = decodeBase64(**data);
    if (!decoded) return Status::invalidArgument(where + dataKey + ": not valid base64");
    return std::move(*decoded);
  }
  auto file = scalarField(obj, field.c_str(), where);
  if (!file) return file.error();
  if (!*file || (*file)->empty()) return std::string();
  auto content = readWholeFile(resolvePath(**file, baseDir));
  if (!content) return content.error().withContext(where + field);
  return std::move(*content);
}

Result<ExecConfig> parseExec(const JsonValue& exec, const fs::path& baseDir,
                             const std::string& where) {
  if (!exec.IsObject()) return Status::invalidArgument(where + ": expected a map");
  std::string w = where + ".";
  ExecConfig out;
  auto api = scalarField(exec, "apiVersion", w);
  if (!api) return api.error();
  out.apiVersion = api->value_or("");
  if (out.apiVersion != "client.authentication.k8s.io/v1" &&
      out.apiVersion != "client.authentication.k8s.io/v1beta1") {
    return Status::invalidArgument(w + "apiVersion: \"" + out.apiVersion +
                                   "\" is not supported (use client.authentication.k8s.io/v1)");
  }
  auto cmd = scalarField(exec, "command", w);
  if (!cmd) return cmd.error();
  if (!*cmd || (*cmd)->empty()) return Status::invalidArgument(w + "command: missing");
  out.command = **cmd;
  if (out.command.find('/') != std::string::npos) out.command = resolvePath(out.command, baseDir);
  if (auto it = exec.FindMember("args"); it != exec.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsArray()) return Status::invalidArgument(w + "args: expected a list");
    for (const JsonValue& a : it->value.GetArray()) {
      if (!a.IsString()) return Status::invalidArgument(w + "args: expected strings");
      out.args.emplace_back(a.GetString(), a.GetStringLength());
    }
  }
  if (auto it = exec.FindMember("env"); it != exec.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsArray()) return Status::invalidArgument(w + "env: expected a list");
    size_t i = 0;
    for (const JsonValue& e : it->value.GetArray()) {
      std::string ew = w + "env[" + std::to_string(i++) + "].";
      auto name = scalarField(e, "name", ew);
      if (!name) return name.error();
      auto value = scalarField(e, "value", ew);
      if (!value) return value.error();
      if (!*name || (*name)->empty()) return Status::invalidArgument(ew + "name: missing");
      out.env.emplace_back(**name, value->value_or(""));
    }
  }
  auto hint = scalarField(exec, "installHint", w);
  if (!hint) return hint.error();
  out.installHint = hint->value_or("");
  auto info = boolField(exec, "provideClusterInfo", w);
  if (!info) return info.error();
  out.provideClusterInfo = *info;
  if (auto it = exec.FindMember("interactiveMode");
      it != exec.MemberEnd() && it->value.IsString() &&
      std::string(it->value.GetString()) == "Always") {
    return Status::invalidArgument(w + "interactiveMode: Always is not possible for an agent");
  }
  return out;
}

// Splits "https://host:port/prefix" sanity: the server must be http(s).
Status checkServer(const std::string& server, const std::string& where) {
  if (server.rfind("https://", 0) != 0 && server.rfind("http://", 0) != 0)
    return Status::invalidArgument(where + "server: \"" + server + "\" is not an http(s) URL");
  return Status();
}

Result<std::tm> parseRfc3339(const std::string& s) {
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return Status::invalidArgument("not an RFC 3339 time: " + s);
  if (*end == '.') {
    ++end;
    while (*end >= '0' && *end <= '9') ++end;
  }
  long offset = 0;
  if (*end == '+' || *end == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(end + 1, "%2d:%2d", &hh, &mm) != 2)
      return Status::invalidArgument("not an RFC 3339 time: " + s);
    offset = (hh * 3600L + mm * 60L) * (*end == '-' ? -1 : 1);
  } else if (*end != 'Z' && *end != 'z') {
    return Status::invalidArgument("not an RFC 3339 time: " + s);
  }
  time_t t = ::timegm(&tm) - offset;
  std::tm out{};
  ::gmtime_r(&t, &out);
  return out;
}

}  // namespace

std::optional<std::string> decodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=') {
      padding = true;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
      continue;
    else
      return std::nullopt;
    if (padding) return std::nullopt;  // data after '='
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

Result<ClusterConfig> parseKubeconfig(std::string_view text, const std::string& path,
                                      std::string_view context) {
  JsonAllocator alloc;
  auto docs = overlays::parseYaml(text, path, overlays::YamlDialect::kKustomization, alloc);
  if (!docs) return docs.error();
  if (docs->empty() || !(*docs)[0].IsObject())
    return Status::invalidArgument(path + ": not a kubeconfig (expected a map)");
  const JsonValue& root = (*docs)[0];
  const std::string prefix = path + ": ";
  const fs::path baseDir = fs::path(path).parent_path();

  std::string ctxName(context);
  if (ctxName.empty()) {
    auto cur = scalarField(root, "current-context", prefix);
    if (!cur) return cur.error();
    if (!*cur || (*cur)->empty())
      return Status::invalidArgument(prefix +
                                     "current-context is not set and no context was chosen");
    ctxName = **cur;
  }
  auto ctx = findNamed(root, "contexts", "context", ctxName, prefix, "context");
  if (!ctx) return ctx.error();
  const std::string ctxWhere = prefix + "context \"" + ctxName + "\": ";
  auto clusterName = scalarField(**ctx, "cluster", ctxWhere);
  if (!clusterName) return clusterName.error();
  if (!*clusterName || (*clusterName)->empty())
    return Status::invalidArgument(ctxWhere + "cluster: missing");
  auto userName = scalarField(**ctx, "user", ctxWhere);
  if (!userName) return userName.error();
  auto ns = scalarField(**ctx, "namespace", ctxWhere);
  if (!ns) return ns.error();

  ClusterConfig out;
  out.origin = path;
  out.contextName = ctxName;
  if (*ns && !(*ns)->empty()) out.namespaceName = **ns;

  auto cluster = findNamed(root, "clusters", "cluster", **clusterName, ctxWhere, "cluster");
  if (!cluster) return cluster.error();
  const JsonValue& c = **cluster;
  const std::string cw = prefix + "cluster \"" + **clusterName + "\": ";
  auto server = scalarField(c, "server", cw);
  if (!server) return server.error();
  if (!*server || (*server)->empty()) return Status::invalidArgument(cw + "server: missing");
  out.server = **server;
  while (!out.server.empty() && out.server.back() == '/') out.server.pop_back();
  WINDLASS_RETURN_IF_ERROR(checkServer(out.server, cw));
  auto ca = pemField(c, "certificate-authority", baseDir, cw);
  if (!ca) return ca.error();
  out.caPem = std::move(*ca);
  auto insecure = boolField(c, "insecure-skip-tls-verify", cw);
  if (!insecure) return insecure.error();
  out.insecureSkipTlsVerify = *insecure;
  auto sni = scalarField(c, "tls-server-name", cw);
  if (!sni) return sni.error();
  out.tlsServerName = sni->value_or("");

  if (*userName && !(*userName)->empty()) {
    auto user = findNamed(root, "users", "user", **userName, ctxWhere, "user");
    if (!user) return user.error();
    const JsonValue& u = **user;
    const std::string uw = prefix + "user \"" + **userName + "\": ";
    auto cert = pemField(u, "client-certificate", baseDir, uw);
    if (!cert) return cert.error();
    auto key = pemField(u, "client-key", baseDir, uw);
    if (!key) return key.error();
    if (cert->empty() != key->empty()) {
      return Status::invalidArgument(uw + (cert->empty()
                                               ? "client-key is set without client-certificate"
                                               : "client-certificate is set without client-key"));
    }
    out.clientCertPem = std::move(*cert);
    out.clientKeyPem = std::move(*key);
    auto token = scalarField(u, "token", uw);
    if (!token) return token.error();
    out.token = token->value_or("");
    auto tokenFile = scalarField(u, "tokenFile", uw);
    if (!tokenFile) return tokenFile.error();
    if (*tokenFile && !(*tokenFile)->empty()) {
      out.tokenFile = resolvePath(**tokenFile, baseDir);
      auto probe = readWholeFile(out.tokenFile);  // fail early, with the field named
      if (!probe) return probe.error().withContext(uw + "tokenFile");
    }
    auto username = scalarField(u, "username", uw);
    if (!username) return username.error();
    out.username = username->value_or("");
    auto password = scalarField(u, "password", uw);
    if (!password) return password.error();
    out.password = password->value_or("");
    if (auto it = u.FindMember("exec"); it != u.MemberEnd() && !it->value.IsNull()) {
      auto exec = parseExec(it->value, baseDir, uw + "exec");
      if (!exec) return exec.error();
      out.exec = std::move(*exec);
    }
    for (const char* unsupported : {"auth-provider", "as", "act-as"}) {
      if (u.HasMember(unsupported))
        return Status::invalidArgument(uw + unsupported + ": not supported by windlass");
    }
  }
  return out;
}

Result<ClusterConfig> loadKubeconfig(const std::string& path, std::string_view context) {
  std::string p = resolvePath(path, fs::current_path());
  auto text = readWholeFile(p);
  if (!text) return text.error().withContext("kubeconfig");
  return parseKubeconfig(*text, p, context);
}

Result<ClusterConfig> inClusterConfig(const InClusterOptions& options) {
  std::string host = options.host;
  std::string port = options.port;
  if (host.empty()) {
    const char* h = std::getenv("KUBERNETES_SERVICE_HOST");
    if (h != nullptr) host = h;
  }
  if (port.empty()) {
    const char* p = std::getenv("KUBERNETES_SERVICE_PORT");
    if (p != nullptr) port = p;
  }
  if (host.empty() || port.empty()) {
    return Status::failedPrecondition(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
        "(not running in a pod?)");
  }
  ClusterConfig out;
  out.origin = "in-cluster config";
  bool ipv6 = host.find(':') != std::string::npos;
  out.server = "https://" + (ipv6 ? "[" + host + "]" : host) + ":" + port;
  fs::path dir(options.serviceAccountDir);
  // Tests only (packaging/kubernetes's test): the kubelet's folder is replaced by this one,
  // so a test can run the agent with a real service-account token outside a pod.
  const char* testDir = std::getenv("WINDLASS_TEST_SERVICE_ACCOUNT_DIR");
  if (testDir != nullptr && *testDir != '\0' &&
      options.serviceAccountDir == InClusterOptions().serviceAccountDir) {
    dir = testDir;
  }
  out.tokenFile = (dir / "token").string();
  auto probe = readWholeFile(out.tokenFile);
  if (!probe) return probe.error().withContext("in-cluster config: token");
  auto ca = readWholeFile((dir / "ca.crt").string());
  if (!ca) return ca.error().withContext("in-cluster config: ca.crt");
  out.caPem = std::move(*ca);
  auto ns = readWholeFile((dir / "namespace").string());
  if (ns && !trimSpace(*ns).empty()) out.namespaceName = trimSpace(*ns);
  return out;
}

Result<ClusterConfig> loadDefaultConfig(const std::string& path, std::string_view context) {
  if (!path.empty()) return loadKubeconfig(path, context);
  const char* env = std::getenv("KUBECONFIG");
  if (env != nullptr && *env != '\0') {
    std::string first(env);
    first = first.substr(0, first.find(':'));
    return loadKubeconfig(first, context);
  }
  const char* home = std::getenv("HOME");
  if (home != nullptr) {
    fs::path p = fs::path(home) / ".kube" / "config";
    std::error_code ec;
    if (fs::exists(p, ec)) return loadKubeconfig(p.string(), context);
  }
  return inClusterConfig();
}

// ---- Credentials -------------------------------------------------------------------------

Credentials::Credentials(ClusterConfig config) : Credentials(std::move(config), Options()) {}

Credentials::Credentials(ClusterConfig config, Options options)
    : config_(std::move(config)), options_(options) {}

void Credentials::invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  haveCached_ = false;
}

Result<AuthInfo> Credentials::current() {
  AuthInfo base;
  base.clientCertPem = config_.clientCertPem;
  base.clientKeyPem = config_.clientKeyPem;
  base.bearerToken = config_.token;
  base.username = config_.username;
  base.password = config_.password;
  if (!config_.exec && config_.tokenFile.empty()) return base;

  std::lock_guard<std::mutex> lock(mu_);
  if (config_.exec) {
    bool fresh = haveCached_ && (expiry_ == std::chrono::system_clock::time_point{} ||
                                 std::chrono::system_clock::now() < expiry_);
    if (!fresh) WINDLASS_RETURN_IF_ERROR(runExec());
    if (!cached_.bearerToken.empty()) base.bearerToken = cached_.bearerToken;
    if (!cached_.clientCertPem.empty()) {
      base.clientCertPem = cached_.clientCertPem;
      base.clientKeyPem = cached_.clientKeyPem;
    }
    return base;
  }
  auto now = std::chrono::steady_clock::now();
  if (!haveCached_ || now - readAt_ >= options_.tokenFileReload) {
    auto token = readWholeFile(config_.tokenFile);
    if (!token) {
      return Status::unauthenticated(config_.origin + ": token file: " + token.error().message());
    }
    cached_.bearerToken = trimSpace(*token);
    readAt_ = now;
    haveCached_ = true;
  }
  base.bearerToken = cached_.bearerToken;
  return base;
}

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::string jsonEscape(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

}  // namespace

Status Credentials::runExec() {
  const ExecConfig& exec = *config_.exec;
  const std::string where = config_.origin + ": exec plugin \"" + exec.command + "\"";

  std::string info = "{\"apiVersion\":" + jsonEscape(exec.apiVersion) +
                     ",\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false";
  if (exec.provideClusterInfo) {
    info += ",\"cluster\":{\"server\":" + jsonEscape(config_.server);
    if (!config_.caPem.empty()) {
      static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      std::string enc;
      const std::string& in = config_.caPem;
      for (size_t i = 0; i < in.size(); i += 3) {
        uint32_t n = static_cast<uint8_t>(in[i]) << 16;
        if (i + 1 < in.size()) n |= static_cast<uint8_t>(in[i + 1]) << 8;
        if (i + 2 < in.size()) n |= static_cast<uint8_t>(in[i + 2]);
        enc += kB64[(n >> 18) & 63];
        enc += kB64[(n >> 12) & 63];
        enc += i + 1 < in.size() ? kB64[(n >> 6) & 63] : '=';
        enc += i + 2 < in.size() ? kB64[n & 63] : '=';
      }
      info += ",\"certificate-authority-data\":\"" + enc + "\"";
    }
    if (config_.insecureSkipTlsVerify) info += ",\"insecure-skip-tls-verify\":true";
    info += "}";
  }
  info += "}}";

  std::vector<std::string> envStrings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    std::string_view key = kv.substr(0, kv.find('='));
    bool overridden = key == "KUBERNETES_EXEC_INFO";
    for (const auto& [k, v] : exec.env) overridden = overridden || key == k;
    if (!overridden) envStrings.emplace_back(kv);
  }
  for (const auto& [k, v] : exec.env) envStrings.push_back(k + "=" + v);
  envStrings.push_back("KUBERNETES_EXEC_INFO=" + info);
  std::vector<char*> envp;
  for (auto& s : envStrings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argStrings{exec.command};
  argStrings.insert(argStrings.end(), exec.args.begin(), exec.args.end());
  std::vector<char*> argv;
  for (auto& s : argStrings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int outPipe[2], errPipe[2];
  if (::pipe2(outPipe, O_CLOEXEC) != 0) return Status::internal(where + ": pipe failed");
  Fd outR{outPipe[0]}, outW{outPipe[1]};
  if (::pipe2(errPipe, O_CLOEXEC) != 0) return Status::internal(where + ": pipe failed");
  Fd errR{errPipe[0]}, errW{errPipe[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, outW.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, errW.fd, 2);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, exec.command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::string msg = where + ": cannot run: " + std::strerror(rc);
    if (!exec.installHint.empty()) msg += "; " + exec.installHint;
    return Status::unauthenticated(msg);
  }
  outW.reset();
  errW.reset();

  std::string out, err;
  auto deadline = std::chrono::steady_clock::now() + options_.execTimeout;
  bool timedOut = false;
  while (outR.fd >= 0 || errR.fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    pollfd fds[2] = {{outR.fd, POLLIN, 0}, {errR.fd, POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        (i == 0 ? out : err).append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        (i == 0 ? outR : errR).reset();
      }
    }
  }
  if (timedOut) ::kill(pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timedOut) {
    return Status::unauthenticated(where + ": did not finish within " +
                                   std::to_string(options_.execTimeout.count()) + "s");
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    std::string msg = where + ": " +
                      (WIFEXITED(wstatus) ? "exit status " + std::to_string(WEXITSTATUS(wstatus))
                                          : std::string("killed by a signal"));
    std::string e = trimSpace(err);
    if (e.size() > 500) e = e.substr(e.size() - 500);
    if (!e.empty()) msg += ": " + e;
    return Status::unauthenticated(msg);
  }

  JsonDocument doc;
  doc.Parse(out.c_str(), out.size());
  if (doc.HasParseError() || !doc.IsObject())
    return Status::unauthenticated(where + ": output is not an ExecCredential JSON object");
  auto kind = doc.FindMember("kind");
  if (kind == doc.MemberEnd() || !kind->value.IsString() ||
      std::string(kind->value.GetString()) != "ExecCredential") {
    return Status::unauthenticated(where + ": output has kind other than ExecCredential");
  }
  auto status = doc.FindMember("status");
  if (status == doc.MemberEnd() || !status->value.IsObject())
    return Status::unauthenticated(where + ": ExecCredential has no status");
  const std::string sw = where + ": status.";
  auto token = scalarField(status->value, "token", sw);
  if (!token) return Status::unauthenticated(token.error().message());
  auto cert = scalarField(status->value, "clientCertificateData", sw);
  if (!cert) return Status::unauthenticated(cert.error().message());
  auto key = scalarField(status->value, "clientKeyData", sw);
  if (!key) return Status::unauthenticated(key.error().message());
  auto expiry = scalarField(status->value, "expirationTimestamp", sw);
  if (!expiry) return Status::unauthenticated(expiry.error().message());
  AuthInfo got;
  got.bearerToken = token->value_or("");
  got.clientCertPem = cert->value_or("");
  got.clientKeyPem = key->value_or("");
  if (got.clientCertPem.empty() != got.clientKeyPem.empty())
    return Status::unauthenticated(sw + "clientCertificateData and clientKeyData go together");
  if (got.bearerToken.empty() && got.clientCertPem.empty())
    return Status::unauthenticated(where +
                                   ": ExecCredential has neither token nor client certificate");
  expiry_ = {};
  if (*expiry && !(*expiry)->empty()) {
    auto tm = parseRfc3339(**expiry);
    if (!tm) return Status::unauthenticated(sw + "expirationTimestamp: " + tm.error().message());
    // system_clock counts nanoseconds and ends in 2262: cap far-future expiries.
    constexpr time_t kLatest = 7258118400;  // 2200-01-01T00:00:00Z
    time_t t = std::min<time_t>(::timegm(&*tm), kLatest);
    expiry_ = std::chrono::system_clock::from_time_t(t);
  }
  cached_ = std::move(got);
  haveCached_ = true;
  return Status();
}

}  // namespace windlass::reconcile
