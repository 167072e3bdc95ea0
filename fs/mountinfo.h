#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cachewarden {

// One line of /proc/<pid>/mountinfo (proc(5)), with the octal escapes of the path fields (\040
// space, \011 tab, \012 newline, \134 backslash) decoded.
struct MountEntry {
  int id = 0;
  int parent = 0;
  unsigned major = 0;
  unsigned minor = 0;
  std::string root;                          // the directory of the filesystem that is mounted
  std::string mount_point;                   // where, relative to the reading process's root
  std::string options;                       // per-mount options ("rw,relatime")
  std::vector<std::string> optional_fields;  // "shared:1", "master:983", ...
  std::string fstype;                        // "ext4", "overlay", "fuse.sshfs"
  std::string source;                        // "/dev/nvme1n1", "overlay", "tmpfs"
  std::string super_options;

  // "ro" among the per-mount or the superblock options.
  bool ReadOnly() const;
  std::string Device() const;  // "major:minor"
};

// A parsed mountinfo file, in file order (the kernel lists mounts in the order they were mounted,
// so a later entry on the same mount point is on top).
struct MountTable {
  std::vector<MountEntry> entries;
  int malformed_lines = 0;  // skipped, never fatal

  // The mount that holds `path` (absolute, already resolved, no symlinks):
  // walks the mount tree from the root mount, taking at each level the child whose mount point is
  // the longest prefix of `path`, where a later mount on the same or an enclosing point hides an
  // earlier one. Null if the table has no root mount. The pointer is into `entries`.
  const MountEntry* Holder(std::string_view path) const;
  // The mount at "/" that Holder() starts from (the top of any stack), or null.
  const MountEntry* RootMount() const;
  const MountEntry* FindById(int id) const;
};

// Decodes the octal escapes of one mountinfo field.
std::string UnescapeMountField(std::string_view field);

// Parses mountinfo text. Pure; never fails: a line that is not well formed is counted in
// malformed_lines and skipped.
MountTable ParseMountInfo(std::string_view text);

// Reads and parses a mountinfo file (at most `max_bytes`; mountinfo of a busy host with thousands
// of mounts is a few MiB). Fails only if the file cannot be read.
Status ReadMountInfo(const std::string& file, MountTable* out, std::size_t max_bytes = 64 << 20);

}  // namespace cachewarden
