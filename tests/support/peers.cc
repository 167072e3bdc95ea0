#include "tests/support/peers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "tests/support/http.h"

namespace cachewarden::testing {

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

AgentUnderTest::AgentUnderTest(const std::string& dir, const std::string& config_json) {
  std::string home = dir + "/agent";
  std::filesystem::create_directories(home);
  WriteFile(home + "/config.json", config_json);
  std::string port_file = home + "/port";
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{BinaryPath(), "run", "--config", home + "/config.json",
                               "--port-file", port_file, "--log-format", "text"},
      home, std::vector<std::string>{"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost"});
  WaitUntil([&] { return std::filesystem::exists(port_file) || !process_->Running(); });
  std::string text = ReadFile(port_file);
  port_ = text.empty() ? 0 : std::stoi(text);
}

std::string AgentUnderTest::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

double AgentUnderTest::Metric(const std::string& series) const {
  std::istringstream in(HttpGet(Url("/metrics")).body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

bool AllocateFile(const std::string& path, long long bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return false;
  bool ok = posix_fallocate(fd, 0, bytes) == 0;
  close(fd);
  return ok;
}

}  // namespace cachewarden::testing
