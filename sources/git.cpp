#include "sources/git.h"

#include <git2.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>

#include "core/base64.h"
#include "core/cancel.h"
#include "core/file_lock.h"
#include "sources/git_stream.h"

namespace windlass::sources {
namespace {

// ---------------------------------------------------------------------------------------
// RAII handles for the libgit2 objects we use. Each owns one handle and frees it once.

template <class T, void (*Free)(T*)>
struct GitFree {
  void operator()(T* p) const { Free(p); }
};
template <class T, void (*Free)(T*)>
using GitHandle = std::unique_ptr<T, GitFree<T, Free>>;

using RepoPtr = GitHandle<git_repository, git_repository_free>;
using RemotePtr = GitHandle<git_remote, git_remote_free>;
using ObjectPtr = GitHandle<git_object, git_object_free>;
using CommitPtr = GitHandle<git_commit, git_commit_free>;
using TreePtr = GitHandle<git_tree, git_tree_free>;
using BlobPtr = GitHandle<git_blob, git_blob_free>;
using ReferencePtr = GitHandle<git_reference, git_reference_free>;
using SignaturePtr = GitHandle<git_signature, git_signature_free>;
using TreeEntryPtr = GitHandle<git_tree_entry, git_tree_entry_free>;

// A git_buf that is disposed of on scope exit.
struct Buf {
  git_buf buf = GIT_BUF_INIT;
  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { git_buf_dispose(&buf); }
};

// libgit2 is initialised once per process and never shut down (handles may live until
// exit).
// Our socket stream (timeouts, cancellation) is registered right after.
void initLibgit2() {
  static std::once_flag once;
  std::call_once(once, [] {
    git_libgit2_init();
    registerGitStream();
  });
}

std::string lastGitMessage() {
  const git_error* e = git_error_last();
  return e != nullptr && e->message != nullptr ? e->message : "unknown libgit2 error";
}

int lastGitClass() {
  const git_error* e = git_error_last();
  return e != nullptr ? e->klass : GIT_ERROR_NONE;
}

std::string oidString(const git_oid& oid) {
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &oid);
  return hex;
}

bool containsInsensitive(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) ==
                                 std::tolower(static_cast<unsigned char>(b));
                        });
  return it != haystack.end();
}

bool isHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

Result<std::string> readSmallFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::failedPrecondition(std::string(what) + " " + path + " cannot be read");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// ---------------------------------------------------------------------------------------
// Host and port of a remote URL, for known_hosts lookups.

struct HostPort {
  std::string host;
  int port = 22;
};

HostPort sshHostPort(std::string_view url) {
  HostPort hp;
  std::string_view rest = url;
  size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) {
    rest = url.substr(scheme + 3);
    size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) authority = authority.substr(at + 1);
    if (!authority.empty() && authority.front() == '[') {
      size_t close = authority.find(']');
      hp.host = std::string(authority.substr(1, close - 1));
      if (close != std::string_view::npos && close + 1 < authority.size() &&
          authority[close + 1] == ':') {
        hp.port = std::atoi(std::string(authority.substr(close + 2)).c_str());
      }
    } else {
      size_t colon = authority.rfind(':');
      hp.host = std::string(authority.substr(0, colon));
      if (colon != std::string_view::npos) {
        hp.port = std::atoi(std::string(authority.substr(colon + 1)).c_str());
      }
    }
  } else {  // scp-like: [user@]host:path
    size_t colon = rest.find(':');
    std::string_view authority = rest.substr(0, colon);
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) authority = authority.substr(at + 1);
    hp.host = std::string(authority);
  }
  if (hp.port <= 0) hp.port = 22;
  return hp;
}

// The folder a file:// URL or a local path names; nullopt for network URLs.
std::optional<std::string> localPath(std::string_view url) {
  if (url.rfind("file://", 0) == 0) return std::string(url.substr(7));
  if (url.find("://") != std::string_view::npos) return std::nullopt;
  size_t colon = url.find(':');
  if (colon != std::string_view::npos && url.substr(0, colon).find('/') == std::string_view::npos) {
    return std::nullopt;  // scp-like host:path
  }
  return std::string(url);
}

// ---------------------------------------------------------------------------------------
// known_hosts

