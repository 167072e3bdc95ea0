#include "base/status.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace cachewarden {

Status Status::Error(StatusCode code, std::string message, int err, std::string path) {
  Status s;
  s.code_ = code == StatusCode::kOk ? StatusCode::kInternal : code;
  s.message_ = std::move(message);
  s.errno_ = err;
  s.path_ = std::move(path);
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return fmt::format("{}: {}", reason(), message_);
}

StatusCode CodeOfErrno(int err) {
  if (err == ENOENT || err == ENOTDIR) return StatusCode::kMissing;
  if (err == EACCES || err == EPERM) return StatusCode::kPermission;
  return StatusCode::kIo;
}

Status PosixError(std::string_view context, std::string_view path, int err) {
  return Status::Error(CodeOfErrno(err),
                       fmt::format("{} {}: {}", context, path, std::strerror(err)), err,
                       std::string(path));
}

}  // namespace cachewarden
