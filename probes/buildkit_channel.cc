#include "probes/buildkit_channel.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "base/host_port.h"

namespace cachewarden {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// dockerd's answer to the upgrade is a status line and two headers; anything this long is not it.
constexpr std::size_t kMaxResponseHead = 8192;

// Waits until `fd` is ready for `events` or `deadline` passes.
Status WaitFor(int fd, short events, SteadyTime deadline, const std::string& path,
               std::string_view what) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Status::Error(StatusCode::kTimeout,
                           "no answer from dockerd in time while " + std::string(what), 0, path);
    }
    pollfd p{fd, events, 0};
    // Rounded up so that a sub-millisecond remainder still waits instead of spinning.
    const int r = poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (r > 0) return Status::Ok();
    if (r < 0 && errno != EINTR) return PosixError("poll", path, errno);
  }
}

bool ParseTcpAddress(std::string_view text, BuildkitAddress* out, std::string* error) {
  const std::string_view target = text.substr(std::string_view("tcp://").size());
  // host:port, [v6]:port; nothing after the port (no path, no query).
  const auto hp = SplitHostPort(target, 1);
  if (!hp || hp->host.empty() || hp->host.find_first_of("/?#@ []") != std::string_view::npos) {
    *error = fmt::format(
        "\"{}\": expected tcp://host:port (a port in 1-65535; an IPv6 host in brackets)", text);
    return false;
  }
  out->kind = BuildkitAddress::Kind::kTcp;
  out->path = std::string(target);
  out->text = std::string(text);
  out->tls.reset();
  return true;
}

}  // namespace

bool ParseBuildkitAddress(std::string_view text, BuildkitAddress* out, std::string* error) {
  if (text.starts_with("tcp://")) return ParseTcpAddress(text, out, error);
  struct Scheme {
    std::string_view prefix;
    BuildkitAddress::Kind kind;
  };
  static constexpr Scheme kSchemes[] = {{"unix://", BuildkitAddress::Kind::kUnix},
                                        {"docker-unix://", BuildkitAddress::Kind::kDockerUnix}};
  for (const auto& s : kSchemes) {
    if (!text.starts_with(s.prefix)) continue;
    const std::string_view path = text.substr(s.prefix.size());
    if (!path.starts_with('/')) {
      *error = fmt::format("\"{}\": the socket path must be absolute (unix:///path)", text);
      return false;
    }
    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      *error = fmt::format("\"{}\": socket path too long for a unix socket", text);
      return false;
    }
    out->kind = s.kind;
    out->path = std::string(path);
    out->text = std::string(text);
    return true;
  }
  *error = fmt::format(
      "\"{}\": not a BuildKit address (unix:///path, docker-unix:///path or tcp://host:port)",
      text);
  return false;
}

Status UpgradeDockerGrpc(const std::string& path, SteadyTime deadline, UniqueFd* out) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return PosixError("socket", path, errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status::Error(StatusCode::kInvalid, "socket path too long", 0, path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    // A unix socket whose backlog is full says EAGAIN; the connection completes once it drains.
    if (errno != EAGAIN && errno != EINPROGRESS) return PosixError("connect", path, errno);
    if (Status s = WaitFor(fd.get(), POLLOUT, deadline, path, "connecting"); !s.ok()) return s;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return PosixError("connect", path, err);
  }

  static constexpr std::string_view kRequest =
      "POST /grpc HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
      "Content-Length: 0\r\n\r\n";
  for (std::size_t sent = 0; sent < kRequest.size();) {
    const ssize_t n = send(fd.get(), kRequest.data() + sent, kRequest.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN) {
      if (Status s = WaitFor(fd.get(), POLLOUT, deadline, path, "sending"); !s.ok()) return s;
    } else if (errno != EINTR) {
      return PosixError("send", path, errno);
    }
  }

  std::string head;
  while (!head.ends_with("\r\n\r\n")) {
    if (head.size() >= kMaxResponseHead) {
      return Status::Error(StatusCode::kParse, "dockerd's answer to POST /grpc has no end", 0,
                           path);
    }
    char c = 0;
    const ssize_t n = recv(fd.get(), &c, 1, 0);
    if (n == 1) {
      head.push_back(c);
    } else if (n == 0) {
      return Status::Error(StatusCode::kIo,
                           head.empty() ? "dockerd closed the connection without answering "
                                          "POST /grpc"
                                        : "dockerd closed the connection in the middle of its "
                                          "answer to POST /grpc",
                           0, path);
    } else if (errno == EAGAIN) {
      if (Status s = WaitFor(fd.get(), POLLIN, deadline, path, "upgrading to h2c"); !s.ok()) {
        return s;
      }
    } else if (errno != EINTR) {
      return PosixError("recv", path, errno);
    }
  }
  const std::string status_line = head.substr(0, head.find("\r\n"));
  // "HTTP/1.1 101 Switching Protocols": the code is the second word.
  const auto space = status_line.find(' ');
  const std::string code = space == std::string::npos ? "" : status_line.substr(space + 1, 4);
  if (!status_line.starts_with("HTTP/1.") || (code != "101" && code != "101 ")) {
    return Status::Error(StatusCode::kIo,
                         fmt::format("dockerd did not upgrade POST /grpc to h2c (BuildKit off, or "
                                     "an API without it): \"{}\"",
                                     status_line),
                         0, path);
  }
  *out = std::move(fd);
  return Status::Ok();
}

}  // namespace cachewarden