// OpenSSH's pattern match: '*' any run, '?' one character; host names are
// case-insensitive.
bool globMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, starP = std::string_view::npos, starT = 0;
  while (t < text.size()) {
    if (p < pattern.size() &&
        (pattern[p] == '?' || std::tolower(static_cast<unsigned char>(pattern[p])) ==
                                  std::tolower(static_cast<unsigned char>(text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      starP = p++;
      starT = t;
    } else if (starP != std::string_view::npos) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// "|1|salt|hash": HMAC-SHA1 of the host name keyed with the salt.
bool hashedHostMatch(std::string_view entry, std::string_view name) {
  std::string_view rest = entry.substr(3);
  size_t bar = rest.find('|');
  if (bar == std::string_view::npos) return false;
  std::string salt = base64Decode(rest.substr(0, bar)).value_or("");
  std::string want = base64Decode(rest.substr(bar + 1)).value_or("");
  if (salt.empty() || want.size() != 20) return false;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int macLen = 0;
  if (HMAC(EVP_sha1(), salt.data(), static_cast<int>(salt.size()),
           reinterpret_cast<const unsigned char*>(name.data()), name.size(), mac,
           &macLen) == nullptr) {
    return false;
  }
  return macLen == want.size() && std::memcmp(mac, want.data(), macLen) == 0;
}

bool hostListMatches(std::string_view list, std::string_view name) {
  bool matched = false;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view pat = list.substr(pos, comma - pos);
    pos = comma + 1;
    bool negated = !pat.empty() && pat.front() == '!';
    if (negated) pat.remove_prefix(1);
    if (pat.empty()) continue;
    bool hit = pat.rfind("|1|", 0) == 0 ? hashedHostMatch(pat, name) : globMatch(pat, name);
    if (hit && negated) return false;
    matched = matched || hit;
  }
  return matched;
}

}  // namespace

HostKeyMatch matchKnownHost(std::string_view knownHosts, std::string_view host, int port,
                            std::string_view keyBlob) {
  std::string name =
      port == 22 ? std::string(host) : "[" + std::string(host) + "]:" + std::to_string(port);
  bool listed = false, ok = false, revoked = false;
  std::istringstream lines{std::string(knownHosts)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string first, hosts, type, key;
    if (!(fields >> first) || first.front() == '#') continue;
    bool isRevoked = false;
    if (first.front() == '@') {
      if (first == "@cert-authority") continue;  // certificates are not supported
      isRevoked = first == "@revoked";
      if (!(fields >> hosts)) continue;
    } else {
      hosts = first;
    }
    if (!(fields >> type >> key)) continue;
    if (!hostListMatches(hosts, name)) continue;
    if (!isRevoked) listed = true;
    if (base64Decode(key).value_or("") == keyBlob) (isRevoked ? revoked : ok) = true;
  }
  if (revoked) return HostKeyMatch::kMismatch;
  if (ok) return HostKeyMatch::kOk;
  return listed ? HostKeyMatch::kMismatch : HostKeyMatch::kUnknown;
}

std::string redactUrl(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  size_t start = scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  if (end == std::string_view::npos) end = url.size();
  size_t at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  size_t colon = url.substr(0, at).find(':', start);
  if (colon == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, colon)) + std::string(url.substr(at));
}

namespace {

// ---------------------------------------------------------------------------------------
// Remote callbacks: credentials, server verification, progress. The state lives for one
// fetch or push; a callback that refuses records why, so the Status says it in our words.

struct RemoteSession {
  const GitCredentials* credentials = nullptr;
  std::string url;
  std::string displayUrl;
  int userpassAttempts = 0;
  int sshKeyAttempts = 0;
  uint64_t updatedRefs = 0;
  std::string pushRejection;  // first rejected reference of a push
  // Set by a callback that refused, with the code to report.
  Code failureCode = Code::kOk;
  std::string failure;

  int refuse(Code code, std::string why, int rc) {
    if (failureCode == Code::kOk) {
      failureCode = code;
      failure = std::move(why);
    }
    git_error_set_str(GIT_ERROR_CALLBACK, failure.c_str());
    return rc;
  }
};

int acquireCredential(git_credential** out, const char* /*url*/, const char* usernameFromUrl,
                      unsigned int allowed, void* payload) {
  auto* s = static_cast<RemoteSession*>(payload);
  const GitCredentials& c = *s->credentials;
  std::string urlUser = usernameFromUrl != nullptr ? usernameFromUrl : "";
  if ((allowed & GIT_CREDENTIAL_SSH_KEY) != 0 && !c.sshKeyFile.empty()) {
    std::string user = !urlUser.empty() ? urlUser : !c.username.empty() ? c.username : "git";
    if (++s->sshKeyAttempts > 1) {
      return s->refuse(Code::kUnauthenticated,
                       "authentication failed: the server refused ssh key " + c.sshKeyFile +
                           " for user \"" + user + "\"",
                       GIT_EAUTH);
    }
    struct stat st {};
    if (::stat(c.sshKeyFile.c_str(), &st) != 0) {
      return s->refuse(Code::kFailedPrecondition,
                       "ssh key " + c.sshKeyFile + " cannot be read: " + std::strerror(errno),
                       GIT_EAUTH);
    }
    return git_credential_ssh_key_new(
        out, user.c_str(), c.sshPublicKeyFile.empty() ? nullptr : c.sshPublicKeyFile.c_str(),
        c.sshKeyFile.c_str(), nullptr);
  }
  if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) != 0 && !c.password.empty()) {
    std::string user = !c.username.empty() ? c.username : !urlUser.empty() ? urlUser : "git";
    if (++s->userpassAttempts > 1) {
      return s->refuse(Code::kUnauthenticated,
                       "authentication failed: the server rejected the password or token of "
                       "user \"" +
                           user + "\"",
                       GIT_EAUTH);
    }
    return git_credential_userpass_plaintext_new(out, user.c_str(), c.password.c_str());
  }
  if ((allowed & GIT_CREDENTIAL_USERNAME) != 0) {
    std::string user = !urlUser.empty() ? urlUser : !c.username.empty() ? c.username : "git";
    return git_credential_username_new(out, user.c_str());
  }
  std::string wanted = (allowed & GIT_CREDENTIAL_SSH_KEY) != 0
                           ? "an ssh key (sshKeyFile)"
                           : "a user name and password or token";
  return s->refuse(
      Code::kUnauthenticated,
      "authentication required: the server asks for " + wanted + " and none is configured",
      GIT_EAUTH);
}

int checkHostKey(const git_cert_hostkey& cert, const char* host, RemoteSession* s) {
  const GitCredentials& c = *s->credentials;
  HostPort hp = sshHostPort(s->url);
  if (hp.host.empty() && host != nullptr) hp.host = host;
  std::string where = hp.host + ":" + std::to_string(hp.port);
  if (c.knownHostsFile.empty()) {
    return s->refuse(
        Code::kFailedPrecondition,
        "ssh host key for " + where + " cannot be verified: no known_hosts file is configured",
        GIT_ECERTIFICATE);
  }
  auto text = readSmallFile(c.knownHostsFile, "known_hosts file");
  if (!text) return s->refuse(Code::kFailedPrecondition, text.error().message(), GIT_ECERTIFICATE);
  if ((cert.type & GIT_CERT_SSH_RAW) == 0 || cert.hostkey == nullptr) {
    return s->refuse(Code::kFailedPrecondition,
                     "ssh host key for " + where + " cannot be verified: libgit2 gave no raw key",
                     GIT_ECERTIFICATE);
  }
  std::string_view blob(cert.hostkey, cert.hostkey_len);
  switch (matchKnownHost(*text, hp.host, hp.port, blob)) {
    case HostKeyMatch::kOk:
      return 0;
    case HostKeyMatch::kMismatch:
      return s->refuse(Code::kFailedPrecondition,
                       "ssh host key for " + where + " does not match " + c.knownHostsFile +
                           " (the server's key changed, or someone is in between)",
                       GIT_ECERTIFICATE);
    case HostKeyMatch::kUnknown:
      break;
  }
  return s->refuse(Code::kFailedPrecondition,
                   "ssh host key for " + where + " is not in " + c.knownHostsFile,
                   GIT_ECERTIFICATE);
}

// Verifies a DER server certificate against the CA file and the host name.
bool verifyX509(const git_cert_x509& cert, const std::string& caFile, const char* host,
                std::string* why) {
  const auto* der = static_cast<const unsigned char*>(cert.data);
  X509* leaf = d2i_X509(nullptr, &der, static_cast<long>(cert.len));
  if (leaf == nullptr) {
    *why = "the server's certificate cannot be parsed";
    return false;
  }
  X509_STORE* store = X509_STORE_new();
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  bool ok = false;
  if (X509_STORE_load_locations(store, caFile.c_str(), nullptr) != 1) {
    *why = "CA file " + caFile + " cannot be loaded";
  } else if (X509_STORE_CTX_init(ctx, store, leaf, nullptr) != 1) {
    *why = "certificate verification could not start";
  } else {
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
    if (host != nullptr && X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1) {
      X509_VERIFY_PARAM_set1_host(param, host, 0);
    }
    ok = X509_verify_cert(ctx) == 1;
    if (!ok) *why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  }
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(leaf);
  return ok;
}

