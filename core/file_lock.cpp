#include "core/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/cancel.h"

namespace windlass {

FileLock::FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() { release(); }

void FileLock::release() {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor drops the flock
  fd_ = -1;
}

Result<FileLock> FileLock::acquire(const std::string& path, const std::string& what,
                                   std::chrono::milliseconds wait, const CancelToken* cancel) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::unavailable(path + ": cannot open lock file: " + std::strerror(errno));
  FileLock lock(fd);
  auto deadline = std::chrono::steady_clock::now() + wait;
  std::chrono::milliseconds pause{5};
  while (true) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return lock;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return Status::unavailable(path + ": flock: " + std::strerror(errno));
    }
    if (cancel != nullptr && cancel->cancelled()) return Status::aborted("cancelled");
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::aborted(what + " is locked by another windlass process (" + path + ")");
    }
    CancelToken none;
    (cancel != nullptr ? cancel : &none)->waitFor(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

}  // namespace windlass
