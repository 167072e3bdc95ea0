#pragma once

#include <string>
#include <string_view>

namespace cachewarden {

// The result of an operation on the hot path (probes, walker, reaper): ok, or an error with a short
// machine-readable reason ("timeout", "io", "missing"), the errno that caused it (0 if none), the
// path involved and a message for people. Cheap to copy; no exceptions. Thread-compatible like a
// plain value.
class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string reason, std::string message, int err = 0, std::string path = {});

  bool ok() const { return !failed_; }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  const std::string& path() const { return path_; }
  int error_number() const { return errno_; }

  // "reason: message" for logs, or "ok".
  std::string ToString() const;

 private:
  bool failed_ = false;
  int errno_ = 0;
  std::string reason_;
  std::string message_;
  std::string path_;
};

// Status from a failed system call: `context` is what we were doing ("statvfs"), `path` what we did
// it to. Reason is derived from the errno: "missing" for ENOENT/ENOTDIR, "permission" for
// EACCES/EPERM, "io" for everything else.
Status PosixError(std::string_view context, std::string_view path, int err);

}  // namespace cachewarden