int checkCertificate(git_cert* cert, int valid, const char* host, void* payload) {
  auto* s = static_cast<RemoteSession*>(payload);
  if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
    return checkHostKey(*reinterpret_cast<git_cert_hostkey*>(cert), host, s);
  }
  if (valid != 0 || s->credentials->insecureSkipTlsVerify) return 0;
  std::string who = host != nullptr ? host : "the server";
  if (cert->cert_type == GIT_CERT_X509 && !s->credentials->caFile.empty()) {
    std::string why;
    if (verifyX509(*reinterpret_cast<git_cert_x509*>(cert), s->credentials->caFile, host, &why)) {
      return 0;
    }
    return s->refuse(
        Code::kFailedPrecondition,
        "TLS certificate of " + who + " is not trusted by " + s->credentials->caFile + ": " + why,
        GIT_ECERTIFICATE);
  }
  return s->refuse(
      Code::kFailedPrecondition,
      "TLS certificate of " + who + " is not trusted by the system's CAs (configure caFile)",
      GIT_ECERTIFICATE);
}

int countUpdatedTip(const char* /*refname*/, const git_oid* /*a*/, const git_oid* /*b*/,
                    void* payload) {
  ++static_cast<RemoteSession*>(payload)->updatedRefs;
  return 0;
}

int notePushStatus(const char* refname, const char* status, void* payload) {
  auto* s = static_cast<RemoteSession*>(payload);
  if (status != nullptr && s->pushRejection.empty()) {
    s->pushRejection = std::string(refname) + ": " + status;
  }
  return 0;
}

git_remote_callbacks makeCallbacks(RemoteSession* session) {
  git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
  cb.credentials = acquireCredential;
  cb.certificate_check = checkCertificate;
  cb.update_tips = countUpdatedTip;
  cb.push_update_reference = notePushStatus;
  cb.payload = session;
  return cb;
}

// Replaces every occurrence of the configured secrets in `text`.
std::string maskSecrets(std::string text, const GitCredentials& c, std::string_view url) {
  std::vector<std::string> secrets;
  if (!c.password.empty()) secrets.push_back(c.password);
  std::string redacted = redactUrl(url);
  if (redacted != url) {  // the URL's own password
    size_t scheme = url.find("://") + 3;
    size_t at = url.find('@', scheme);
    size_t colon = url.find(':', scheme);
    if (colon < at) secrets.emplace_back(url.substr(colon + 1, at - colon - 1));
    // The full URL may appear too; replacing the password covers it.
  }
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + 3)) {
      text.replace(pos, secret.size(), "***");
    }
  }
  return text;
}

// Turns a failed libgit2 network call into a Status naming the URL and the cause.
Status remoteError(const char* verb, int rc, const RemoteSession& s) {
  std::string prefix = std::string("git ") + verb + " " + s.displayUrl + ": ";
  if (s.failureCode != Code::kOk) {
    std::string msg = prefix + s.failure;
    switch (s.failureCode) {
      case Code::kUnauthenticated:
        return Status::unauthenticated(std::move(msg));
      case Code::kFailedPrecondition:
        return Status::failedPrecondition(std::move(msg));
      default:
        return Status::unavailable(std::move(msg));
    }
  }
  int klass = lastGitClass();
  std::string cause = maskSecrets(lastGitMessage(), *s.credentials, s.url);
  std::string msg = prefix + cause;
  if (rc == GIT_EAUTH) return Status::unauthenticated(std::move(msg));
  if (rc == GIT_ECERTIFICATE) return Status::failedPrecondition(std::move(msg));
  if (rc == GIT_ENONFASTFORWARD) return Status::conflict(std::move(msg));
  if (klass == GIT_ERROR_SSH && containsInsensitive(cause, "authenticat")) {
    return Status::unauthenticated(std::move(msg));
  }
  if (klass == GIT_ERROR_SSH && (containsInsensitive(cause, "private key") ||
                                 containsInsensitive(cause, "public key file"))) {
    return Status::failedPrecondition(std::move(msg));
  }
  if (containsInsensitive(cause, "status code: 401"))
    return Status::unauthenticated(std::move(msg));
  if (containsInsensitive(cause, "status code: 403"))
    return Status::permissionDenied(std::move(msg));
  if (rc == GIT_ENOTFOUND || containsInsensitive(cause, "status code: 404") ||
      containsInsensitive(cause, "not exported") ||
      containsInsensitive(cause, "no such repository") ||
      containsInsensitive(cause, "does not appear to be a git repository") ||
      containsInsensitive(cause, "could not find repository")) {
    return Status::notFound(std::move(msg));
  }
  if (klass == GIT_ERROR_INVALID || rc == GIT_EINVALIDSPEC) {
    return Status::invalidArgument(std::move(msg));
  }
  return Status::unavailable(std::move(msg));
}

// An in-memory remote for `url`. URL rewriting (url.*.insteadOf) is skipped: the
// mirror's config is ours, and libgit2 1.5 leaks pcre2 match data on every lookup.
Result<RemotePtr> anonymousRemote(git_repository* repo, const std::string& url,
                                  const GitCredentials& credentials) {
  git_remote_create_options opts = GIT_REMOTE_CREATE_OPTIONS_INIT;
  opts.repository = repo;
  opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  git_remote* raw = nullptr;
  if (git_remote_create_with_opts(&raw, url.c_str(), &opts) != 0) {
    return Status::invalidArgument(maskSecrets(lastGitMessage(), credentials, url));
  }
  return RemotePtr(raw);
}

// "main" → "+refs/heads/main:refs/heads/main"; "refs/x/y" → "+refs/x/y:refs/x/y".
Result<std::string> expandRefspec(const std::string& spec) {
  std::string full = spec;
  if (spec.find(':') == std::string::npos) {
    std::string ref = spec.rfind("refs/", 0) == 0 ? spec : "refs/heads/" + spec;
    full = "+" + ref + ":" + ref;
  }
  git_refspec* parsed = nullptr;
  if (git_refspec_parse(&parsed, full.c_str(), 1) != 0) {
    return Status::invalidArgument("invalid refspec \"" + spec + "\": " + lastGitMessage());
  }
  git_refspec_free(parsed);
  return full;
}

