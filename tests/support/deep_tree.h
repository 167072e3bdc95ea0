#pragma once

#include <sys/resource.h>

#include <functional>
#include <string>

namespace cachewarden::testing {

// Builds under `parent` an entry `name` `depth` directories deep: each level holds the next one
// ("n") and three empty leaf directories ("a", "b", "c"), so a walk that keeps an fd for every
// directory whose subdirectories are still queued holds about one per level. Everything is
// `age_seconds` old but a file "fresh" at the bottom, written now (unless `fresh_file` is false).
// By fds only: the paths are longer than PATH_MAX. REQUIREs success.
void DeepEntry(const std::string& parent, const std::string& name, int depth, int age_seconds,
               bool fresh_file = true);

// Runs `fn` in a forked child whose soft and hard RLIMIT_NOFILE are `nofile` (0: the fds it has
// open, the one listing /proc/self/fd included, plus `spare`), so that the test process keeps its
// own limit; returns what `fn` returned (at most 4 KiB). CHECKs that the child exited 0.
std::string InChildWithNofile(rlim_t nofile, const std::function<std::string()>& fn,
                              rlim_t spare = 8);

}  // namespace cachewarden::testing
