#include "fs/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/unique_fd.h"

namespace cachewarden {

Status ReadSmallFile(const std::string& file, std::string* out, std::size_t max_bytes) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open", file, errno);
  out->clear();
  char buf[16384];
  while (out->size() < max_bytes) {
    ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, max_bytes - out->size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("read", file, errno);
    }
    if (n == 0) break;
    out->append(buf, static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

}  // namespace cachewarden