// ---------------------------------------------------------------------------------------
// A FileSource over one Git tree.

constexpr int kMaxSymlinkHops = 40;

void appendComponent(std::string* path, std::string_view name) {
  if (!path->empty()) *path += '/';
  *path += name;
}
constexpr size_t kMaxSymlinkTarget = 4096;

class GitTreeSource final : public FileSource {
 public:
  GitTreeSource(RepoPtr repo, const git_oid& root, std::string prefix)
      : repo_(std::move(repo)), root_(root), prefix_(std::move(prefix)) {}

  FileKind kind(std::string_view path) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto entry = resolve(path);
    if (!entry) return FileKind::kMissing;
    return entry->isTree ? FileKind::kDirectory : FileKind::kFile;
  }

  Result<std::string> read(std::string_view path, size_t maxBytes) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto entry = resolve(path);
    if (!entry) return entry.error();
    if (entry->isTree) return Status::invalidArgument(describe(path) + ": is a folder, not a file");
    git_blob* raw = nullptr;
    if (git_blob_lookup(&raw, repo_.get(), &entry->oid) != 0) {
      return Status::internal(describe(path) + ": " + lastGitMessage());
    }
    BlobPtr blob(raw);
    auto size = static_cast<size_t>(git_blob_rawsize(blob.get()));
    if (size > maxBytes) {
      return Status::invalidArgument(describe(path) + ": file is larger than the limit of " +
                                     std::to_string(maxBytes) + " bytes");
    }
    return std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())), size);
  }

  Result<std::string> realPath(std::string_view path) const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string real;
    auto entry = resolve(path, &real);
    if (!entry) return entry.error();
    return real;
  }

  Result<std::vector<std::string>> list(std::string_view path) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto entry = resolve(path);
    if (!entry) {
      if (entry.error().code() == Code::kNotFound) {
        return Status::notFound(describe(path) + ": no such folder");
      }
      return entry.error();
    }
    if (!entry->isTree) return Status::notFound(describe(path) + ": not a folder");
    auto tree = lookupTree(entry->oid);
    if (!tree) return tree.error();
    std::vector<std::string> names;
    size_t n = git_tree_entrycount(tree->get());
    for (size_t i = 0; i < n; ++i) {
      const git_tree_entry* e = git_tree_entry_byindex(tree->get(), i);
      if (git_tree_entry_filemode(e) == GIT_FILEMODE_COMMIT) continue;  // submodule
      names.emplace_back(git_tree_entry_name(e));
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string describe(std::string_view path) const override {
    return path.empty() ? prefix_ : prefix_ + std::string(path);
  }

 private:
  struct Entry {
    bool isTree = false;
    git_oid oid{};
  };

  Result<TreePtr> lookupTree(const git_oid& oid) const {
    git_tree* raw = nullptr;
    if (git_tree_lookup(&raw, repo_.get(), &oid) != 0) {
      return Status::internal(prefix_ + ": tree " + oidString(oid) + ": " + lastGitMessage());
    }
    return TreePtr(raw);
  }

  // Walks `path` from the root, following symlinks inside the tree. NotFound when
  // nothing is there; InvalidArgument when a symlink leaves the tree or they loop.
  // `realPath`, when given, receives the path reached with the symlinks resolved.
  Result<Entry> resolve(std::string_view path, std::string* realPath = nullptr) const {
    auto normal = normalisePath(path);
    if (!normal) return Status::invalidArgument(describe(path) + ": " + normal.error().message());
    std::vector<std::string> todo;  // components still to walk, last first
    auto pushComponents = [&todo](std::string_view p) {
      std::vector<std::string> parts;
      size_t pos = 0;
      while (pos < p.size()) {
        size_t slash = p.find('/', pos);
        if (slash == std::string_view::npos) slash = p.size();
        parts.emplace_back(p.substr(pos, slash - pos));
        pos = slash + 1;
      }
      todo.insert(todo.end(), parts.rbegin(), parts.rend());
    };
    pushComponents(*normal);
    Entry current{true, root_};
    std::string walked;  // the folder path `current` stands for
    int hops = 0;
    while (!todo.empty()) {
      std::string name = std::move(todo.back());
      todo.pop_back();
      if (!current.isTree) return Status::notFound(describe(path) + ": no such file or folder");
      auto tree = lookupTree(current.oid);
      if (!tree) return tree.error();
      const git_tree_entry* e = git_tree_entry_byname(tree->get(), name.c_str());
      if (e == nullptr) return Status::notFound(describe(path) + ": no such file or folder");
      git_filemode_t mode = git_tree_entry_filemode(e);
      git_oid oid = *git_tree_entry_id(e);
      switch (mode) {
        case GIT_FILEMODE_TREE:
          current = {true, oid};
          appendComponent(&walked, name);
          break;
        case GIT_FILEMODE_BLOB:
        case GIT_FILEMODE_BLOB_EXECUTABLE:
          current = {false, oid};
          appendComponent(&walked, name);
          break;
        case GIT_FILEMODE_LINK: {
          if (++hops > kMaxSymlinkHops) {
            return Status::invalidArgument(describe(path) + ": too many levels of symlinks");
          }
          auto target = readLinkTarget(oid);
          if (!target) return target.error();
          std::string linkPath = walked;
          appendComponent(&linkPath, name);
          auto joined = joinPath(walked, *target);
          if (!joined || target->empty()) {
            return Status::invalidArgument(describe(path) + ": symlink " + linkPath + " -> " +
                                           *target + " points outside the repository tree");
          }
          std::string rest = *joined;
          pushComponents(rest);
          current = {true, root_};
          walked.clear();
          break;
        }
        default:  // gitlink (submodule) or unknown: not part of this tree's content
          return Status::notFound(describe(path) + ": no such file or folder (submodule)");
      }
    }
    if (realPath != nullptr) *realPath = std::move(walked);
    return current;
  }

  Result<std::string> readLinkTarget(const git_oid& oid) const {
    git_blob* raw = nullptr;
    if (git_blob_lookup(&raw, repo_.get(), &oid) != 0) {
      return Status::internal(prefix_ + ": symlink blob: " + lastGitMessage());
    }
    BlobPtr blob(raw);
    auto size = static_cast<size_t>(git_blob_rawsize(blob.get()));
    if (size > kMaxSymlinkTarget) {
      return Status::invalidArgument(prefix_ + ": symlink target longer than 4096 bytes");
    }
    return std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())), size);
  }

  mutable std::mutex mu_;  // libgit2 handles are not shared between threads
  RepoPtr repo_;
  git_oid root_;
  std::string prefix_;  // "<url>@<short id>:"
};

