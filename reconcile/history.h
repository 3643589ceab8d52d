// The sync history: one append-only, hash-chained JSON Lines file per environment.
//
// Every sync, successful or failed, appends one SyncRecord to
// `<stateDir>/history/<env>.jsonl`. A line is the record's canonical JSON (keys
// in a fixed order, no spaces, see serializeRecord) followed by '\n'. Each
// record carries
//   prevHash = SHA-256 of the previous line's bytes (without its '\n'), or 64
//              zeros for the first record, and
//   hash     = SHA-256 of the canonical JSON of the record without the "hash"
//              member,
// so changing, removing, inserting or reordering any record but the last breaks
// the chain at the first line touched, and verify() names that line. Removing
// records from the end cannot be seen from the file alone; an auditor who needs
// that keeps the last hash elsewhere (verify() reports it).
//
// Before it appends, a store checks the whole chain of an environment once (the
// first open() or append() of that environment, O(n)); later appends extend
// what it knows of the tail and check only lines other writers added. It
// refuses to append to a broken chain unless HistoryOptions::allowBrokenChain.
//
// Durability: a record is acknowledged (append() returns ok) only after its line
// is written with O_APPEND and fsynced; the folder is fsynced when the file is
// created. An agent killed mid-write leaves a last line without '\n': that
// record was never acknowledged, and the next open for writing removes it with a
// warning, so it is never glued to the next record.
//
// Secrets never enter the history: callers pass every object through
// maskSecrets() before it reaches a diff or a record.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "reconcile/vocabulary.h"

namespace windlass::reconcile {

// The commit a sync used. Empty strings when the sync failed before the source
// was resolved.
struct Revision {
  std::string commit;     // full commit id (hex)
  std::string branch;     // branch, tag or "" for a pinned commit
  std::string author;     // "Name <email>"
  std::string committer;  // "Name <email>"
  std::string message;    // the full commit message
  SignatureStatus signature = SignatureStatus::kUnknown;
  // Who signed a kValid commit: the allowed_signers principals or the OpenPGP user
  // ID (sources/signature.h). Written only when set, so older records keep their form.
  std::string signer;

  bool operator==(const Revision&) const = default;
};

// One object the sync acted on. `group` is "" for the core group.
struct ObjectRecord {
  std::string group;
  std::string version;
  std::string kind;
  std::string ns;  // namespace; "" for cluster-scoped objects
  std::string name;
  ObjectAction action = ObjectAction::kUnchanged;
  std::string error;  // "" when the action succeeded
  // What changed: the unified YAML diff live → applied (Secret values masked), for
  // objects created, updated or replaced; "" otherwise. Capped (kMaxObjectDiffBytes).
  std::string diff;

  bool operator==(const ObjectRecord&) const = default;
};

// The health of one object after the sync.
struct ObjectHealth {
  std::string group;
  std::string version;
  std::string kind;
  std::string ns;
  std::string name;
  HealthStatus status = HealthStatus::kUnknown;
  std::string message;  // the reason for anything but Healthy, e.g. "progress deadline exceeded"

  bool operator==(const ObjectHealth&) const = default;
};

struct HealthRecord {
  HealthStatus status = HealthStatus::kUnknown;
  std::vector<ObjectHealth> objects;

  bool operator==(const HealthRecord&) const = default;
};

// Where a promoted revision came from (the record's trigger is kPromotion).
struct PromotionRecord {
  std::string from;      // the source environment
  std::string revision;  // the source environment's commit that was promoted

  bool operator==(const PromotionRecord&) const = default;
};

// An environment held at a revision (`windlass rollback`, rollbackOnFailure): new
// commits are fetched but not applied until `windlass release`.
struct HoldRecord {
  std::string revision;  // the commit it is held at
  std::string actor;     // who held it ("windlass" for rollbackOnFailure)
  std::string since;     // RFC 3339 UTC
  std::string reason;

