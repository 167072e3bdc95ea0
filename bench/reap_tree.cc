// bench/delete's driver: deletes DIR/NAME with the GC reaper, unthrottled, exactly as a policy run
// does (ReapEntry with the entry's dev/ino), and prints the wall time. Built by bench/delete
// against build/'s libraries.
#include <fcntl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "actions/reaper.h"
#include "fs/dirfd.h"

int main(int argc, char** argv) {
  using namespace cachewarden;
  if (argc < 3) {
    std::fprintf(stderr, "usage: reap_tree DIR NAME [THREADS]\n");
    return 64;
  }
  UniqueFd dir(OpenDirNoFollow(AT_FDCWD, argv[1]));
  struct statx sx;
  if (!dir.valid() || StatxNoFollow(dir.get(), argv[2], &sx) != 0) {
    std::perror("open");
    return 1;
  }
  ReapOptions o;
  o.threads = argc > 3 ? std::atoi(argv[3]) : 2;
  auto start = std::chrono::steady_clock::now();
  ReapOutcome r = ReapEntry(dir.get(), argv[2], DevOf(sx), sx.stx_ino, o);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s removed=%llu errors=%llu seconds=%.3f\n", std::string(ToString(r.result)).c_str(),
              static_cast<unsigned long long>(r.removed), static_cast<unsigned long long>(r.errors),
              s);
  return r.result == ReapResult::kDeleted ? 0 : 1;
}
