#include "fs/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cachewarden {

bool WriteAtomically(const std::string& path, const std::string& data, std::string* error) {
  // mkostemp creates a new file under an unpredictable name with O_CREAT|O_EXCL, which never
  // follows a symlink: one planted at a guessable name cannot redirect the write.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    *error =
        fmt::format("cannot create a temporary file next to {}: {}", path, std::strerror(errno));
    return false;
  }
  auto fail = [&](const char* what) {
    *error = fmt::format("cannot {} {}: {}", what, tmp, std::strerror(errno));
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  };
  // mkostemp makes it 0600; the file is for other readers (node_exporter, a test harness).
  if (::fchmod(fd, 0644) != 0) return fail("chmod");
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("flush");
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) return fail("flush");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = fmt::format("cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
    ::unlink(tmp.c_str());
    return false;
  }
  // The rename is durable only once the directory is flushed too.
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace cachewarden
