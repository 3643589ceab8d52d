// A cross-process lock on a file: flock(2) on `<path>`, created when missing.
//
// The kernel drops the lock when its holder exits, however it exits (kill -9
// included), so a lock left by a dead process is simply free again: there is no
// stale lock to detect or break. Two FileLocks in one process on the same path
// exclude each other too (each opens its own file description).
//
// Thread safety: a FileLock is owned by one thread at a time; acquire() is
// reentrant across different FileLock objects.
#pragma once

#include <chrono>
#include <string>

#include "core/status.h"

namespace windlass {

class CancelToken;

class FileLock {
 public:
  FileLock() = default;
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();  // releases the lock

  // Takes an exclusive lock on `path` (its folder must exist), waiting at most
  // `wait` (0: try once) and giving up early when `cancel` (may be null) is
  // cancelled. `what` names the lock in messages ("environment prod").
  // Errors: Aborted "<what> is locked by another windlass process (<path>)" when
  // the wait ran out, Aborted "cancelled" when cancelled, Unavailable for I/O
  // errors naming the path.
  [[nodiscard]] static Result<FileLock> acquire(const std::string& path, const std::string& what,
                                                std::chrono::milliseconds wait,
                                                const CancelToken* cancel = nullptr);

  bool held() const { return fd_ >= 0; }
  void release();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace windlass
