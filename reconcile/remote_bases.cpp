#include "reconcile/remote_bases.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

#include "core/sha256.h"

namespace windlass::reconcile {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool isCommitId(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};

struct Body {
  std::string data;
  size_t limit = 0;
  bool tooLarge = false;
};

size_t collect(char* ptr, size_t size, size_t n, void* user) {
  auto* body = static_cast<Body*>(user);
  size_t len = size * n;
  if (body->data.size() + len > body->limit) {
    body->tooLarge = true;
    return 0;  // stops the transfer
  }
  body->data.append(ptr, len);
  return len;
}

}  // namespace

RemoteFetcher::RemoteFetcher(RemoteBaseOptions options) : options_(std::move(options)) {}
RemoteFetcher::~RemoteFetcher() = default;

Result<overlays::RemoteTree> RemoteFetcher::fetch(const overlays::RemoteRef& ref) {
  if (!options_.allowAll) {
    bool allowed = std::any_of(options_.allowHosts.begin(), options_.allowHosts.end(),
                               [&](const std::string& h) {
                                 std::string l = lower(h);
                                 return l == ref.host || l == lower(ref.hostPort);
                               });
    if (!allowed) {
      return Status::failedPrecondition(
          "host '" + ref.hostPort + "' is not allowed for remote bases" +
          (options_.allowHosts.empty() ? std::string(" (remoteBases.allow is empty)")
                                       : std::string(" (remoteBases.allow)")));
    }
  }
  if (ref.kind == overlays::RemoteRef::Kind::kFile) return fetchFile(ref);
  return fetchGit(ref);
}

Result<overlays::RemoteTree> RemoteFetcher::fetchGit(const overlays::RemoteRef& ref) {
  std::string key = ref.url + "\n" + ref.ref;
  auto known = commits_.find(key);
  if (known == commits_.end()) {
    auto& mirror = mirrors_[ref.url];
    if (!mirror) {
      sources::GitCredentials creds;
      if (options_.credentials) creds = options_.credentials(ref);
      if (creds.caFile.empty()) creds.caFile = options_.caFile;
      sources::GitTimeouts timeouts;
      timeouts.total = std::chrono::seconds(std::max(ref.timeoutSeconds, 1));
      std::string dir = options_.cacheDir + "/" + sha256Hex(ref.url).substr(0, 16);
      auto opened = sources::GitMirror::open(dir, ref.url, creds, timeouts);
      if (!opened) {
        mirrors_.erase(ref.url);
        return opened.error();
      }
      mirror = std::make_unique<sources::GitMirror>(std::move(*opened));
    }
    std::string commit;
    // A full commit id already in the mirror needs no fetch.
    if (isCommitId(ref.ref)) {
      if (auto c = mirror->resolve(ref.ref)) commit = c->id;
    }
    if (commit.empty()) {
      ++gitFetches_;
      WINDLASS_RETURN_IF_ERROR(mirror->fetch({}, options_.cancel));
      if (ref.ref.empty()) {
        // The default branch: the mirror keeps branches, not the remote's HEAD.
        for (const char* name : {"HEAD", "main", "master"}) {
          auto c = mirror->resolve(name);
          if (c) {
            commit = c->id;
            break;
          }
        }
        if (commit.empty()) {
          return Status::notFound("git " + mirror->displayUrl() +
                                  ": no ref given and no HEAD, main or master branch");
        }
      } else {
        auto c = mirror->resolve(ref.ref);
        if (!c) return c.error().withContext("git " + mirror->displayUrl());
        commit = c->id;
      }
    }
    known = commits_.emplace(key, commit).first;
  }
  const std::string& commit = known->second;
  auto& tree = trees_[commit];
  if (!tree) {
    auto t = mirrors_.at(ref.url)->tree(commit);
    if (!t) {
      trees_.erase(commit);
      return t.error();
    }
    tree = std::shared_ptr<const FileSource>(std::move(*t));
  }
  return overlays::RemoteTree{tree, ref.path, commit};
}

Result<overlays::RemoteTree> RemoteFetcher::fetchFile(const overlays::RemoteRef& ref) {
  if (ref.url.rfind("https://", 0) != 0) {
    return Status::invalidArgument("remote file '" + ref.url + "': only https:// is fetched");
  }
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  if (!easy) return Status::internal("libcurl: curl_easy_init failed");
  CURL* h = easy.get();
  char err[CURL_ERROR_SIZE] = {0};
  Body body;
  body.limit = options_.maxFileBytes;
  curl_easy_setopt(h, CURLOPT_URL, ref.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  // The CA of a repository configured on the same host and port, else the fetcher's
  // (no credentials are sent with files).
  std::string ca = options_.credentials ? options_.credentials(ref).caFile : std::string();
  if (ca.empty()) ca = options_.caFile;
  if (!ca.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca.c_str());
  curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(std::max(ref.timeoutSeconds, 1)));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.maxFileBytes));
  CURLcode rc = curl_easy_perform(h);
  std::string where = "GET " + sources::redactUrl(ref.url);
  if (body.tooLarge || rc == CURLE_FILESIZE_EXCEEDED) {
    return Status::invalidArgument(where + ": larger than " +
                                   std::to_string(options_.maxFileBytes) + " bytes");
  }
  if (rc != CURLE_OK) {
    return Status::unavailable(where + ": " + (err[0] ? std::string(err) : curl_easy_strerror(rc)));
  }
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  if (code == 404) return Status::notFound(where + ": HTTP 404");
  if (code != 200) return Status::invalidArgument(where + ": HTTP " + std::to_string(code));
  std::string digest = "sha256:" + sha256Hex(body.data);
  std::string name(ref.url.substr(0, ref.url.find('?')));
  name = name.substr(name.rfind('/') + 1);
  if (name.empty()) name = "file";
  std::map<std::string, std::string> files;
  files[name] = std::move(body.data);
  return overlays::RemoteTree{std::shared_ptr<const FileSource>(makeMemorySource(std::move(files))),
                              name, digest};
}

}  // namespace windlass::reconcile
