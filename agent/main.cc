#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "agent/cli.h"
#include "base/log.h"

namespace {

// The walker and the reaper bound their own fd use, but a deep cache tree and many policies still
// want more than the usual soft limit of 1,024: take what the hard limit allows. Best-effort.
void RaiseNofileLimit() {
  struct rlimit rl {};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
  const rlim_t before = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    cachewarden::LogDebug("cannot raise the fd limit", {{"error", std::strerror(errno)}});
    return;
  }
  cachewarden::LogDebug("raised the fd limit", {{"from", before}, {"to", rl.rlim_max}});
}

}  // namespace

int main(int argc, char** argv) {
  RaiseNofileLimit();
  return cachewarden::RunCli(argc, argv);
}
