#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "base/clock.h"

namespace cachewarden {

struct CommandOutcome {
  bool started = false;    // false: not found, or posix_spawn/pidfd_open failed (see error)
  int exit_code = -1;      // the exit status, or 128+signal when killed
  bool timed_out = false;  // killed after the timeout
  bool cancelled = false;  // killed because `cancel` was set
  std::string output;      // stdout and stderr together, first 8 KiB
  std::string error;       // why it did not start
};

// Runs `argv` (argv[0] absolute, or searched in the minimal PATH) without a shell, by posix_spawn:
// stdin from /dev/null, stdout and stderr into one pipe, every other fd closed, in a process group
// of its own, with a minimal environment (PATH, LANG=C.UTF-8, HOME=/), no signal blocked and every
// signal at its default disposition (but for glibc's two internal ones, 32 and 33, which its
// posix_spawn leaves ignored; glibc and Go programs set their own handlers for them anyway).
// After `timeout` (or once `cancel` is set) the group gets SIGTERM, then SIGKILL 5 s later; once
// the command has exited after such a stop, whatever is left of its group gets SIGKILL too. A
// command that exits on its own returns at once, even if a process it started still holds the
// pipe (what that one writes later is not read).
//
// The wait is one poll(2) on a pidfd (Linux >= 5.3) and the pipe, woken by the exit, by output or
// by the next deadline: no fixed polling interval. `cancel` is a plain flag that nobody signals
// (the GC run's walker and reaper read the same flag), so while one is given the poll also wakes
// every kCancelCheck to read it: a cancel takes effect within that bound. `cancel` may be null;
// if not, it must outlive the call.
//
// Blocks the calling thread (never the loop's); thread-safe.
CommandOutcome RunCommandAction(const std::vector<std::string>& argv, Duration timeout,
                                const std::atomic<bool>* cancel);

// How often a `cancel` flag is read while a command runs.
inline constexpr std::chrono::milliseconds kCancelCheck{100};

// The PATH the command runs with.
inline constexpr const char* kCommandPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace cachewarden
