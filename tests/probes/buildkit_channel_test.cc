// The docker-unix upgrade against a fake Docker API socket (a unix socket served by a thread of the
// test): dockerd itself cannot be made to answer 404, close half-way, or hang on POST /grpc, and
// those are the failure paths checked here. The success path against the real dockerd is in
// buildkit_dockerd_test.cc.
#include "probes/buildkit_channel.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <thread>

#include "tests/support/process.h"

namespace cachewarden {
namespace {

using Clock = std::chrono::steady_clock;

// Accepts one connection on a unix socket, reads the request head, writes `answer` (if any), then
// closes at once (`hang` false) or only once the client has closed its end (`hang` true: a server
// that never answers, without a sleep on either side).
class FakeDockerSocket {
 public:
  FakeDockerSocket(std::string path, std::string answer, bool hang)
      : path_(std::move(path)), answer_(std::move(answer)), hang_(hang) {
    listen_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    REQUIRE(bind(listen_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(listen(listen_, 1) == 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeDockerSocket() {
    if (thread_.joinable()) thread_.join();
    close(listen_);
  }
  // Waits until the fake has served its one connection; what the client sent.
  std::string Done() {
    thread_.join();
    return request_;
  }

 private:
  void Serve() {
    const int c = accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    char buf[512];
    while (request_.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = recv(c, buf, sizeof(buf), 0);
      if (n <= 0) break;
      request_.append(buf, static_cast<std::size_t>(n));
    }
    if (!answer_.empty()) (void)!write(c, answer_.data(), answer_.size());
    if (hang_) {
      while (recv(c, buf, sizeof(buf), 0) > 0) {
      }
    }
    close(c);
  }

  std::string path_, answer_;
  bool hang_;
  int listen_ = -1;
  std::string request_;
  std::thread thread_;
};

TEST_CASE("docker-unix upgrade sends POST /grpc and leaves HTTP/2 bytes to gRPC",
          "[buildkit][docker-unix]") {
  testing::TempDir dir;
  const std::string sock = dir / "docker.sock";
  FakeDockerSocket fake(sock,
                        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "
                        "h2c\r\n\r\nPRI-FROM-SERVER",
                        /*hang=*/false);
  UniqueFd fd;
  const Status s = UpgradeDockerGrpc(sock, Clock::now() + std::chrono::seconds(10), &fd);
  REQUIRE(s.ok());
  REQUIRE(fd.valid());
  const std::string request = fake.Done();
  CHECK(request.starts_with("POST /grpc HTTP/1.1\r\n"));
  CHECK(request.find("\r\nConnection: Upgrade\r\n") != std::string::npos);
  CHECK(request.find("\r\nUpgrade: h2c\r\n") != std::string::npos);
  // The first bytes after the blank line belong to the HTTP/2 stream: still unread.
  std::string rest;
  char buf[64];
  for (;;) {
    const ssize_t n = recv(fd.get(), buf, sizeof(buf), MSG_WAITALL);
    if (n > 0) rest.append(buf, static_cast<std::size_t>(n));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
  }
  CHECK(rest == "PRI-FROM-SERVER");
}

TEST_CASE("docker-unix upgrade refused: the status line is the reason", "[buildkit][docker-unix]") {
  testing::TempDir dir;
  const std::string sock = dir / "docker.sock";
  FakeDockerSocket fake(sock, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false);
  UniqueFd fd;
  const Status s = UpgradeDockerGrpc(sock, Clock::now() + std::chrono::seconds(10), &fd);
  CHECK(s.code() == StatusCode::kIo);
  CHECK(s.message().find("\"HTTP/1.1 404 Not Found\"") != std::string::npos);
  CHECK(s.path() == sock);
  CHECK_FALSE(fd.valid());
}

TEST_CASE("docker-unix upgrade on a socket closed without an answer fails at once",
          "[buildkit][docker-unix]") {
  testing::TempDir dir;
  const std::string sock = dir / "docker.sock";
  FakeDockerSocket fake(sock, "", false);
  UniqueFd fd;
  const auto start = Clock::now();
  const Status s = UpgradeDockerGrpc(sock, start + std::chrono::seconds(30), &fd);
  CHECK(s.code() == StatusCode::kIo);
  CHECK(s.message().find("closed the connection without answering") != std::string::npos);
  CHECK(Clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("docker-unix upgrade that gets no answer stops at its deadline",
          "[buildkit][docker-unix]") {
  testing::TempDir dir;
  const std::string sock = dir / "docker.sock";
  FakeDockerSocket fake(sock, "", /*hang=*/true);
  UniqueFd fd;
  const auto start = Clock::now();
  const Status s = UpgradeDockerGrpc(sock, start + std::chrono::milliseconds(300), &fd);
  const auto took = Clock::now() - start;
  CHECK(s.code() == StatusCode::kTimeout);
  CHECK(took >= std::chrono::milliseconds(300));
  CHECK(took < std::chrono::seconds(5));
  CHECK_FALSE(fd.valid());  // closing ours lets the fake's thread finish
}

TEST_CASE("docker-unix upgrade names a missing socket", "[buildkit][docker-unix]") {
  testing::TempDir dir;
  UniqueFd fd;
  const Status s =
      UpgradeDockerGrpc(dir / "none.sock", Clock::now() + std::chrono::seconds(1), &fd);
  CHECK(s.code() == StatusCode::kMissing);
  CHECK(s.path() == dir / "none.sock");
}

}  // namespace
}  // namespace cachewarden
