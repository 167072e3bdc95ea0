#pragma once

#include <string>
#include <string_view>

#include "base/enum_names.h"

namespace cachewarden {

// Why an operation failed: a closed set, so that callers compare codes, never text. The name of
// each (kStatusCodeNames) is the one spelling shown wherever a reason appears: the "reason" of
// /status JSON, the probe-failed log line, the alerts' summaries.
enum class StatusCode {
  kOk,
  kTimeout,     // did not finish in time (a probe's deadline, a GC command's timeout)
  kIo,          // any other errno; also a file that is not what it must be
  kMissing,     // ENOENT/ENOTDIR: the thing is not there
  kPermission,  // EACCES/EPERM
  kCancelled,   // stopped by a cancel flag (shutdown, reload)
  kSymlink,     // refused to follow a symlink
  kInvalid,     // an argument the operation refuses (a policy path with "..")
  kBusy,        // another GC run holds the cache's lock
  kParse,       // a file read but not understood (mountinfo without "/")
  kMounts,      // GC could not look for mounts under its entries
  kCommand,     // a GC command failed (not started, or a non-zero exit)
  kError,       // GC chose entries and could delete none of them
  kInternal,    // a bug: e.g. a probe that returned neither data nor an error
};

inline constexpr EnumName<StatusCode> kStatusCodeNames[] = {
    {StatusCode::kOk, "ok"},
    {StatusCode::kTimeout, "timeout"},
    {StatusCode::kIo, "io"},
    {StatusCode::kMissing, "missing"},
    {StatusCode::kPermission, "permission"},
    {StatusCode::kCancelled, "cancelled"},
    {StatusCode::kSymlink, "symlink"},
    {StatusCode::kInvalid, "invalid"},
    {StatusCode::kBusy, "busy"},
    {StatusCode::kParse, "parse"},
    {StatusCode::kMounts, "mounts"},
    {StatusCode::kCommand, "command"},
    {StatusCode::kError, "error"},
    {StatusCode::kInternal, "internal"},
};

constexpr std::string_view ToString(StatusCode c) {
  return NameIn<StatusCode>(kStatusCodeNames, c);
}

// The result of an operation on the hot path (probes, walker, reaper), leveldb style: ok, or an
// error with a code, the errno that caused it (0 if none), the path involved ("" if none) and a
// message for people. Cheap to copy; no exceptions. Thread-compatible like a plain value.
class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  // `code` must not be kOk (an error that reads as success would be a bug: it becomes kInternal).
  static Status Error(StatusCode code, std::string message, int err = 0, std::string path = {});

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // The code's name ("missing"): what JSON and logs show as the reason. "ok" when ok.
  std::string_view reason() const { return NameIn<StatusCode>(kStatusCodeNames, code_); }
  const std::string& message() const { return message_; }
  const std::string& path() const { return path_; }
  int error_number() const { return errno_; }

  // "reason: message" for logs, or "ok".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  int errno_ = 0;
  std::string message_;
  std::string path_;
};

// The code of a failed system call's errno: kMissing for ENOENT/ENOTDIR, kPermission for
// EACCES/EPERM, kIo for everything else.
StatusCode CodeOfErrno(int err);

// Status from a failed system call: `context` is what we were doing ("statvfs"), `path` what we did
// it to; the code is CodeOfErrno(err).
Status PosixError(std::string_view context, std::string_view path, int err);

}  // namespace cachewarden
