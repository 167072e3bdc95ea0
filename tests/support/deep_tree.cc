#include "tests/support/deep_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <filesystem>

#include "base/unique_fd.h"

namespace cachewarden::testing {

void DeepEntry(const std::string& parent, const std::string& name, int depth, int age_seconds,
               bool fresh_file) {
  REQUIRE(::mkdir((parent + "/" + name).c_str(), 0755) == 0);
  UniqueFd fd(::open((parent + "/" + name).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(fd.valid());
  for (int i = 0; i < depth; ++i) {
    for (const char* d : {"a", "b", "c", "n"}) REQUIRE(::mkdirat(fd.get(), d, 0755) == 0);
    UniqueFd next(::openat(fd.get(), "n", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(next.valid());
    fd = std::move(next);
  }
  if (fresh_file) {
    UniqueFd file(::openat(fd.get(), "fresh", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    REQUIRE(file.valid());
    REQUIRE(::write(file.get(), "now", 3) == 3);
  }
  // Aging changes no directory's mtime: top down, each level's children, then the entry itself.
  struct timespec t[2];
  clock_gettime(CLOCK_REALTIME, &t[0]);
  t[0].tv_sec -= age_seconds;
  t[1] = t[0];
  fd.Reset(::open((parent + "/" + name).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  for (int i = 0; i < depth; ++i) {
    for (const char* d : {"a", "b", "c", "n"}) {
      REQUIRE(::utimensat(fd.get(), d, t, AT_SYMLINK_NOFOLLOW) == 0);
    }
    UniqueFd next(::openat(fd.get(), "n", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME));
    REQUIRE(next.valid());
    fd = std::move(next);
  }
  REQUIRE(::utimensat(AT_FDCWD, (parent + "/" + name).c_str(), t, AT_SYMLINK_NOFOLLOW) == 0);
}

std::string InChildWithNofile(rlim_t nofile, const std::function<std::string()>& fn, rlim_t spare) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    if (nofile == 0) {
      nofile = spare;
      for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
        (void)e;
        ++nofile;
      }
    }
    struct rlimit rl {
      nofile, nofile
    };
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::_exit(3);
    std::string out = fn();
    (void)!::write(p[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out(4096, '\0');
  std::size_t got = 0;
  for (;;) {
    ssize_t n = ::read(p[0], out.data() + got, out.size() - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(p[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  out.resize(got);
  return out;
}

}  // namespace cachewarden::testing
