#include "overlays/remote_ref.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <vector>

namespace windlass::overlays {

namespace {

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "host:port", "[v6]:port", "host" → "host" / "v6", lower-case.
std::string hostOnly(std::string_view hostPort) {
  if (startsWith(hostPort, "[")) {
    size_t end = hostPort.find(']');
    return lower(hostPort.substr(1, end == std::string_view::npos ? end : end - 1));
  }
  return lower(hostPort.substr(0, hostPort.find(':')));
}

// Go's strconv.ParseBool.
bool parseBool(std::string_view v, bool* out) {
  static const char* kTrue[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char* kFalse[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (const char* t : kTrue) {
    if (v == t) return *out = true, true;
  }
  for (const char* f : kFalse) {
    if (v == f) return *out = false, true;
  }
  return false;
}

// Whole seconds, or a Go duration made of <number><unit> parts (h, m, s, ms),
// rounded up to a whole second. 0 when malformed or not positive.
int parseTimeout(std::string_view v) {
  if (v.empty()) return 0;
  if (std::all_of(v.begin(), v.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (v.size() > 7) return 0;
    return std::stoi(std::string(v));
  }
  double ms = 0;
  size_t i = 0;
  while (i < v.size()) {
    size_t start = i;
    while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) ++i;
    if (i == start || i - start > 9) return 0;
    std::string number(v.substr(start, i - start));
    char* end = nullptr;
    double n = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size()) return 0;  // ".", "1.2.3"
    size_t u = i;
    while (i < v.size() && std::isalpha(static_cast<unsigned char>(v[i]))) ++i;
    std::string_view unit = v.substr(u, i - u);
    if (unit == "h") {
      ms += n * 3600000;
    } else if (unit == "m") {
      ms += n * 60000;
    } else if (unit == "s") {
      ms += n * 1000;
    } else if (unit == "ms") {
      ms += n;
    } else {
      return 0;
    }
  }
  if (ms <= 0 || ms > 1e9) return 0;
  return static_cast<int>((ms + 999) / 1000);
}

bool hasGitSegment(std::string_view p) {
  size_t at = p.find(".git");
  while (at != std::string_view::npos) {
    size_t end = at + 4;
    if (end == p.size() || p[end] == '/') return true;
    at = p.find(".git", end);
  }
  return false;
}

}  // namespace

bool looksRemote(std::string_view entry) {
  if (entry.find("://") != std::string_view::npos || startsWith(entry, "git::") ||
      startsWith(entry, "gh:")) {
    return true;
  }
  for (const char* host : {"github.com/", "gitlab.com/", "bitbucket.org/"}) {
    if (startsWith(entry, host)) return true;
  }
  // scp-like: user@host:path, the ':' before any '/'.
  size_t at = entry.find('@');
  size_t colon = entry.find(':');
  size_t slash = entry.find('/');
  return at != std::string_view::npos && colon != std::string_view::npos && at < colon &&
         (slash == std::string_view::npos || colon < slash);
}

Result<RemoteRef> parseRemoteRef(std::string_view entry) {
  RemoteRef r;
  r.entry = std::string(entry);
  auto fail = [&](const std::string& why) {
    return Status::invalidArgument("remote reference '" + r.entry + "': " + why);
  };
  std::string s(entry);
  if (startsWith(s, "git::")) s.erase(0, 5);
  if (startsWith(s, "gh:")) s = "https://github.com/" + s.substr(3);

  // The query: ref, version, timeout, submodules (other keys are ignored, as in Kustomize).
  std::string query;
  if (size_t q = s.find('?'); q != std::string::npos) {
    query = s.substr(q + 1);
    s.erase(q);
  }
  std::string version;
  bool hasRef = false;
  for (size_t i = 0; i <= query.size() && !query.empty();) {
    size_t amp = query.find('&', i);
    if (amp == std::string::npos) amp = query.size();
    std::string_view kv = std::string_view(query).substr(i, amp - i);
    i = amp + 1;
    size_t eq = kv.find('=');
    std::string_view key = kv.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : kv.substr(eq + 1);
    if (key == "ref") {
      r.ref = std::string(value);
      hasRef = true;
    } else if (key == "version") {
      version = std::string(value);
      hasRef = true;
    } else if (key == "timeout") {
      r.timeoutSeconds = parseTimeout(value);
      if (r.timeoutSeconds <= 0) {
        return fail("timeout '" + std::string(value) +
                    "': expected whole seconds or a duration such as 90s or 2m");
      }
    } else if (key == "submodules") {
      if (!parseBool(value, &r.submodules)) {
        return fail("submodules '" + std::string(value) + "': expected true or false");
      }
    }
    if (amp == query.size()) break;
  }
  if (r.ref.empty()) r.ref = version;

  // Scheme and authority.
  std::string prefix;  // the URL up to the repository path
  std::string rest;    // repository path, then the path inside it
  std::string scheme;
  if (size_t sep = s.find("://"); sep != std::string::npos) {
    scheme = lower(s.substr(0, sep));
    if (scheme != "https" && scheme != "http" && scheme != "ssh" && scheme != "file" &&
        scheme != "git") {
      return fail("unsupported scheme '" + scheme + "'");
    }
    size_t slash = s.find('/', sep + 3);
    std::string authority = s.substr(sep + 3, slash == std::string::npos ? slash : slash - sep - 3);
    if (authority.empty() && scheme != "file") return fail("no host");
    r.hostPort =
        authority.substr(authority.find('@') == std::string::npos ? 0 : authority.find('@') + 1);
    prefix = s.substr(0, slash == std::string::npos ? s.size() : slash) + "/";
    rest = slash == std::string::npos ? "" : s.substr(slash + 1);
  } else if (looksRemote(s) && s.find('@') != std::string::npos && s.find('@') < s.find(':')) {
    size_t colon = s.find(':');
    r.hostPort = s.substr(s.find('@') + 1, colon - s.find('@') - 1);
    scheme = "ssh";
    prefix = s.substr(0, colon + 1);
    rest = s.substr(colon + 1);
  } else {
    size_t slash = s.find('/');
    r.hostPort = s.substr(0, slash);
    if (r.hostPort.find('.') == std::string::npos) {
      return fail("not a URL, an scp-like Git address or a host/org/repo path");
    }
    scheme = "https";
    prefix = "https://" + r.hostPort + "/";
    rest = slash == std::string::npos ? "" : s.substr(slash + 1);
  }
  r.host = hostOnly(r.hostPort);
  if (r.host.empty() && scheme != "file") return fail("no host");
  while (startsWith(rest, "/") && scheme != "file") rest.erase(0, 1);

  // A plain file over HTTP(S).
  bool web = scheme == "https" || scheme == "http";
  if (web && rest.find("//") == std::string::npos && !hasGitSegment(rest) && !hasRef &&
      rest.find("_git/") == std::string::npos) {
    std::string_view last = std::string_view(rest).substr(rest.rfind('/') + 1);
    if (last.find('.') != std::string_view::npos && entry.find("://") != std::string_view::npos) {
      r.kind = RemoteRef::Kind::kFile;
      r.url = std::string(entry);
      if (startsWith(r.url, "git::")) r.url.erase(0, 5);
      return r;
    }
  }

  // Repository path vs path inside it.
  std::string repo, inside;
  if (size_t dbl = rest.find("//"); dbl != std::string::npos) {
    repo = rest.substr(0, dbl);
    inside = rest.substr(dbl + 2);
  } else if (hasGitSegment(rest)) {
    size_t at = rest.find(".git");
    while (!(at + 4 == rest.size() || rest[at + 4] == '/')) at = rest.find(".git", at + 4);
    repo = rest.substr(0, at + 4);
    inside = rest.substr(std::min(rest.size(), at + 5));
  } else if (size_t az = rest.find("_git/"); az != std::string::npos) {
    size_t end = rest.find('/', az + 5);
    repo = rest.substr(0, end);
    inside = end == std::string::npos ? "" : rest.substr(end + 1);
  } else {
    size_t first = rest.find('/');
    size_t second = first == std::string::npos ? first : rest.find('/', first + 1);
    if (first == std::string::npos || first == 0 || second == first + 1) {
      return fail("expected org/repo after the host (or '//' after the repository)");
    }
    repo = rest.substr(0, second);
    inside = second == std::string::npos ? "" : rest.substr(second + 1);
  }
  while (!repo.empty() && repo.back() == '/') repo.pop_back();
  if (repo.empty() || repo == ".git") return fail("no repository path");
  r.url = prefix + repo;
  auto norm = normalisePath(inside);
  if (!norm) return fail("path '" + inside + "' inside the repository: " + norm.error().message());
  r.path = std::move(*norm);
  return r;
}

}  // namespace windlass::overlays
