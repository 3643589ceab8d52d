#include "reconcile/history.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>
#include <utility>

#include "core/json.h"
#include "core/sha256.h"
// After core/json.h (via history.h), so RapidJSON keeps windlass's configuration.
#include <rapidjson/error/en.h>

namespace windlass::reconcile {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kZeroHash =
    "0000000000000000000000000000000000000000000000000000000000000000";
constexpr char kMask[] = "***";
constexpr size_t kReadChunk = size_t{1} << 20;
// The size of `,"hash":"<64 hex digits>"`, the last member of a canonical line.
constexpr size_t kHashMemberSize = 9 + 64 + 1;

// ---- UTF-8 ------------------------------------------------------------------

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 when it is not one.
size_t utf8Length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

bool isValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8Length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// `s` with every byte that does not start a well-formed sequence replaced by U+FFFD.
std::string sanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8Length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      i += 1;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

// ---- Canonical form ---------------------------------------------------------

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void putString(Writer& w, std::string_view s) {
  if (isValidUtf8(s)) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  } else {
    std::string fixed = sanitizeUtf8(s);
    w.String(fixed.data(), static_cast<rapidjson::SizeType>(fixed.size()));
  }
}

void putMember(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  putString(w, value);
}

// The object identity, in the order every object entry starts with.
template <class T>
void putObjectId(Writer& w, const T& o) {
  putMember(w, "group", o.group);
  putMember(w, "version", o.version);
  putMember(w, "kind", o.kind);
  putMember(w, "namespace", o.ns);
  putMember(w, "name", o.name);
}

// ---- Parsing ----------------------------------------------------------------

std::string fieldPath(std::string_view prefix, const char* key) {
  std::string path(prefix);
  if (!path.empty()) path += '.';
  path += key;
  return path;
}

Status fieldError(std::string_view prefix, const char* key, std::string_view what) {
  return Status::invalidArgument("field \"" + fieldPath(prefix, key) + "\": " + std::string(what));
}