// Whether `url` goes over SSH (libssh2 reads the socket without our stream).
bool isSshUrl(std::string_view url) {
  for (std::string_view scheme : {"ssh://", "ssh+git://", "git+ssh://"}) {
    if (url.rfind(scheme, 0) == 0) return true;
  }
  return url.find("://") == std::string_view::npos && !localPath(url).has_value();
}

// Removes the libgit2 lock files (`*.lock`) a killed process left in the mirror, all
// but those under objects/ (libgit2 takes none there). Only called with the mirror's
// own lock held, so no live writer owns them. Errors are ignored: a lock file that
// stays makes the next libgit2 write fail with its own message.
void removeStaleLocks(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (it.depth() == 0 && p.filename() == "objects") {
      it.disable_recursion_pending();
      continue;
    }
    std::error_code statEc;
    if (p.extension() == ".lock" && it->is_regular_file(statEc)) fs::remove(p, statEc);
  }
}

// The Status of a failed network call that the stream stopped: DeadlineExceeded naming
// the timeout, or Aborted when cancelled. Ok when the scope did not stop it.
Status scopeError(const GitCallScope& scope, const std::string& prefix) {
  switch (scope.stop()) {
    case StreamStop::kNone:
      return Status();
    case StreamStop::kCancelled:
      return Status::aborted(prefix + ": cancelled");
    default:
      return Status::deadlineExceeded(prefix + ": timed out: " + scope.stopReason());
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// GitMirror

struct GitMirror::Impl {
  std::string dir;
  std::string lockPath;  // <dir>.lock
  std::string url;
  GitCredentials credentials;
  GitTimeouts timeouts;
  RepoPtr repo;

  RemoteSession session(const std::string& displayUrl) const {
    RemoteSession s;
    s.credentials = &credentials;
    s.url = url;
    s.displayUrl = displayUrl;
    return s;
  }

  // Takes the mirror's lock within what is left of the call's total time, then clears
  // stale libgit2 lock files. `prefix` names the call in errors.
  Result<FileLock> lock(const GitCallScope& scope, const CancelToken* cancel,
                        const std::string& prefix) const {
    auto held = FileLock::acquire(lockPath, "git mirror " + dir, scope.remaining(), cancel);
    if (!held) return held.error().withContext(prefix);
    removeStaleLocks(dir);
    return held;
  }

  // fetch() without taking the lock: the caller holds it and `scope` is current.
  Status fetchLocked(const std::vector<std::string>& refspecs, const std::string& displayUrl,
                     const GitCallScope& scope, FetchStats* stats);

  // Pushes `commit` to `branchRef` on the remote through a private reference, so the
  // local branch moves only once the remote accepted it. The caller holds the lock.
  Status push(const git_oid& commit, const std::string& branchRef, const std::string& prefix,
              const std::string& displayUrl, const GitCallScope& scope);
};

GitMirror::GitMirror(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  displayUrl_ = redactUrl(impl_->url);
}
GitMirror::GitMirror(GitMirror&&) noexcept = default;
GitMirror& GitMirror::operator=(GitMirror&&) noexcept = default;
GitMirror::~GitMirror() = default;

Result<GitMirror> GitMirror::open(const std::string& mirrorDir, const std::string& url,
                                  const GitCredentials& credentials, const GitTimeouts& timeouts) {
  initLibgit2();
  if (url.empty()) return Status::invalidArgument("git: the repository URL is empty");
  if (mirrorDir.empty()) return Status::invalidArgument("git: the mirror folder is empty");
  auto impl = std::make_unique<Impl>();
  impl->dir = mirrorDir;
  while (impl->dir.size() > 1 && impl->dir.back() == '/') impl->dir.pop_back();
  impl->lockPath = impl->dir + ".lock";
  impl->url = url;
  impl->credentials = credentials;
  impl->timeouts = timeouts;
  std::string prefix = "git mirror " + mirrorDir + " for " + redactUrl(url);

  // The lock file lives beside the mirror: its folder must exist first.
  std::filesystem::path parent = std::filesystem::path(impl->dir).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec)
    return Status::failedPrecondition(prefix + ": cannot create " + parent.string() + ": " +
                                      ec.message());
  GitCallScope scope(timeouts, nullptr, false);
  auto lock = impl->lock(scope, nullptr, prefix);
  if (!lock) return lock.error();

  git_repository* raw = nullptr;
  struct stat st {};
  if (::stat(mirrorDir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
      ::stat((mirrorDir + "/HEAD").c_str(), &st) == 0) {
    if (git_repository_open_bare(&raw, mirrorDir.c_str()) != 0) {
      return Status::failedPrecondition(prefix + ": not a bare repository: " + lastGitMessage());
    }
  } else {
    git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
    opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
    if (git_repository_init_ext(&raw, mirrorDir.c_str(), &opts) != 0) {
      return Status::failedPrecondition(prefix + ": cannot create: " + lastGitMessage());
    }
  }
  impl->repo.reset(raw);
  return GitMirror(std::move(impl));
}

Status GitMirror::fetch(const std::vector<std::string>& refspecs, const CancelToken* cancel) {
  GitCallScope scope(impl_->timeouts, cancel, isSshUrl(impl_->url));
  auto lock = impl_->lock(scope, cancel, "git fetch " + displayUrl_);
  if (!lock) return lock.error();
  return impl_->fetchLocked(refspecs, displayUrl_, scope, &stats_);
}

Status GitMirror::Impl::fetchLocked(const std::vector<std::string>& refspecs,
                                    const std::string& displayUrl, const GitCallScope& scope,
                                    FetchStats* stats) {
  if (scope.stop() == StreamStop::kCancelled) return scopeError(scope, "git fetch " + displayUrl);
  std::vector<std::string> specs;
  if (refspecs.empty()) {
    specs = {"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"};
  }
  for (const std::string& spec : refspecs) {
    auto full = expandRefspec(spec);
    if (!full) return full.error().withContext("git fetch " + displayUrl);
    specs.push_back(*full);
  }
  std::vector<char*> ptrs;
  ptrs.reserve(specs.size());
  for (std::string& spec : specs) ptrs.push_back(spec.data());
  git_strarray array{ptrs.data(), ptrs.size()};

  if (auto local = localPath(url)) {
    struct stat st {};
    if (::stat(local->c_str(), &st) != 0) {
      return Status::notFound("git fetch " + displayUrl + ": no repository at " + *local + ": " +
                              std::strerror(errno));
    }
  }
  RemoteSession s = session(displayUrl);
  auto remote = anonymousRemote(repo.get(), url, credentials);
  if (!remote) return remote.error().withContext("git fetch " + displayUrl);
  git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
  opts.callbacks = makeCallbacks(&s);
  opts.prune = GIT_FETCH_PRUNE;
  opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_AUTO;
  int rc = git_remote_fetch(remote->get(), &array, &opts, "windlass fetch");
  if (rc != 0) {
    Status stopped = scopeError(scope, "git fetch " + displayUrl);
    if (!stopped.ok()) return stopped;
    return remoteError("fetch", rc, s);
  }
  const git_indexer_progress* progress = git_remote_stats(remote->get());
  stats->receivedObjects = progress->received_objects;
  stats->receivedBytes = progress->received_bytes;
  stats->updatedRefs = s.updatedRefs;
  return Status();
}

namespace {

Result<CommitInfo> commitInfo(git_repository* repo, const git_commit* commit) {
  CommitInfo info;
  git_oid id = *git_commit_id(commit);
  info.id = oidString(id);
  const git_signature* author = git_commit_author(commit);
  const git_signature* committer = git_commit_committer(commit);
  info.authorName = author->name;
  info.authorEmail = author->email;
  info.committerName = committer->name;
  info.committerEmail = committer->email;
  const char* message = git_commit_message_raw(commit);
  info.message = message != nullptr ? message : "";
  info.time = git_commit_time(commit);
  Buf signature, signedData;
  if (git_commit_extract_signature(&signature.buf, &signedData.buf, repo, &id, nullptr) == 0) {
    info.signature.assign(signature.buf.ptr, signature.buf.size);
  }
  git_error_clear();
  return info;
}

}  // namespace

Result<CommitInfo> GitMirror::resolve(std::string_view revision) {
  std::string prefix = "git " + displayUrl_ + ": revision \"" + std::string(revision) + "\"";
  if (revision.empty()) return Status::invalidArgument(prefix + ": empty");
  git_repository* repo = impl_->repo.get();
  std::string rev(revision);
  ObjectPtr target;
  bool fullId = rev.size() == GIT_OID_HEXSZ && isHex(rev);
  if (!fullId) {
    std::vector<std::string> names;
    if (rev.rfind("refs/", 0) == 0) {
      names = {rev};
    } else {
      names = {"refs/heads/" + rev, "refs/tags/" + rev};
    }
    for (const std::string& name : names) {
      int valid = 0;
      if (git_reference_name_is_valid(&valid, name.c_str()) != 0 || valid == 0) continue;
      git_object* raw = nullptr;
      if (git_revparse_single(&raw, repo, name.c_str()) == 0) {
        target.reset(raw);
        break;
      }
    }
  }
  if (target == nullptr && isHex(rev) && rev.size() >= 4 && rev.size() <= GIT_OID_HEXSZ) {
    git_oid oid{};
    git_object* raw = nullptr;
    if (git_oid_fromstrn(&oid, rev.data(), rev.size()) == 0) {
      int rc = git_object_lookup_prefix(&raw, repo, &oid, rev.size(), GIT_OBJECT_ANY);
      if (rc == GIT_EAMBIGUOUS) {
        return Status::invalidArgument(prefix + ": ambiguous commit id prefix");
      }
      if (rc == 0) target.reset(raw);
    }
  }
  if (target == nullptr) {
    return Status::notFound(prefix + " not found (no branch, tag or commit by that name)");
  }
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, target.get(), GIT_OBJECT_COMMIT) != 0) {
    return Status::invalidArgument(prefix + ": does not name a commit: " + lastGitMessage());
  }
  ObjectPtr commit(peeled);
  return commitInfo(repo, reinterpret_cast<const git_commit*>(commit.get()));
}