  bool operator==(const HoldRecord&) const = default;
};

// The longest per-object diff a record keeps; a longer one is cut at a line and
// says how much was left out.
inline constexpr size_t kMaxObjectDiffBytes = 32 * 1024;
// The most diff text one record keeps; objects past it say their diff was left out.
inline constexpr size_t kMaxRecordDiffBytes = 4 * 1024 * 1024;

// One sync. Plain data; strings are stored as given, except that invalid UTF-8
// is stored as U+FFFD so every line is valid JSON for every reader.
struct SyncRecord {
  uint64_t sequence = 0;    // set by append(): 1 for the first record, then +1
  std::string time;         // RFC 3339 UTC, e.g. "2024-05-01T12:00:00.123Z" (formatRfc3339Utc)
  std::string environment;  // also names the file; see HistoryStore::append
  Trigger trigger = Trigger::kPoll;
  // Who asked for it: the API token's name or --actor for a manual sync; "" for the
  // agent's own syncs. Written only when set, so older records keep their form.
  std::string actor;
  Revision revision;
  std::vector<std::string> images;  // image references the render used, e.g. "ghcr.io/a/b:1.2"
  // Remote bases and files the render used, each "<resolved> <reference>": a commit id
  // or "sha256:<hex>", a space, the reference as written. Written only when non-empty.
  std::vector<std::string> remotes;
  PromotionRecord promotion;  // set (from != "") for a promotion; written only then
  HoldRecord hold;            // set (revision != "") while held; written only then
  std::vector<ObjectRecord> objects;
  Reason reason = Reason::kSucceeded;
  std::string message;  // the error of a failed sync, or a summary
  HealthRecord health;
  int64_t durationMs = 0;  // >= 0
  std::string prevHash;    // set by append()
  std::string hash;        // set by append()

  bool operator==(const SyncRecord&) const = default;
};

// The health each record stands for, in order: its own, except that a successful
// record without health objects (a render that did not change, or a repair) keeps
// the health of the record before it.
std::vector<HealthStatus> effectiveHealth(const std::vector<SyncRecord>& records);

// Formats `t` as RFC 3339 UTC with milliseconds: "2024-05-01T12:00:00.123Z".
std::string formatRfc3339Utc(std::chrono::system_clock::time_point t);

// True when `text` is "YYYY-MM-DDTHH:MM:SS" with an optional fraction and a "Z"
// suffix, with fields in range.
bool isRfc3339Utc(std::string_view text);

// The canonical JSON of `record`, one line without '\n'. With `withHash` false
// the "hash" member is left out: that is the text `hash` is the SHA-256 of.
// Pure; thread-safe.
std::string serializeRecord(const SyncRecord& record, bool withHash = true);

// Parses one history line (without '\n') into a record. Returns InvalidArgument
// naming the first bad field ('field "revision.author": expected a string').
// Does not check the hashes or that the line is canonical; see verify().
Result<SyncRecord> parseRecord(std::string_view line);

// Replaces every value under `data` and `stringData` of a v1 Secret with "***",
// keeping the keys, and masks the kubectl last-applied-configuration
// annotation (which holds the Secret in clear). Any other object is left as it
// is. A `data` or `stringData` that is not a mapping is replaced as a whole.
// Returns true when the object is a v1 Secret. The replacement strings are
// constants, so no allocator is needed. Not thread-safe on the same object.
bool maskSecrets(JsonValue& object);

struct HistoryOptions {
  // fsync every record, and the folder when a file or folder is created.
  // Default true; turn it off only to generate benchmark fixtures.
  bool sync = true;
  // The longest line written or read, in bytes. append() refuses a longer
  // record; open(), load() and verify() report a longer line as an error, read()
  // as a bad line (skipped unread). Default 16 MiB.
  size_t maxLineBytes = size_t{16} << 20;
  // Append to a history whose chain is broken (verify() fails), continuing from
  // its last record, after one warning per store and file. Default false:
  // append() and open() refuse with FailedPrecondition naming the first bad
  // line. The last record must still parse either way.
  bool allowBrokenChain = false;
  // Receives warnings (an incomplete last line removed or skipped, a broken
  // chain appended to with allowBrokenChain). Called from
  // the calling thread, possibly with the store's lock held: it must not call
  // back into the store. Default: print "windlass: warning: ..." to stderr.
  std::function<void(std::string_view)> warn;
};

// A line of a history file that is not a readable record.
struct HistoryBadLine {
  uint64_t lineNumber = 0;  // 1-based
  std::string message;      // 'history/prod.jsonl:3: field "time": expected a string'

  bool operator==(const HistoryBadLine&) const = default;
};

// What HistoryStore::read() made of a history file.
struct HistoryRead {
  std::vector<SyncRecord> records;       // every readable record, oldest first
  std::vector<HistoryBadLine> badLines;  // the others, in file order; empty when all read
};

// Counters, for tests and metrics.
struct HistoryStats {
  uint64_t fileSyncs = 0;          // fsync of a history file
  uint64_t dirSyncs = 0;           // fsync of a folder after creating an entry in it
  uint64_t incompleteRemoved = 0;  // incomplete last lines truncated away
  uint64_t linesChecked = 0;       // lines whose chain link open()/append() checked
};

// The history of every environment under one state folder.
//
// Thread-safe: appends from many threads are serialised by a mutex, appends
// from many processes (or many stores on the same folder) by flock() on the
// file; read(), load() and verify() take a shared flock and so see whole records
// only. The first open()/append() of an environment holds the exclusive flock
// while it checks the whole chain.
// Environment names must be 1-253 characters of [A-Za-z0-9._-], not "." or "..".
class HistoryStore {
 public:
  explicit HistoryStore(std::string stateDir, HistoryOptions options = {});