const JsonValue* findMember(const JsonValue& object, const char* key) {
  auto it = object.FindMember(key);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

Status readString(const JsonValue& object, std::string_view prefix, const char* key,
                  std::string& out) {
  const JsonValue* v = findMember(object, key);
  if (v == nullptr) return fieldError(prefix, key, "missing");
  if (!v->IsString()) return fieldError(prefix, key, "expected a string");
  out.assign(v->GetString(), v->GetStringLength());
  return {};
}

template <class E>
Status readEnum(const JsonValue& object, std::string_view prefix, const char* key,
                std::optional<E> (*parse)(std::string_view), E& out) {
  std::string text;
  WINDLASS_RETURN_IF_ERROR(readString(object, prefix, key, text));
  std::optional<E> value = parse(text);
  if (!value) return fieldError(prefix, key, "unknown value \"" + text + "\"");
  out = *value;
  return {};
}

Status readObject(const JsonValue& object, std::string_view prefix, const char* key,
                  const JsonValue** out) {
  const JsonValue* v = findMember(object, key);
  if (v == nullptr) return fieldError(prefix, key, "missing");
  if (!v->IsObject()) return fieldError(prefix, key, "expected an object");
  *out = v;
  return {};
}

Status readArray(const JsonValue& object, std::string_view prefix, const char* key,
                 const JsonValue** out) {
  const JsonValue* v = findMember(object, key);
  if (v == nullptr) return fieldError(prefix, key, "missing");
  if (!v->IsArray()) return fieldError(prefix, key, "expected an array");
  *out = v;
  return {};
}

template <class T>
Status readObjectId(const JsonValue& entry, const std::string& prefix, T& o) {
  WINDLASS_RETURN_IF_ERROR(readString(entry, prefix, "group", o.group));
  WINDLASS_RETURN_IF_ERROR(readString(entry, prefix, "version", o.version));
  WINDLASS_RETURN_IF_ERROR(readString(entry, prefix, "kind", o.kind));
  WINDLASS_RETURN_IF_ERROR(readString(entry, prefix, "namespace", o.ns));
  return readString(entry, prefix, "name", o.name);
}

Status parseInto(const JsonValue& root, SyncRecord& r) {
  if (!root.IsObject()) return Status::invalidArgument("expected a JSON object");
  const JsonValue* seq = findMember(root, "seq");
  if (seq == nullptr) return fieldError("", "seq", "missing");
  if (!seq->IsUint64()) return fieldError("", "seq", "expected an unsigned integer");
  r.sequence = seq->GetUint64();
  WINDLASS_RETURN_IF_ERROR(readString(root, "", "time", r.time));
  WINDLASS_RETURN_IF_ERROR(readString(root, "", "env", r.environment));
  WINDLASS_RETURN_IF_ERROR(readEnum(root, "", "trigger", parseTrigger, r.trigger));
  if (findMember(root, "actor") != nullptr) {
    WINDLASS_RETURN_IF_ERROR(readString(root, "", "actor", r.actor));
  }

  const JsonValue* rev = nullptr;
  WINDLASS_RETURN_IF_ERROR(readObject(root, "", "revision", &rev));
  WINDLASS_RETURN_IF_ERROR(readString(*rev, "revision", "commit", r.revision.commit));
  WINDLASS_RETURN_IF_ERROR(readString(*rev, "revision", "branch", r.revision.branch));
  WINDLASS_RETURN_IF_ERROR(readString(*rev, "revision", "author", r.revision.author));
  WINDLASS_RETURN_IF_ERROR(readString(*rev, "revision", "committer", r.revision.committer));
  WINDLASS_RETURN_IF_ERROR(readString(*rev, "revision", "message", r.revision.message));
  WINDLASS_RETURN_IF_ERROR(
      readEnum(*rev, "revision", "signature", parseSignature, r.revision.signature));
  if (findMember(*rev, "signer") != nullptr) {
    WINDLASS_RETURN_IF_ERROR(readString(*rev, "revision", "signer", r.revision.signer));
  }
  if (findMember(root, "promotion") != nullptr) {
    const JsonValue* p = nullptr;
    WINDLASS_RETURN_IF_ERROR(readObject(root, "", "promotion", &p));
    WINDLASS_RETURN_IF_ERROR(readString(*p, "promotion", "from", r.promotion.from));
    WINDLASS_RETURN_IF_ERROR(readString(*p, "promotion", "revision", r.promotion.revision));
  }
  if (findMember(root, "hold") != nullptr) {
    const JsonValue* h = nullptr;
    WINDLASS_RETURN_IF_ERROR(readObject(root, "", "hold", &h));
    WINDLASS_RETURN_IF_ERROR(readString(*h, "hold", "revision", r.hold.revision));
    WINDLASS_RETURN_IF_ERROR(readString(*h, "hold", "actor", r.hold.actor));
    WINDLASS_RETURN_IF_ERROR(readString(*h, "hold", "since", r.hold.since));
    WINDLASS_RETURN_IF_ERROR(readString(*h, "hold", "reason", r.hold.reason));
  }

  const JsonValue* images = nullptr;
  WINDLASS_RETURN_IF_ERROR(readArray(root, "", "images", &images));
  r.images.reserve(images->Size());
  for (rapidjson::SizeType i = 0; i < images->Size(); ++i) {
    const JsonValue& image = (*images)[i];
    if (!image.IsString()) {
      return Status::invalidArgument("field \"images[" + std::to_string(i) +
                                     "]\": expected a string");
    }
    r.images.emplace_back(image.GetString(), image.GetStringLength());
  }

  if (findMember(root, "remotes") != nullptr) {
    const JsonValue* remotes = nullptr;
    WINDLASS_RETURN_IF_ERROR(readArray(root, "", "remotes", &remotes));
    for (rapidjson::SizeType i = 0; i < remotes->Size(); ++i) {
      const JsonValue& remote = (*remotes)[i];
      if (!remote.IsString()) {
        return Status::invalidArgument("field \"remotes[" + std::to_string(i) +
                                       "]\": expected a string");
      }
      r.remotes.emplace_back(remote.GetString(), remote.GetStringLength());
    }
  }

  const JsonValue* objects = nullptr;
  WINDLASS_RETURN_IF_ERROR(readArray(root, "", "objects", &objects));
  r.objects.resize(objects->Size());
  for (rapidjson::SizeType i = 0; i < objects->Size(); ++i) {
    std::string prefix = "objects[" + std::to_string(i) + "]";
    const JsonValue& entry = (*objects)[i];
    if (!entry.IsObject()) {
      return Status::invalidArgument("field \"" + prefix + "\": expected an object");
    }
    ObjectRecord& o = r.objects[i];
    WINDLASS_RETURN_IF_ERROR(readObjectId(entry, prefix, o));
    WINDLASS_RETURN_IF_ERROR(readEnum(entry, prefix, "action", parseAction, o.action));
    WINDLASS_RETURN_IF_ERROR(readString(entry, prefix, "error", o.error));
    if (findMember(entry, "diff") != nullptr) {
      WINDLASS_RETURN_IF_ERROR(readString(entry, prefix, "diff", o.diff));
    }
  }

  WINDLASS_RETURN_IF_ERROR(readEnum(root, "", "reason", parseReason, r.reason));
  WINDLASS_RETURN_IF_ERROR(readString(root, "", "message", r.message));

  const JsonValue* health = nullptr;
  WINDLASS_RETURN_IF_ERROR(readObject(root, "", "health", &health));
  WINDLASS_RETURN_IF_ERROR(readEnum(*health, "health", "status", parseHealth, r.health.status));
  const JsonValue* healthObjects = nullptr;
  WINDLASS_RETURN_IF_ERROR(readArray(*health, "health", "objects", &healthObjects));
  r.health.objects.resize(healthObjects->Size());
  for (rapidjson::SizeType i = 0; i < healthObjects->Size(); ++i) {
    std::string prefix = "health.objects[" + std::to_string(i) + "]";
    const JsonValue& entry = (*healthObjects)[i];
    if (!entry.IsObject()) {
      return Status::invalidArgument("field \"" + prefix + "\": expected an object");
    }
    ObjectHealth& o = r.health.objects[i];
    WINDLASS_RETURN_IF_ERROR(readObjectId(entry, prefix, o));
    WINDLASS_RETURN_IF_ERROR(readEnum(entry, prefix, "status", parseHealth, o.status));
    WINDLASS_RETURN_IF_ERROR(readString(entry, prefix, "message", o.message));
  }

  const JsonValue* duration = findMember(root, "durationMs");
  if (duration == nullptr) return fieldError("", "durationMs", "missing");
  if (!duration->IsInt64() || duration->GetInt64() < 0) {
    return fieldError("", "durationMs", "expected a non-negative integer");
  }
  r.durationMs = duration->GetInt64();
  WINDLASS_RETURN_IF_ERROR(readString(root, "", "prevHash", r.prevHash));
  return readString(root, "", "hash", r.hash);
}

bool isLowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// ---- Files ------------------------------------------------------------------

// Owns one file descriptor; closing it also releases its flock.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::string errnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

Status ioError(const std::string& subject, std::string_view verb, int error) {
  std::string msg = subject + ": " + std::string(verb) + ": " + errnoText(error);
  if (error == ENOSPC || error == EFBIG || error == EDQUOT) {
    return Status::resourceExhausted(std::move(msg));
  }
  return Status::unavailable(std::move(msg));
}

Status lockFile(int fd, int operation, const std::string& label) {
  while (::flock(fd, operation) != 0) {
    if (errno != EINTR) return ioError(label, "flock", errno);
  }
  return {};
}

Status readAt(int fd, char* out, size_t size, uint64_t offset, const std::string& label) {
  while (size > 0) {
    ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError(label, "read", errno);
    }
    if (n == 0) return Status::unavailable(label + ": read: the file shrank while being read");
    out += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return {};
}

Status writeAll(int fd, std::string_view data, const std::string& label) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError(label, "write", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// The offset of the last '\n' in [end - window, end), or -1 when there is none
// in that range (the range is clipped at the start of the file).
Result<int64_t> findLastNewline(int fd, uint64_t end, uint64_t window, const std::string& label) {
  uint64_t stop = end > window ? end - window : 0;
  char buffer[64 * 1024];
  while (end > stop) {
    uint64_t begin = end - stop > sizeof buffer ? end - sizeof buffer : stop;
    size_t size = static_cast<size_t>(end - begin);
    WINDLASS_RETURN_IF_ERROR(readAt(fd, buffer, size, begin, label));
    if (const void* p = ::memrchr(buffer, '\n', size)) {
      return static_cast<int64_t>(begin) + (static_cast<const char*>(p) - buffer);
    }
    end = begin;
  }
  return int64_t{-1};
}

Status syncDirectory(const fs::path& dir) {
  std::string path = dir.empty() ? std::string(".") : dir.string();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ioError(path, "open folder", errno);
  if (::fsync(fd.get()) != 0) return ioError(path, "fsync folder", errno);
  return {};
}

// The message for line `n` of `label` being longer than `maxLine` bytes.
Status lineTooLong(const std::string& label, uint64_t n, size_t maxLine) {
  return Status::failedPrecondition(label + ":" + std::to_string(n) + ": line longer than " +
                                    std::to_string(maxLine) + " bytes");
}

// Calls fn(lineNumber, line, terminated) for each line of `fd` from its current
// offset, numbering lines from `firstLine`, the last one with terminated=false
// when the file does not end in '\n'. A line longer than `maxLine` is never held
// whole: tooLong(lineNumber) is called instead, and the scan goes on with the
// next line when that returns ok. Stops at the first error either returns.
template <class Fn, class TooLong>
Status scanLines(int fd, const std::string& label, size_t maxLine, uint64_t firstLine, Fn&& fn,
                 TooLong&& tooLong) {
  std::vector<char> buffer(kReadChunk);
  size_t begin = 0;  // start of the current line
  size_t end = 0;    // end of the bytes read
  uint64_t lineNumber = firstLine - 1;
  bool skipping = false;  // inside a line already reported as too long
  for (;;) {
    if (end == buffer.size()) {
      if (begin > 0) {
        std::memmove(buffer.data(), buffer.data() + begin, end - begin);
        end -= begin;
        begin = 0;
      } else {
        buffer.resize(buffer.size() * 2);
      }
    }
    ssize_t n = ::read(fd, buffer.data() + end, buffer.size() - end);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError(label, "read", errno);
    }
    if (n == 0) break;
    size_t scanFrom = end;
    end += static_cast<size_t>(n);
    while (const void* p = std::memchr(buffer.data() + scanFrom, '\n', end - scanFrom)) {
      size_t newline = static_cast<size_t>(static_cast<const char*>(p) - buffer.data());
      ++lineNumber;
      if (skipping) {
        skipping = false;
      } else if (newline - begin > maxLine) {
        WINDLASS_RETURN_IF_ERROR(tooLong(lineNumber));
      } else {
        WINDLASS_RETURN_IF_ERROR(
            fn(lineNumber, std::string_view(buffer.data() + begin, newline - begin), true));
      }
      begin = newline + 1;
      scanFrom = begin;
    }
    if (!skipping && end - begin > maxLine) {
      WINDLASS_RETURN_IF_ERROR(tooLong(lineNumber + 1));
      skipping = true;
    }
    if (skipping) begin = end = 0;  // drop the long line's bytes as they come
  }
  if (!skipping && end > begin) {
    return fn(lineNumber + 1, std::string_view(buffer.data() + begin, end - begin), false);
  }
  return {};
}

bool isValidEnvironmentName(std::string_view env) {
  if (env.empty() || env.size() > 253 || env == "." || env == "..") return false;
  for (char c : env) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status checkEnvironmentName(std::string_view env) {
  if (isValidEnvironmentName(env)) return {};
  return Status::invalidArgument("history: environment name \"" + std::string(env) +
                                 "\" is not 1-253 characters of [A-Za-z0-9._-]");
}

std::string labelFor(std::string_view env) { return "history/" + std::string(env) + ".jsonl"; }

// parseRecord with the document's memory taken from `allocator`, which the
// caller may Clear() once the record is returned: a long scan then reuses one
// buffer instead of allocating per line.
Result<SyncRecord> parseLine(std::string_view line, JsonAllocator& allocator);

// Parses lines with one reusable allocator.
class LineParser {
 public:
  LineParser() : buffer_(kBufferSize), allocator_(buffer_.data(), buffer_.size()) {}
  LineParser(const LineParser&) = delete;
  LineParser& operator=(const LineParser&) = delete;
  Result<SyncRecord> parse(std::string_view line) {
    Result<SyncRecord> record = parseLine(line, allocator_);
    allocator_.Clear();
    return record;
  }

 private:
  static constexpr size_t kBufferSize = size_t{64} << 10;
  std::vector<char> buffer_;
  JsonAllocator allocator_;
};

// Checks the lines of one environment's history in order: each is complete,
// parses, is canonical, names the environment, has the next sequence number,
// the hash of the previous line and its own hash. Starts after `records` good
// records whose last line hashed to `prevLineHash` (0 and 64 zeros for a whole
// file). The one definition of a good chain, for verify() and for appends.
class ChainChecker {
 public:
  ChainChecker(std::string_view env, const std::string& label, uint64_t records,
               std::string prevLineHash)
      : env_(env), label_(label), records_(records), prevLineHash_(std::move(prevLineHash)) {}
  ChainChecker(const ChainChecker&) = delete;
  ChainChecker& operator=(const ChainChecker&) = delete;

  // FailedPrecondition "<label>:<n>: <what>" for a bad line; the state is then
  // unspecified.
  Status check(uint64_t n, std::string_view line, bool terminated) {
    auto bad = [&](const std::string& what) {
      return Status::failedPrecondition(label_ + ":" + std::to_string(n) + ": " + what);
    };
    if (!terminated) {
      return bad(
          "incomplete last record (no newline): an interrupted write, removed "
          "when the history is next opened for writing");
    }
    if (line.empty()) return bad("empty line");
    auto record = parser_.parse(line);
    if (!record) return bad(record.error().message());
    if (record->environment != env_) {
      return bad("a record of environment \"" + record->environment + "\" in the history of \"" +
                 std::string(env_) + "\"");
    }
    if (record->sequence != records_ + 1) {
      return bad("sequence " + std::to_string(record->sequence) + " where " +
                 std::to_string(records_ + 1) +
                 " was expected (a record is missing, repeated or out of order)");
    }
    if (record->prevHash != prevLineHash_) {
      return bad(
          "prevHash does not match the previous line (a record before it was "
          "removed, inserted or altered)");
    }
    if (!isLowerHex64(record->hash)) return bad("hash mismatch (record altered)");
    if (serializeRecord(*record, /*withHash=*/true) != line) {
      return bad("not in canonical form (record altered)");
    }
    // Canonical, so the line is the hashed text with `,"hash":"<64 hex>"` before its
    // '}'. Both digests share that prefix: hash it once and fork the hasher.
    std::string_view prefix = line.substr(0, line.size() - kHashMemberSize - 1);
    Sha256 bodyHasher;
    bodyHasher.update(prefix);
    Sha256 lineHasher = bodyHasher;
    bodyHasher.update("}");
    if (hexDigest(bodyHasher.finish()) != record->hash) {
      return bad("hash mismatch (record altered)");
    }
    lineHasher.update(line.substr(prefix.size()));
    prevLineHash_ = hexDigest(lineHasher.finish());
    ++records_;
    lastHash_ = record->hash;
    return {};
  }

  uint64_t records() const { return records_; }
  const std::string& lastHash() const { return lastHash_; }  // "" before the first good line

 private:
  std::string_view env_;
  const std::string& label_;
  uint64_t records_;
  std::string prevLineHash_;
  std::string lastHash_;
  LineParser parser_;
};

}  // namespace

// ---- Public free functions --------------------------------------------------

std::string formatRfc3339Utc(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  auto seconds = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int millis = static_cast<int>(ms - static_cast<int64_t>(seconds) * 1000);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  return text;
}

std::vector<HealthStatus> effectiveHealth(const std::vector<SyncRecord>& records) {
  std::vector<HealthStatus> out;
  out.reserve(records.size());
  HealthStatus carried = HealthStatus::kUnknown;
  for (const SyncRecord& r : records) {
    if (!r.health.objects.empty() || r.reason != Reason::kSucceeded) carried = r.health.status;
    out.push_back(carried);
  }
  return out;
}

bool isRfc3339Utc(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.f+]Z
  if (s.size() < 20) return false;
  auto digits = [&](size_t at, size_t count, int lo, int hi) {
    int value = 0;
    for (size_t i = at; i < at + count; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      value = value * 10 + (s[i] - '0');
    }
    return value >= lo && value <= hi;
  };
  if (!digits(0, 4, 0, 9999) || s[4] != '-' || !digits(5, 2, 1, 12) || s[7] != '-' ||
      !digits(8, 2, 1, 31) || s[10] != 'T' || !digits(11, 2, 0, 23) || s[13] != ':' ||
      !digits(14, 2, 0, 59) || s[16] != ':' || !digits(17, 2, 0, 60)) {
    return false;
  }
  size_t i = 19;
  if (s[i] == '.') {
    ++i;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  return i + 1 == s.size() && s[i] == 'Z';
}

std::string serializeRecord(const SyncRecord& r, bool withHash) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("seq");
  w.Uint64(r.sequence);
  putMember(w, "time", r.time);
  putMember(w, "env", r.environment);
  putMember(w, "trigger", triggerName(r.trigger));
  if (!r.actor.empty()) putMember(w, "actor", r.actor);
  w.Key("revision");
  w.StartObject();
  putMember(w, "commit", r.revision.commit);
  putMember(w, "branch", r.revision.branch);
  putMember(w, "author", r.revision.author);
  putMember(w, "committer", r.revision.committer);
  putMember(w, "message", r.revision.message);
  putMember(w, "signature", signatureName(r.revision.signature));
  if (!r.revision.signer.empty()) putMember(w, "signer", r.revision.signer);
  w.EndObject();
  if (!r.promotion.from.empty()) {
    w.Key("promotion");
    w.StartObject();
    putMember(w, "from", r.promotion.from);
    putMember(w, "revision", r.promotion.revision);
    w.EndObject();
  }
  if (!r.hold.revision.empty()) {
    w.Key("hold");
    w.StartObject();
    putMember(w, "revision", r.hold.revision);
    putMember(w, "actor", r.hold.actor);
    putMember(w, "since", r.hold.since);
    putMember(w, "reason", r.hold.reason);
    w.EndObject();
  }
  w.Key("images");
  w.StartArray();
  for (const std::string& image : r.images) putString(w, image);
  w.EndArray();
  if (!r.remotes.empty()) {
    w.Key("remotes");
    w.StartArray();
    for (const std::string& remote : r.remotes) putString(w, remote);
    w.EndArray();
  }
  w.Key("objects");
  w.StartArray();
  for (const ObjectRecord& o : r.objects) {
    w.StartObject();
    putObjectId(w, o);
    putMember(w, "action", actionName(o.action));
    putMember(w, "error", o.error);
    if (!o.diff.empty()) putMember(w, "diff", o.diff);
    w.EndObject();
  }
  w.EndArray();
  putMember(w, "reason", reasonName(r.reason));
  putMember(w, "message", r.message);
  w.Key("health");
  w.StartObject();
  putMember(w, "status", healthName(r.health.status));
  w.Key("objects");
  w.StartArray();
  for (const ObjectHealth& o : r.health.objects) {
    w.StartObject();
    putObjectId(w, o);
    putMember(w, "status", healthName(o.status));
    putMember(w, "message", o.message);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.Key("durationMs");
  w.Int64(r.durationMs);
  putMember(w, "prevHash", r.prevHash);
  if (withHash) putMember(w, "hash", r.hash);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<SyncRecord> parseRecord(std::string_view line) {
  JsonAllocator allocator;
  return parseLine(line, allocator);
}

namespace {
Result<SyncRecord> parseLine(std::string_view line, JsonAllocator& allocator) {
  JsonDocument doc(&allocator);
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(line.data(), line.size());
  if (doc.HasParseError()) {
    return Status::invalidArgument(
        "not JSON: " + std::string(rapidjson::GetParseError_En(doc.GetParseError())) + " at byte " +
        std::to_string(doc.GetErrorOffset() + 1));
  }
  SyncRecord record;
  WINDLASS_RETURN_IF_ERROR(parseInto(doc, record));
  return record;
}
}  // namespace

bool maskSecrets(JsonValue& object) {
  if (!object.IsObject()) return false;
  const JsonValue* api = findMember(object, "apiVersion");
  const JsonValue* kind = findMember(object, "kind");
  if (api == nullptr || kind == nullptr || !api->IsString() || !kind->IsString() ||
      std::string_view(api->GetString(), api->GetStringLength()) != "v1" ||
      std::string_view(kind->GetString(), kind->GetStringLength()) != "Secret") {
    return false;
  }
  for (const char* key : {"data", "stringData"}) {
    auto it = object.FindMember(key);
    if (it == object.MemberEnd() || it->value.IsNull()) continue;
    if (it->value.IsObject()) {
      for (auto& entry : it->value.GetObject()) entry.value.SetString(rapidjson::StringRef(kMask));
    } else {
      it->value.SetString(rapidjson::StringRef(kMask));
    }
  }
  auto metadata = object.FindMember("metadata");
  if (metadata != object.MemberEnd() && metadata->value.IsObject()) {
    auto annotations = metadata->value.FindMember("annotations");
    if (annotations != metadata->value.MemberEnd() && annotations->value.IsObject()) {
      auto applied =
          annotations->value.FindMember("kubectl.kubernetes.io/last-applied-configuration");
      if (applied != annotations->value.MemberEnd()) {
        applied->value.SetString(rapidjson::StringRef(kMask));
      }
    }
  }
  return true;
}

// ---- HistoryStore -----------------------------------------------------------

HistoryStore::HistoryStore(std::string stateDir, HistoryOptions options)
    : stateDir_(std::move(stateDir)), options_(std::move(options)) {}

std::string HistoryStore::filePath(std::string_view env) const {
  return (fs::path(stateDir_) / "history" / (std::string(env) + ".jsonl")).string();
}

HistoryStats HistoryStore::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void HistoryStore::warn(std::string_view message) const {
  if (options_.warn) {
    options_.warn(message);
  } else {
    std::string line = "windlass: warning: " + std::string(message) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

Status HistoryStore::open(std::string_view env) {
  std::lock_guard<std::mutex> lock(mutex_);
  int fd = -1;
  Tail* tail = nullptr;
  WINDLASS_RETURN_IF_ERROR(openLocked(env, &fd, &tail));
  ::close(fd);
  return {};
}

namespace {
// An error opening `path` for appending. A file or folder that is not writable
// stays so until someone changes it: FailedPrecondition; anything else is I/O.
Status openForAppendError(const std::string& path, int error) {
  if (error == EACCES || error == EPERM || error == EROFS || error == EISDIR) {
    return Status::failedPrecondition(path + ": cannot open for appending: " + errnoText(error));
  }
  return ioError(path, "open for appending", error);
}
}  // namespace

Status HistoryStore::openLocked(std::string_view env, int* fdOut, Tail** tailOut) {
  WINDLASS_RETURN_IF_ERROR(checkEnvironmentName(env));
  const std::string label = labelFor(env);
  const std::string path = filePath(env);
  int raw = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (raw < 0 && errno == ENOENT) {
    const fs::path state(stateDir_);
    const fs::path folder = state / "history";
    std::error_code ec;
    bool createdState = fs::create_directories(state, ec);
    if (ec) return ioError(stateDir_, "create the state folder", ec.value());
    bool createdFolder = fs::create_directory(folder, ec);
    if (ec) return ioError(folder.string(), "create the history folder", ec.value());
    if (options_.sync && createdState) {
      WINDLASS_RETURN_IF_ERROR(syncDirectory(state.parent_path()));
      ++stats_.dirSyncs;
    }
    if (options_.sync && createdFolder) {
      WINDLASS_RETURN_IF_ERROR(syncDirectory(state));
      ++stats_.dirSyncs;
    }
    raw = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (raw >= 0) {
      if (options_.sync) {
        Status synced = syncDirectory(folder);
        if (!synced.ok()) {
          ::close(raw);
          return synced;
        }
        ++stats_.dirSyncs;
      }
    } else if (errno == EEXIST) {  // another process created it first
      raw = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    }
  }
  if (raw < 0) return openForAppendError(path, errno);
  UniqueFd fd(raw);
  WINDLASS_RETURN_IF_ERROR(lockFile(fd.get(), LOCK_EX, label));
  auto it = tails_.find(env);
  if (it == tails_.end()) it = tails_.emplace(std::string(env), Tail{}).first;
  WINDLASS_RETURN_IF_ERROR(refreshTail(fd.get(), env, label, it->second));
  *tailOut = &it->second;
  *fdOut = fd.release();
  return {};
}

Status HistoryStore::refreshTail(int fd, std::string_view env, const std::string& label,
                                 Tail& tail) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ioError(label, "stat", errno);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  const bool sameFile = tail.known && tail.device == static_cast<uint64_t>(st.st_dev) &&
                        tail.inode == static_cast<uint64_t>(st.st_ino);
  // Sizes only grow by whole records and shrink only back to a record boundary,
  // so an unchanged identity and size means an unchanged last record.
  if (sameFile && tail.size == size) return {};
  // From here on `tail` is unknown until the end, so an error makes the next
  // call read the file afresh.
  const Tail previous = std::move(tail);
  tail = Tail{};
  const uint64_t window = static_cast<uint64_t>(options_.maxLineBytes) + 1;

  if (size > 0) {
    char last = 0;
    WINDLASS_RETURN_IF_ERROR(readAt(fd, &last, 1, size - 1, label));
    if (last != '\n') {
      auto newline = findLastNewline(fd, size, window, label);
      if (!newline) return newline.error();
      if (*newline < 0 && size > window) {
        return Status::failedPrecondition(label + ": the last line is longer than " +
                                          std::to_string(options_.maxLineBytes) + " bytes");
      }
      uint64_t keep = static_cast<uint64_t>(*newline + 1);
      if (::ftruncate(fd, static_cast<off_t>(keep)) != 0) return ioError(label, "truncate", errno);
      if (options_.sync) {
        if (::fsync(fd) != 0) return ioError(label, "fsync", errno);
        ++stats_.fileSyncs;
      }
      ++stats_.incompleteRemoved;
      warn(label + ": removed an incomplete last record (" + std::to_string(size - keep) +
           " bytes without a newline): an interrupted write that was never acknowledged");
      size = keep;
    }
  }
  if (sameFile && previous.size == size) {  // only a torn record had been added
    tail = previous;
    return {};
  }

  // The last record, which the next one continues. Unreadable, it stops appends
  // even with allowBrokenChain.
  uint64_t lastSequence = 0;
  std::string lastLineHash(kZeroHash);
  if (size > 0) {
    auto newline = findLastNewline(fd, size - 1, window, label);
    if (!newline) return newline.error();
    if (*newline < 0 && size - 1 > options_.maxLineBytes) {
      return Status::failedPrecondition(label + ": the last line is longer than " +
                                        std::to_string(options_.maxLineBytes) + " bytes");
    }
    uint64_t start = static_cast<uint64_t>(*newline + 1);
    std::string line(static_cast<size_t>(size - 1 - start), '\0');
    WINDLASS_RETURN_IF_ERROR(readAt(fd, line.data(), line.size(), start, label));
    auto record = parseRecord(line);
    if (!record) {
      return Status::failedPrecondition(label + ": the last record does not parse (" +
                                        record.error().message() +
                                        "); run `windlass history verify`");
    }
    lastSequence = record->sequence;
    lastLineHash = sha256Hex(line);
  }

  // The chain: the whole file the first time this store sees it, then only the
  // lines other writers added since. A chain accepted as broken is not checked again.
  bool broken = sameFile && previous.broken;
  if (!broken) {
    const bool grown = sameFile && size > previous.size;
    const uint64_t from = grown ? previous.size : 0;
    if (::lseek(fd, static_cast<off_t>(from), SEEK_SET) < 0) return ioError(label, "seek", errno);
    ChainChecker chain(env, label, grown ? previous.lastSequence : 0,
                       grown ? previous.lastLineHash : std::string(kZeroHash));
    const uint64_t before = chain.records();
    const size_t maxLine = options_.maxLineBytes;
    Status checked = scanLines(
        fd, label, maxLine, chain.records() + 1,
        [&](uint64_t n, std::string_view line, bool terminated) {
          return chain.check(n, line, terminated);
        },
        [&](uint64_t n) { return lineTooLong(label, n, maxLine); });
    if (!checked.ok()) {
      if (checked.code() != Code::kFailedPrecondition) return checked;  // I/O
      if (!options_.allowBrokenChain) {
        return Status::failedPrecondition(
            checked.message() +
            "; refusing to append to a broken history (move the file aside, or set "
            "allowBrokenChain)");
      }
      warn(checked.message() +
           "; appending anyway, continuing from the last record (allowBrokenChain is set)");
      broken = true;
    }
    stats_.linesChecked += chain.records() - before;
  }
  tail.known = true;
  tail.broken = broken;
  tail.device = static_cast<uint64_t>(st.st_dev);
  tail.inode = static_cast<uint64_t>(st.st_ino);
  tail.size = size;
  tail.lastSequence = lastSequence;
  tail.lastLineHash = std::move(lastLineHash);
  return {};
}

Status HistoryStore::append(SyncRecord& record) {
  WINDLASS_RETURN_IF_ERROR(checkEnvironmentName(record.environment));
  if (!isRfc3339Utc(record.time)) {
    return Status::invalidArgument("history record: time \"" + record.time +
                                   "\" is not RFC 3339 UTC (2024-05-01T12:00:00Z)");
  }
  if (record.durationMs < 0) {
    return Status::invalidArgument("history record: durationMs " +
                                   std::to_string(record.durationMs) + " is negative");
  }
  const std::string label = labelFor(record.environment);

  std::lock_guard<std::mutex> lock(mutex_);
  int raw = -1;
  Tail* tail = nullptr;
  WINDLASS_RETURN_IF_ERROR(openLocked(record.environment, &raw, &tail));
  UniqueFd fd(raw);

  record.sequence = tail->lastSequence + 1;
  record.prevHash = tail->lastLineHash;
  record.hash = sha256Hex(serializeRecord(record, /*withHash=*/false));
  std::string line = serializeRecord(record, /*withHash=*/true);
  if (line.size() > options_.maxLineBytes) {
    return Status::resourceExhausted(label + ": a record of " + std::to_string(line.size()) +
                                     " bytes exceeds the limit of " +
                                     std::to_string(options_.maxLineBytes));
  }
  std::string lineHash = sha256Hex(line);
  line += '\n';

  Status written = writeAll(fd.get(), line, label);
  if (!written.ok()) {
    // Cut a partial line away now rather than leave it for the next open.
    if (::ftruncate(fd.get(), static_cast<off_t>(tail->size)) != 0) tail->known = false;
    return written;
  }
  if (options_.sync) {
    if (::fsync(fd.get()) != 0) {
      int error = errno;
      tail->known = false;  // unknown what reached the disk: read it again next time
      return ioError(label, "fsync", error);
    }
    ++stats_.fileSyncs;
  }
  tail->size += line.size();
  tail->lastSequence = record.sequence;
  tail->lastLineHash = std::move(lineHash);
  return {};
}

Result<HistoryRead> HistoryStore::read(std::string_view env) const {
  WINDLASS_RETURN_IF_ERROR(checkEnvironmentName(env));
  const std::string label = labelFor(env);
  HistoryRead result;
  UniqueFd fd(::open(filePath(env).c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return result;
    return ioError(label, "open", errno);
  }
  WINDLASS_RETURN_IF_ERROR(lockFile(fd.get(), LOCK_SH, label));
  LineParser parser;
  auto onLine = [&](uint64_t n, std::string_view line, bool terminated) -> Status {
    std::string at = label + ":" + std::to_string(n) + ": ";
    if (!terminated) {
      warn(at + "skipped an incomplete last record (an interrupted write, never acknowledged)");
      return {};
    }
    auto record = parser.parse(line);
    if (record) {
      result.records.push_back(std::move(*record));
    } else {
      result.badLines.push_back({n, at + record.error().message()});
    }
    return {};
  };
  auto onTooLong = [&](uint64_t n) -> Status {
    result.badLines.push_back({n, lineTooLong(label, n, options_.maxLineBytes).message()});
    return {};
  };
  WINDLASS_RETURN_IF_ERROR(scanLines(fd.get(), label, options_.maxLineBytes, 1, onLine, onTooLong));
  return result;
}

Result<std::vector<SyncRecord>> HistoryStore::load(std::string_view env) const {
  auto got = read(env);
  if (!got) return got.error();
  if (!got->badLines.empty()) return Status::failedPrecondition(got->badLines[0].message);
  return std::move(got->records);
}

Status HistoryStore::verify(std::string_view env, ChainSummary* summary) const {
  WINDLASS_RETURN_IF_ERROR(checkEnvironmentName(env));
  const std::string label = labelFor(env);
  ChainSummary result;
  UniqueFd fd(::open(filePath(env).c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno != ENOENT) return ioError(label, "open", errno);
  } else {
    WINDLASS_RETURN_IF_ERROR(lockFile(fd.get(), LOCK_SH, label));
    ChainChecker chain(env, label, 0, std::string(kZeroHash));
    const size_t maxLine = options_.maxLineBytes;
    WINDLASS_RETURN_IF_ERROR(scanLines(
        fd.get(), label, maxLine, 1,
        [&](uint64_t n, std::string_view line, bool terminated) {
          return chain.check(n, line, terminated);
        },
        [&](uint64_t n) { return lineTooLong(label, n, maxLine); }));
    result.records = chain.records();
    result.lastHash = chain.lastHash();
  }
  if (summary != nullptr) *summary = std::move(result);
  return {};
}

Result<std::vector<std::string>> HistoryStore::environments() const {
  std::vector<std::string> names;
  const fs::path folder = fs::path(stateDir_) / "history";
  std::error_code ec;
  fs::directory_iterator it(folder, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return names;
    return ioError(folder.string(), "list", ec.value());
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return ioError(folder.string(), "list", ec.value());
    const fs::path& p = it->path();
    if (p.extension() != ".jsonl") continue;
    std::string env = p.stem().string();
    if (isValidEnvironmentName(env)) names.push_back(std::move(env));
  }
  if (ec) return ioError(folder.string(), "list", ec.value());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace windlass::reconcile
