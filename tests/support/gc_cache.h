#pragma once

// The cache most GC run tests start from: a root with dind/, and a precious tree outside it that
// no run may touch; entries made on demand, and a policy that always wants them.

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <utility>

#include "actions/gc_run.h"
#include "policies/gc/gc_config.h"
#include "tests/support/gc_tree.h"
#include "tests/support/mounts.h"

namespace cachewarden::testing {

struct Cache {
  TempDir tmp;
  std::string root = tmp / "root";
  std::string outside = tmp / "outside";
  GcRunOptions options;
  Cache() {
    MakeDirs(root + "/dind");
    MakeDirs(outside + "/d");
    Touch(outside + "/d/precious", "precious");
    options.root = root;
  }
  std::string Entry(const std::string& name, int age_seconds) {
    std::string e = root + "/dind/" + name;
    MakeDirs(e + "/sub");
    Touch(e + "/sub/file", std::string(10000, 'x'));
    AgeTree(e, age_seconds);
    return e;
  }
};

inline GcPolicy Always(std::string path = "dind") {
  GcPolicy p;
  p.name = "t";
  p.path = std::move(path);
  p.min_age = Duration(0);
  p.triggers.always = true;
  return p;
}

// A child process in a mount namespace of its own (as a build container with `WITH DOCKER` is):
// runs `setup` there (mounts, chdir, opens), reports whether it worked and waits until destroyed.
class ForeignNamespace {
 public:
  explicit ForeignNamespace(const std::function<bool()>& setup) {
    int ready[2], go[2];
    if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(go, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      char b = ::unshare(CLONE_NEWNS) == 0 &&
                       ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 && setup()
                   ? 1
                   : 0;
      if (::write(ready[1], &b, 1) != 1) ::_exit(1);
      ::close(go[1]);
      while (::read(go[0], &b, 1) > 0) {
      }
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(go[0]);
    go_ = go[1];
    char b = 0;
    ok_ = pid_ > 0 && ::read(ready[0], &b, 1) == 1 && b == 1;
    ::close(ready[0]);
  }
  ~ForeignNamespace() { (void)Finish(); }
  // Lets the child exit and waits for it: true if it exited with 0 (once; later calls: false).
  bool Finish() {
    if (go_ >= 0) ::close(go_), go_ = -1;
    if (pid_ <= 0) return false;
    int status = 0;
    const bool waited = ::waitpid(pid_, &status, 0) == pid_;
    pid_ = -1;
    return waited && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  bool ok() const { return ok_; }
  int pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  bool ok_ = false;
};

}  // namespace cachewarden::testing