Result<std::vector<std::string>> GitMirror::tags() const {
  git_strarray names{};
  if (git_tag_list(&names, impl_->repo.get()) != 0) {
    return Status::internal("git " + displayUrl_ + ": cannot list tags: " + lastGitMessage());
  }
  std::vector<std::string> out(names.strings, names.strings + names.count);
  git_strarray_dispose(&names);
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// Commit `commitId` (40 hex digits) in the bare repository at `dir`, on a handle of its
// own (safe beside another thread's fetch). `prefix` names the call in errors.
struct OpenedCommit {
  RepoPtr repo;
  CommitPtr commit;
};

Result<OpenedCommit> openCommit(const std::string& dir, const std::string& prefix,
                                const std::string& commitId) {
  git_oid oid{};
  if (commitId.size() != GIT_OID_HEXSZ || !isHex(commitId) ||
      git_oid_fromstr(&oid, commitId.c_str()) != 0) {
    return Status::invalidArgument(prefix + ": not a full commit id");
  }
  git_repository* raw = nullptr;
  if (git_repository_open_bare(&raw, dir.c_str()) != 0) {
    return Status::internal(prefix + ": cannot open mirror " + dir + ": " + lastGitMessage());
  }
  OpenedCommit out{RepoPtr(raw), nullptr};
  git_commit* rawCommit = nullptr;
  if (git_commit_lookup(&rawCommit, out.repo.get(), &oid) != 0) {
    return Status::notFound(prefix + ": not in the mirror (fetch first)");
  }
  out.commit.reset(rawCommit);
  return out;
}

}  // namespace

Result<std::unique_ptr<FileSource>> GitMirror::tree(const std::string& commitId) const {
  std::string prefix = "git " + displayUrl_ + ": commit " + commitId;
  auto opened = openCommit(impl_->dir, prefix, commitId);
  if (!opened) return opened.error();
  RepoPtr repo = std::move(opened->repo);
  CommitPtr commit = std::move(opened->commit);
  git_oid treeId = *git_commit_tree_id(commit.get());
  std::string describePrefix = displayUrl_ + "@" + commitId.substr(0, 12) + ":";
  return std::unique_ptr<FileSource>(
      std::make_unique<GitTreeSource>(std::move(repo), treeId, std::move(describePrefix)));
}