  HistoryStore(const HistoryStore&) = delete;
  HistoryStore& operator=(const HistoryStore&) = delete;

  // The pre-flight of a sync: call it before the first cluster write, so that a
  // sync whose history cannot be written changes nothing. It creates
  // `<stateDir>/history/<env>.jsonl` (and the folders) when missing, opens the
  // file for writing (O_WRONLY|O_APPEND must succeed), removes an incomplete
  // last line with a warning, reads the last record and checks the chain (the
  // whole file the first time, see the top of this file). On success an
  // append() to `env` from this store can write, barring what changes in
  // between (a full disk, someone else's edit or chmod), which append() reports.
  // append() does all this itself. Errors: InvalidArgument for a bad name;
  // FailedPrecondition when the file or its folder is not writable
  // ("/var/lib/windlass/history/prod.jsonl: cannot open for appending:
  // Permission denied"), the last record is unreadable, a line is longer than
  // maxLineBytes, or the chain is broken and allowBrokenChain is not set
  // ("history/prod.jsonl:17: hash mismatch (record altered); refusing to append
  // to a broken history (move the file aside, or set allowBrokenChain)");
  // Unavailable for other I/O errors.
  Status open(std::string_view env);

  // Appends `record` to the history of record.environment: sets
  // record.sequence, record.prevHash and record.hash (the caller's values are
  // ignored), writes the line and fsyncs it. On success the record is durable.
  // Errors: InvalidArgument when the environment name, the time or the duration
  // is bad (nothing written); ResourceExhausted when the line would exceed
  // maxLineBytes or the disk is full; the errors of open(); Unavailable for
  // other I/O errors. After a failed write the file is cut back to where it
  // was; after a failed fsync the record may or may not be in the history (the
  // next append reads the file again, so the chain stays whole either way).
  // On failure sequence/prevHash/hash of `record` are unspecified.
  Status append(SyncRecord& record);

  // Every readable record of `env`, oldest first, and every line that is not
  // one ("history/<env>.jsonl:<line>: <what>": does not parse, or is longer
  // than maxLineBytes, which is skipped unread). A missing file is an empty
  // history. An incomplete last line (an interrupted write) is skipped with a
  // warning and is not a bad line. Does not check the chain (see verify).
  // Errors: InvalidArgument for a bad name; Unavailable for I/O errors.
  Result<HistoryRead> read(std::string_view env) const;

  // All records of `env`, oldest first: read() when it found no bad line.
  // Errors: those of read(), and FailedPrecondition with the message of the
  // first bad line.
  Result<std::vector<SyncRecord>> load(std::string_view env) const;

  // What verify() saw of a good chain.
  struct ChainSummary {
    uint64_t records = 0;
    std::string lastHash;  // "" for an empty history
  };

  // Checks the whole history of `env`: every line is complete and parses, is
  // in canonical form, names `env`, has the next sequence number, the hash of
  // the previous line and its own hash. Returns ok (and fills `summary` when
  // given) or FailedPrecondition naming the first bad line:
  //   "history/prod.jsonl:17: hash mismatch (record altered)".
  // A missing file is an empty, valid history. Unavailable for I/O errors.
  Status verify(std::string_view env, ChainSummary* summary = nullptr) const;

  // The environments that have a history file, sorted.
  Result<std::vector<std::string>> environments() const;

  // `<stateDir>/history/<env>.jsonl` (not checked).
  std::string filePath(std::string_view env) const;

  HistoryStats stats() const;

 private:
  // What is known of a file's end after the last append or open, valid while
  // the file's identity and size are unchanged.
  struct Tail {
    bool known = false;   // the fields below describe the file (and its chain was checked)
    bool broken = false;  // the chain is broken and allowBrokenChain let appends go on
    uint64_t device = 0;
    uint64_t inode = 0;
    uint64_t size = 0;
    uint64_t lastSequence = 0;
    std::string lastLineHash;
  };

  // Called with mutex_ held and the file flocked exclusively.
  Status refreshTail(int fd, std::string_view env, const std::string& label, Tail& tail);
  Status openLocked(std::string_view env, int* fd, Tail** tail);
  void warn(std::string_view message) const;

  const std::string stateDir_;
  const HistoryOptions options_;
  mutable std::mutex mutex_;  // guards tails_ and stats_; serialises appends
  std::map<std::string, Tail, std::less<>> tails_;
  HistoryStats stats_;
};

}  // namespace windlass::reconcile
