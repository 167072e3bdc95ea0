#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "base/clock.h"

namespace cachewarden {

struct CommandOutcome {
  bool started = false;    // false: not found or fork/exec failed (see error)
  int exit_code = -1;      // the exit status, or 128+signal when killed
  bool timed_out = false;  // killed after the timeout
  bool cancelled = false;  // killed because `cancel` was set
  std::string output;      // stdout and stderr together, first 8 KiB
  std::string error;       // why it did not start
};

// Runs `argv` (argv[0] absolute, or searched in the minimal PATH) without a shell: fork + execve,
// stdin from /dev/null, every other fd closed, in a process group of its own, with a minimal
// environment (PATH, LANG=C.UTF-8, HOME=/). After `timeout` (or once `cancel` is set) the group
// gets SIGTERM, then SIGKILL 5 s later. Blocks the calling thread; never the loop's.
CommandOutcome RunCommandAction(const std::vector<std::string>& argv, Duration timeout,
                                const std::atomic<bool>* cancel);

// The PATH the command runs with.
inline constexpr const char* kCommandPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace cachewarden