Result<SignedCommit> GitMirror::signedCommit(const std::string& commitId) const {
  std::string prefix = "git " + displayUrl_ + ": commit " + commitId;
  auto opened = openCommit(impl_->dir, prefix, commitId);
  if (!opened) return opened.error();
  RepoPtr repo = std::move(opened->repo);
  CommitPtr commit = std::move(opened->commit);
  SignedCommit out;
  out.time = git_commit_time(commit.get());
  Buf signature, signedData;
  git_oid oid = *git_commit_id(commit.get());  // libgit2 1.5 takes a non-const id
  int rc = git_commit_extract_signature(&signature.buf, &signedData.buf, repo.get(), &oid, nullptr);
  if (rc == 0) {
    out.signature.assign(signature.buf.ptr, signature.buf.size);
    out.signedData.assign(signedData.buf.ptr, signedData.buf.size);
  } else if (rc != GIT_ENOTFOUND) {
    return Status::internal(prefix + ": cannot read its signature: " + lastGitMessage());
  }
  git_error_clear();
  return out;
}

Result<std::string> GitMirror::commitAndPush(const CommitRequest& request,
                                             const CancelToken* cancel) {
  std::string prefix = "git push " + displayUrl_ + " " + request.branch;
  std::vector<FileWrite> files;
  if (!request.path.empty() || request.moreFiles.empty()) {
    files.push_back({request.path, request.content});
  }
  files.insert(files.end(), request.moreFiles.begin(), request.moreFiles.end());
  for (FileWrite& f : files) {
    auto path = normalisePath(f.path);
    if (!path || path->empty())
      return Status::invalidArgument(prefix + ": invalid path \"" + f.path + "\"");
    f.path = *path;
  }
  std::string branchRef = "refs/heads/" + request.branch;
  int valid = 0;
  if (request.branch.empty() || git_reference_name_is_valid(&valid, branchRef.c_str()) != 0 ||
      valid == 0) {
    return Status::invalidArgument(prefix + ": invalid branch name");
  }
  GitCallScope scope(impl_->timeouts, cancel, isSshUrl(impl_->url));
  auto lock = impl_->lock(scope, cancel, prefix);
  if (!lock) return lock.error();
  WINDLASS_RETURN_IF_ERROR(
      impl_->fetchLocked({"+" + branchRef + ":" + branchRef}, displayUrl_, scope, &stats_));
  auto head = resolve(branchRef);
  if (!head) return head.error();
  git_repository* repo = impl_->repo.get();

  git_oid parentId{};
  git_oid_fromstr(&parentId, head->id.c_str());
  git_commit* rawParent = nullptr;
  if (git_commit_lookup(&rawParent, repo, &parentId) != 0) {
    return Status::internal(prefix + ": " + lastGitMessage());
  }
  CommitPtr parent(rawParent);
  git_tree* rawTree = nullptr;
  if (git_commit_tree(&rawTree, parent.get()) != 0) {
    return Status::internal(prefix + ": " + lastGitMessage());
  }
  TreePtr baseTree(rawTree);

  std::vector<git_tree_update> updates;
  for (const FileWrite& f : files) {
    git_oid blobId{};
    if (git_blob_create_from_buffer(&blobId, repo, f.content.data(), f.content.size()) != 0) {
      return Status::internal(prefix + ": " + lastGitMessage());
    }
    git_tree_entry* rawEntry = nullptr;
    if (git_tree_entry_bypath(&rawEntry, baseTree.get(), f.path.c_str()) == 0) {
      TreeEntryPtr existing(rawEntry);
      if (git_oid_equal(git_tree_entry_id(existing.get()), &blobId) != 0) continue;
    }
    git_error_clear();
    git_tree_update update{};
    update.action = GIT_TREE_UPDATE_UPSERT;
    update.id = blobId;
    update.filemode = GIT_FILEMODE_BLOB;
    update.path = f.path.c_str();
    updates.push_back(update);
  }
  if (updates.empty()) return head->id;
  git_oid newTreeId{};
  if (git_tree_create_updated(&newTreeId, repo, baseTree.get(), updates.size(), updates.data()) !=
      0) {
    return Status::invalidArgument(prefix + ": cannot write " + files[0].path + ": " +
                                   lastGitMessage());
  }
  git_tree* rawNewTree = nullptr;
  if (git_tree_lookup(&rawNewTree, repo, &newTreeId) != 0) {
    return Status::internal(prefix + ": " + lastGitMessage());
  }
  TreePtr newTree(rawNewTree);
  git_signature* rawSig = nullptr;
  if (git_signature_now(&rawSig, request.authorName.c_str(), request.authorEmail.c_str()) != 0) {
    return Status::invalidArgument(prefix + ": invalid author: " + lastGitMessage());
  }
  SignaturePtr sig(rawSig);
  git_oid commitId{};
  const git_commit* parents[] = {parent.get()};
  if (git_commit_create(&commitId, repo, nullptr, sig.get(), sig.get(), nullptr,
                        request.message.c_str(), newTree.get(), 1, parents) != 0) {
    return Status::internal(prefix + ": cannot create commit: " + lastGitMessage());
  }

  if (request.beforePush) WINDLASS_RETURN_IF_ERROR(request.beforePush(oidString(commitId)));
  WINDLASS_RETURN_IF_ERROR(impl_->push(commitId, branchRef, prefix, displayUrl_, scope));
  return oidString(commitId);
}

Status GitMirror::Impl::push(const git_oid& commit, const std::string& branchRef,
                             const std::string& prefix, const std::string& displayUrl,
                             const GitCallScope& scope) {
  std::string branch = branchRef.substr(std::string_view("refs/heads/").size());
  std::string pushRef = "refs/windlass/push/" + branch;
  git_reference* rawRef = nullptr;
  if (git_reference_create(&rawRef, repo.get(), pushRef.c_str(), &commit, 1, "windlass push") !=
      0) {
    return Status::internal(prefix + ": " + lastGitMessage());
  }
  ReferencePtr tmpRef(rawRef);
  std::string spec = pushRef + ":" + branchRef;  // never forced
  char* specPtr = spec.data();
  git_strarray array{&specPtr, 1};
  RemoteSession remoteSession = session(displayUrl);
  auto remote = anonymousRemote(repo.get(), url, credentials);
  if (!remote) return remote.error().withContext(prefix);
  git_push_options opts = GIT_PUSH_OPTIONS_INIT;
  opts.callbacks = makeCallbacks(&remoteSession);
  int rc = git_remote_push(remote->get(), &array, &opts);
  git_reference_delete(tmpRef.get());
  if (rc != 0) {
    Status stopped = scopeError(scope, prefix);
    if (!stopped.ok()) return stopped;
    return remoteError("push", rc, remoteSession);
  }
  if (!remoteSession.pushRejection.empty()) {
    return Status::conflict(prefix + ": the server rejected " + remoteSession.pushRejection);
  }
  git_reference* rawBranch = nullptr;
  if (git_reference_create(&rawBranch, repo.get(), branchRef.c_str(), &commit, 1,
                           "windlass push") == 0) {
    git_reference_free(rawBranch);
  }
  return {};
}

