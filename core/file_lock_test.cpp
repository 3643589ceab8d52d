#include "core/file_lock.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/cancel.h"

using namespace windlass;
using namespace std::chrono_literals;

namespace {
std::string tempDir() {
  char tmpl[] = "/tmp/windlass-lock-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}
}  // namespace

TEST_CASE("a second FileLock on the same path waits, then reports who holds it") {
  std::string dir = tempDir();
  auto first = FileLock::acquire(dir + "/env.lock", "environment dev", 0ms);
  REQUIRE(first);
  auto second = FileLock::acquire(dir + "/env.lock", "environment dev", 30ms);
  REQUIRE_FALSE(second);
  CHECK(second.error().code() == Code::kAborted);
  CHECK(second.error().message() ==
        "environment dev is locked by another windlass process (" + dir + "/env.lock)");
  first->release();
  CHECK(FileLock::acquire(dir + "/env.lock", "environment dev", 0ms));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a lock held by a process killed with SIGKILL is free again") {
  std::string dir = tempDir();
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto held = FileLock::acquire(dir + "/m.lock", "mirror", 0ms);
    char c = held ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::pause();
    std::_Exit(0);
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  REQUIRE(c == 'y');
  CHECK_FALSE(FileLock::acquire(dir + "/m.lock", "mirror", 0ms));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  CHECK(FileLock::acquire(dir + "/m.lock", "mirror", 0ms));
  ::close(ready[0]);
  ::close(ready[1]);
  std::filesystem::remove_all(dir);
}

TEST_CASE("waiting for a lock ends when the token is cancelled") {
  std::string dir = tempDir();
  auto first = FileLock::acquire(dir + "/x.lock", "x", 0ms);
  REQUIRE(first);
  CancelToken cancel;
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    cancel.cancel();
  });
  auto second = FileLock::acquire(dir + "/x.lock", "x", 60s, &cancel);
  t.join();
  REQUIRE_FALSE(second);
  CHECK(second.error().message() == "cancelled");
  std::filesystem::remove_all(dir);
}

TEST_CASE("CancelToken::waitFor returns early once cancelled") {
  CancelToken token;
  CHECK(token.waitFor(1ms));
  token.cancel();
  CHECK_FALSE(token.waitFor(10s));
}
