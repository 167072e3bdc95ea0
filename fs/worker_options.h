#pragma once

namespace cachewarden {

// How many threads a filesystem job (a walk) starts, and how politely they run: the `threads`,
// `low_priority` and `nice` keys of the scan probe and of a GC policy. A plain value. The job's own
// threads only are lowered (ioprio_set to the idle I/O class, then `nice`); the caller's thread
// never is.
struct WorkerOptions {
  int threads = 2;  // >= 1
  bool low_priority = false;
  int nice = 10;  // 0..19, applied with low_priority

  bool operator==(const WorkerOptions&) const = default;
};

}  // namespace cachewarden