Result<PromoteResult> GitMirror::promoteBranch(const PromoteRequest& request,
                                               const CancelToken* cancel) {
  std::string prefix = "git push " + displayUrl_ + " " + request.branch;
  std::string branchRef = "refs/heads/" + request.branch;
  int valid = 0;
  if (request.branch.empty() || git_reference_name_is_valid(&valid, branchRef.c_str()) != 0 ||
      valid == 0) {
    return Status::invalidArgument(prefix + ": invalid branch name");
  }
  GitCallScope scope(impl_->timeouts, cancel, isSshUrl(impl_->url));
  auto lock = impl_->lock(scope, cancel, prefix);
  if (!lock) return lock.error();
  WINDLASS_RETURN_IF_ERROR(
      impl_->fetchLocked({"+" + branchRef + ":" + branchRef}, displayUrl_, scope, &stats_));
  auto head = resolve(branchRef);
  if (!head) return head.error();
  auto source = resolve(request.commit);
  if (!source) return source.error().withContext(prefix);
  git_repository* repo = impl_->repo.get();
  git_oid headId{}, sourceId{};
  git_oid_fromstr(&headId, head->id.c_str());
  git_oid_fromstr(&sourceId, source->id.c_str());

  PromoteResult out;
  if (git_oid_equal(&headId, &sourceId) != 0 ||
      git_graph_descendant_of(repo, &headId, &sourceId) == 1) {
    out.commit = head->id;  // already there (or further on)
    out.unchanged = true;
    return out;
  }
  if (git_graph_descendant_of(repo, &sourceId, &headId) == 1) {
    if (request.beforePush) WINDLASS_RETURN_IF_ERROR(request.beforePush(source->id));
    WINDLASS_RETURN_IF_ERROR(impl_->push(sourceId, branchRef, prefix, displayUrl_, scope));
    out.commit = source->id;
    out.fastForward = true;
    return out;
  }

  // Diverged: a merge commit with the target's head first, as `git merge` writes it.
  git_commit* rawOurs = nullptr;
  git_commit* rawTheirs = nullptr;
  if (git_commit_lookup(&rawOurs, repo, &headId) != 0 ||
      git_commit_lookup(&rawTheirs, repo, &sourceId) != 0) {
    if (rawOurs != nullptr) git_commit_free(rawOurs);
    return Status::internal(prefix + ": " + lastGitMessage());
  }
  CommitPtr ours(rawOurs), theirs(rawTheirs);
  git_index* rawIndex = nullptr;
  git_merge_options mergeOpts = GIT_MERGE_OPTIONS_INIT;
  if (git_merge_commits(&rawIndex, repo, ours.get(), theirs.get(), &mergeOpts) != 0) {
    return Status::internal(prefix + ": merge: " + lastGitMessage());
  }
  GitHandle<git_index, git_index_free> index(rawIndex);
  if (git_index_has_conflicts(index.get()) != 0) {
    std::string files;
    git_index_conflict_iterator* rawIt = nullptr;
    if (git_index_conflict_iterator_new(&rawIt, index.get()) == 0) {
      const git_index_entry *ancestor = nullptr, *our = nullptr, *their = nullptr;
      while (git_index_conflict_next(&ancestor, &our, &their, rawIt) == 0) {
        const git_index_entry* e = our != nullptr ? our : their;
        if (e == nullptr) continue;
        files += files.empty() ? "" : ", ";
        files += e->path;
      }
      git_index_conflict_iterator_free(rawIt);
    }
    return Status::failedPrecondition(prefix + ": " + request.branch + " and " +
                                      source->id.substr(0, 7) +
                                      " conflict (merge them by hand): " + files);
  }
  git_oid treeId{};
  if (git_index_write_tree_to(&treeId, index.get(), repo) != 0) {
    return Status::internal(prefix + ": merge: " + lastGitMessage());
  }
  git_tree* rawTree = nullptr;
  if (git_tree_lookup(&rawTree, repo, &treeId) != 0) {
    return Status::internal(prefix + ": merge: " + lastGitMessage());
  }
  TreePtr tree(rawTree);
  git_signature* rawSig = nullptr;
  if (git_signature_now(&rawSig, request.authorName.c_str(), request.authorEmail.c_str()) != 0) {
    return Status::invalidArgument(prefix + ": invalid author: " + lastGitMessage());
  }
  SignaturePtr sig(rawSig);
  git_oid commitId{};
  const git_commit* parents[] = {ours.get(), theirs.get()};
  if (git_commit_create(&commitId, repo, nullptr, sig.get(), sig.get(), nullptr,
                        request.message.c_str(), tree.get(), 2, parents) != 0) {
    return Status::internal(prefix + ": cannot create commit: " + lastGitMessage());
  }
  if (request.beforePush) WINDLASS_RETURN_IF_ERROR(request.beforePush(oidString(commitId)));
  WINDLASS_RETURN_IF_ERROR(impl_->push(commitId, branchRef, prefix, displayUrl_, scope));
  out.commit = oidString(commitId);
  return out;
}

Result<int64_t> GitMirror::countCommits(const std::string& from, const std::string& to) const {
  git_repository* repo = impl_->repo.get();
  git_oid fromId{}, toId{};
  if (git_oid_fromstr(&fromId, from.c_str()) != 0 || git_oid_fromstr(&toId, to.c_str()) != 0) {
    return Status::invalidArgument("countCommits: expected two commit ids");
  }
  git_revwalk* rawWalk = nullptr;
  if (git_revwalk_new(&rawWalk, repo) != 0) return Status::internal(lastGitMessage());
  GitHandle<git_revwalk, git_revwalk_free> walk(rawWalk);
  if (git_revwalk_push(walk.get(), &toId) != 0 || git_revwalk_hide(walk.get(), &fromId) != 0) {
    return Status::notFound("countCommits: " + lastGitMessage());
  }
  int64_t n = 0;
  git_oid id{};
  while (git_revwalk_next(&id, walk.get()) == 0) ++n;
  return n;
}

std::string gitUserName() {
  initLibgit2();
  git_config* raw = nullptr;
  if (git_config_open_default(&raw) != 0) return "";
  GitHandle<git_config, git_config_free> config(raw);
  git_buf name = GIT_BUF_INIT;
  std::string out;
  if (git_config_get_string_buf(&name, config.get(), "user.name") == 0) out = name.ptr;
  git_buf_dispose(&name);
  return out;
}

}  // namespace windlass::sources
