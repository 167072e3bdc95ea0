// bench/slowloris: /healthz latency of a running endpoint with 0 and then N slow connections open
// (half idle, half sending one header byte a second, each reconnecting when the server drops it),
// while load threads GET /metrics back to back; and the server process's fds and RSS before,
// during and after.
//
// Usage: slowloris PORT PID [SLOW_CONNECTIONS=1000] [SECONDS=20] [LOAD_THREADS=2]
// PID is the server's (for /proc/PID/fd and VmRSS). Needs RLIMIT_NOFILE above SLOW_CONNECTIONS
// (raised to the hard limit here).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
int g_port = 0;

// A non-blocking connection to the server. `wait_ms` > 0: waits that long for it to be
// established (-1 if it is not); 0: returns at once, possibly still connecting (a server whose
// accept queue is full would otherwise hold the caller in connect for minutes).
int Connect(int wait_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(g_port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (wait_ms > 0) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, wait_ms) <= 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
        err != 0) {
      ::close(fd);
      return -1;
    }
  }
  return fd;
}

// One GET on a fresh connection, read to the server's close; the status code or 0. Gives up after
// `timeout_ms`.
int Get(const char* path, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  int fd = Connect(timeout_ms);
  if (fd < 0) return 0;
  char req[256];
  int n = std::snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
  if (::send(fd, req, n, MSG_NOSIGNAL) != n) {
    ::close(fd);
    return 0;
  }
  std::string got;
  char buf[65536];
  for (;;) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) break;
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) break;
    if (got.size() < 64) got.append(buf, static_cast<std::size_t>(r));
  }
  ::close(fd);
  if (got.rfind("HTTP/1.", 0) != 0 || got.size() < 12) return 0;
  return std::atoi(got.c_str() + 9);
}

long CountFds(int pid) {
  long n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    n++;
  }
  return n;
}

long RssKiB(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

struct Phase {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  int tries = 0, failed = 0;
  double metrics_rps = 0;
  long fds = 0, rss_kib = 0;
};

// /metrics load and /healthz probes for `seconds`, `slow` connections held meanwhile.
Phase Run(int slow, int seconds, int load_threads, int pid) {
  std::vector<int> conns;
  for (int i = 0; i < slow; i++) conns.push_back(Connect(0));
  std::atomic<bool> stop{false};
  std::thread holder([&] {
    // One byte a second to the odd ones (of a header that never ends); the dropped ones reconnect.
    const std::string head =
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(1 << 16, 'a');
    std::size_t at = 0;
    auto next = Clock::now();
    while (!stop) {
      for (std::size_t i = 0; i < conns.size(); i++) {
        char byte;
        if (conns[i] >= 0) {
          ssize_t r = ::recv(conns[i], &byte, 1, MSG_DONTWAIT);
          if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            ::close(conns[i]);
            conns[i] = -1;
          }
        }
        if (conns[i] < 0) conns[i] = Connect(0);
        if (conns[i] >= 0 && i % 2 == 1 && Clock::now() >= next) {
          ::send(conns[i], &head[at % head.size()], 1, MSG_NOSIGNAL);
        }
      }
      if (Clock::now() >= next) at++, next += std::chrono::seconds(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::atomic<long> metrics_ok{0};
  std::vector<std::thread> load;
  for (int t = 0; t < load_threads; t++) {
    load.emplace_back([&] {
      while (!stop) {
        if (Get("/metrics", 5000) == 200) metrics_ok++;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the slow ones connect meanwhile
  Phase out;
  std::vector<double> ms;
  auto start = Clock::now();
  long metrics_at_start = metrics_ok.load();
  while (Clock::now() - start < std::chrono::seconds(seconds)) {
    auto t0 = Clock::now();
    int code = Get("/healthz", 10'000);
    double took = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    out.tries++;
    if (code != 200) out.failed++;
    ms.push_back(code == 200 ? took : 10'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  out.metrics_rps = static_cast<double>(metrics_ok.load() - metrics_at_start) / elapsed;
  out.fds = CountFds(pid);
  out.rss_kib = RssKiB(pid);
  stop = true;
  holder.join();
  for (auto& t : load) t.join();
  for (int fd : conns) {
    if (fd >= 0) ::close(fd);
  }
  std::sort(ms.begin(), ms.end());
  if (!ms.empty()) {
    out.p50_ms = ms[ms.size() / 2];
    out.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
    out.max_ms = ms.back();
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: slowloris PORT PID [SLOW=1000] [SECONDS=20] [LOAD_THREADS=2]\n");
    return 2;
  }
  g_port = std::atoi(argv[1]);
  int pid = std::atoi(argv[2]);
  int slow = argc > 3 ? std::atoi(argv[3]) : 1000;
  int seconds = argc > 4 ? std::atoi(argv[4]) : 20;
  int threads = argc > 5 ? std::atoi(argv[5]) : 2;
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);

  long fds0 = CountFds(pid), rss0 = RssKiB(pid);
  std::printf("server pid %d: %ld fds, %ld KiB RSS before\n", pid, fds0, rss0);
  for (int n : {0, slow}) {
    Phase p = Run(n, seconds, threads, pid);
    std::printf(
        "slow=%d: /healthz p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d tries, %d failed or over "
        "10 s); /metrics %.0f req/s on %d threads; server %ld fds, %ld KiB RSS meanwhile\n",
        n, p.p50_ms, p.p99_ms, p.max_ms, p.tries, p.failed, p.metrics_rps, threads, p.fds,
        p.rss_kib);
    std::fflush(stdout);
  }
  // The server closes its side of what we closed: wait for it, up to 15 s.
  long fds1 = CountFds(pid);
  for (int i = 0; i < 150 && fds1 > fds0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fds1 = CountFds(pid);
  }
  std::printf("server pid %d: %ld fds, %ld KiB RSS after (before: %ld fds, %ld KiB)\n", pid, fds1,
              RssKiB(pid), fds0, rss0);
  return 0;
}
