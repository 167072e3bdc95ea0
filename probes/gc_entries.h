#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/enum_names.h"
#include "base/status.h"
#include "fs/walker.h"

namespace cachewarden {

// Which of an entry's times makes its age: a policy's `age_by`.
enum class GcAgeBy { kMtime, kCtime, kAtime };
inline constexpr EnumName<GcAgeBy> kGcAgeByNames[] = {
    {GcAgeBy::kMtime, "mtime"},
    {GcAgeBy::kCtime, "ctime"},
    {GcAgeBy::kAtime, "atime"},
};
constexpr std::string_view ToString(GcAgeBy a) { return NameIn<GcAgeBy>(kGcAgeByNames, a); }

// One candidate entry (an immediate child of a policy's directory) as measured just before
// planning.
struct GcEntry {
  std::string name;
  bool is_dir = true;
  // Of the entry itself: re-checked before deletion.
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint64_t bytes = 0;  // allocated bytes; hard links inside counted once
  // Of `bytes`: files with hard links outside the entry (st_nlink above the links met inside),
  // which deleting it does not free. GC counts bytes - shared_bytes as what the entry frees.
  std::uint64_t shared_bytes = 0;
  std::uint64_t inodes = 0;  // files, directories and links inside, itself included
  SystemTime newest{};       // newest time (per age_by) in the entry's subtree
  // Newest ctime in the subtree: the age's fallback when `newest` lies in the future (ctime cannot
  // be set from user space, so it is never later than the last change's real time).
  SystemTime newest_ctime{};
  bool has_mount = false;  // a mount point at or under the entry, in any namespace
  // The entry is itself a mount point of the agent's namespace (another device or mount than its
  // parent's). `newest` is then the age of what the mount shows, `bytes` and `inodes` 0: what is
  // beneath is hidden until it is detached, and the mount's own content frees nothing of the
  // cache. Skipped (`mount_point`) unless the policy detaches stale mounts; GC then detaches it and
  // measures the directory beneath again before it deletes anything.
  bool mount_point = false;
  // A mount at or under the entry in another mount namespace, for people ("" if none). Always
  // skipped (`mount`), even with unmount_stale: the agent detaches only mounts of its own
  // namespace, and rmdir here would silently detach that one there.
  std::string foreign_mount;
  // A mount that shows the entry elsewhere, in any namespace (EntryMounts::elsewhere): the entry
  // is in use there (`mounted_elsewhere`), whatever the path it is seen under. "" if none.
  std::string mounted_elsewhere;
  bool open = false;  // a visible process holds something inside open
  std::string error;  // measuring failed (the entry is skipped), else ""
  // The walk could not see all of the entry (a directory or entry it could not open or stat for a
  // reason other than having vanished: EMFILE, ENOMEM, EACCES, EIO...), so `newest` and `bytes`
  // describe only a part: for people, e.g. "12 entries not seen (Too many open files)"; "" when
  // the walk saw everything. GC skips such an entry (`incomplete`).
  std::string incomplete;
  // Taken from an earlier run of the same policy (GcPolicy::remeasure_after), not walked by this
  // one: GC walks such an entry again before it deletes it.
  bool reused = false;
};

// How GC measures an entry: which time is its age, and the walker's threads, priority and cancel
// flag (WalkOptions::workers, WalkOptions::cancel: it must outlive the MeasureGcEntry call).
struct EntryMeasureOptions {
  GcAgeBy age_by = GcAgeBy::kMtime;
  WalkOptions walk;
};

// Measures the entry `name` of the directory `parent_fd` into *out with the scan probe's walker
// (fs/walker.h: dirfd only, never follows symlinks, never enters another mount, hard links
// once): its (dev, ino), allocated bytes, inode count, the newest `age_by` time in its subtree, and
// whether a mount point of the agent's namespace lies at or under it (another device;
// MountsUnderEntries finds the rest). An entry that is itself a mount point is marked so
// (GcEntry::mount_point) and measured by what it shows. A failure is stored in out->error ("" on
// success), a partial walk in out->incomplete. Polls options.walk.cancel.
void MeasureGcEntry(int parent_fd, const std::string& name, const EntryMeasureOptions& options,
                    GcEntry* out);

// The entries of a policy directory by identity: (device as DevOf encodes it, fs/dirfd.h; inode)
// -> name.
using EntryIds = std::map<std::pair<std::uint64_t, std::uint64_t>, std::string>;

// Names of the entries of a policy directory that some process visible in `proc_root` holds open:
// its cwd, or an open file or directory, is the entry or lies inside it. Matched by identity, so
// a process that sees the entry under another path (another mount namespace, a bind mount, a
// chroot) is found: a cwd or directory fd is followed up through ".." until an entry's (dev, ino)
// or the top; a non-directory on the entries' device `dev` (DevOf's encoding) is placed by its
// directory, resolved through /proc/<pid>/root. Paths under `policy_dir` (its normalised spelling,
// as /proc's links name it) also count, e.g. for a deleted file whose directory is gone. Unreadable
// processes are passed over.
std::set<std::string> EntriesHeldOpen(const std::string& proc_root, const std::string& policy_dir,
                                      const EntryIds& ids, std::uint64_t dev);

// The mounts at or under one entry of a policy directory, as the mount namespaces visible in /proc
// see them.
struct EntryMounts {
  bool own = false;           // in the agent's own namespace (unmount_stale may detach it)
  bool own_at_entry = false;  // one of those is on the entry itself
  // A mount that shows the entry elsewhere (a bind mount whose root is the entry or inside it), in
  // any namespace, for people: "<mount point> (pid <pid> <comm>)"; "" if none. The entry is in
  // use there although nothing is mounted on it.
  std::string elsewhere;
  std::string
      foreign;  // one in another namespace, for people: "<mount point> (<fstype>, pid <pid>
                // <comm>)"; "" if none. rmdir of such a mount point succeeds here and silently
                // detaches it there (Linux >= 3.18), so its entry must never be deleted.
};

// Looks for mounts at or under the entries of a policy directory in every mount namespace visible
// in `proc_root` (fs/mount_namespaces.h), keyed by entry name. `policy_dirs` are the spellings of
// that one directory (resolved and as configured); a namespace that sees the cache or an entry
// under another path is matched by the mounts' device and root field. Fails only if our own
// mountinfo cannot be read;
// `*unreadable` counts other namespaces whose mountinfo could not be read (their process exited, or
// no permission).
Status MountsUnderEntries(const std::string& proc_root, const std::vector<std::string>& policy_dirs,
                          std::map<std::string, EntryMounts>* out, int* unreadable);

}  // namespace cachewarden
