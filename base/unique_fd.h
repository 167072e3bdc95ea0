#pragma once

#include <unistd.h>

#include <utility>

namespace cachewarden {

// An owned file descriptor, closed on destruction. Move-only; thread-compatible like a plain value.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up the fd held without closing it; -1 if none.
  int Release() { return std::exchange(fd_, -1); }
  // Closes the fd held (if any) and holds `fd` instead (-1: none).
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace cachewarden
