#include "base/status.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace cachewarden {

Status Status::Error(std::string reason, std::string message, int err, std::string path) {
  Status s;
  s.failed_ = true;
  s.reason_ = std::move(reason);
  s.message_ = std::move(message);
  s.errno_ = err;
  s.path_ = std::move(path);
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return fmt::format("{}: {}", reason_, message_);
}

Status PosixError(std::string_view context, std::string_view path, int err) {
  std::string reason = "io";
  if (err == ENOENT || err == ENOTDIR) reason = "missing";
  if (err == EACCES || err == EPERM) reason = "permission";
  return Status::Error(reason, fmt::format("{} {}: {}", context, path, std::strerror(err)), err,
                       std::string(path));
}

}  // namespace cachewarden
