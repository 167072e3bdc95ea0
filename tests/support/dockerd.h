#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace cachewarden::testing {

// A dockerd of the test's own (Debian's docker.io: BuildKit built in), isolated from the host: its
// data root, exec root (where it starts its own containerd), socket and log in a fresh temporary
// directory; run inside `unshare -m -n -p -f --mount-proc` (private mount, network and pid
// namespaces, loopback up) with `--iptables=false`, so its bridge and mounts never touch the
// host's. Needs root. Not thread-safe; one object per test.
class TestDockerd {
 public:
  struct Options {
    std::string daemon_json = "{}";  // dockerd's --config-file content
    // dockerd's --data-root; "" for one in the temporary directory. The caller owns it (say
    // <cache>/dind/<id>, as Earthly's WITH DOCKER does).
    std::string data_root;
    // The namespaces outlive dockerd: their pid 1 is tini (docker.io's docker-init), whose child
    // runs dockerd and then holds on, so that KillDockerd() leaves dockerd's mounts mounted in a
    // mount namespace that still lives, as a WITH DOCKER dockerd killed inside buildkitd's does.
    bool hold_namespaces = false;
  };

  // Why a dockerd cannot be started here ("" if it can): not root, or a program missing.
  static std::string Unavailable();

  // `daemon_json` is dockerd's --config-file content.
  explicit TestDockerd(std::string daemon_json = "{}");
  explicit TestDockerd(Options options);
  // Stops it (Stop()) if still running; the temporary directory goes with the object.
  ~TestDockerd();
  TestDockerd(const TestDockerd&) = delete;
  TestDockerd& operator=(const TestDockerd&) = delete;

  // Starts dockerd and waits until its API socket accepts connections (a condition, up to
  // `timeout`); false and the reason (with the tail of its log) in *error.
  bool Start(std::string* error, std::chrono::milliseconds timeout = std::chrono::seconds(120));
  // SIGTERM to dockerd by its pid (the unshare child's), then waits for it to end; SIGKILL past
  // `timeout`. dockerd is pid 1 of its namespace: the kernel ends its containerd with it.
  void Stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // hold_namespaces only: SIGKILL to dockerd, waits until it is gone, then SIGKILL to every other
  // process left in its pid namespace (containerd, the shims, the containers' processes) but the
  // two that hold the namespaces. Its mounts stay. False and the reason in *error.
  bool KillDockerd(std::string* error);
  // The pid (in the test's pid namespace) of pid 1 of dockerd's namespaces: `nsenter -t` it.
  pid_t namespace_pid() const { return namespace_pid_; }
  pid_t dockerd_pid() const { return dockerd_pid_; }
  // argv run with nsenter in dockerd's mount and pid namespaces (its /proc; its mounts).
  ProcessResult RunInside(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::minutes(5)) const;

  const std::string& socket_path() const { return socket_; }
  const std::string& dir() const { return dir_.path(); }
  // dockerd's own stderr so far.
  std::string Log() const;

  // /usr/bin/docker (the Debian client) against this daemon, with DOCKER_BUILDKIT=1 and a config
  // directory of its own.
  ProcessResult Docker(const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout = std::chrono::seconds(180)) const;
  // `docker import` of a tar of busybox-static (/bin/busybox, sh, dd and friends linked to it) as
  // image `tag`: no registry needed. False and the reason in *error.
  bool ImportBusybox(const std::string& tag, std::string* error) const;
  // GET `path` (e.g. "/system/df") on the API socket; the body, or "" and *error.
  std::string Get(const std::string& path, std::string* error) const;

 private:
  TempDir dir_;
  std::string socket_;
  Options options_;
  std::unique_ptr<ChildProcess> unshare_;
  pid_t dockerd_pid_ = -1;
  pid_t namespace_pid_ = -1;
};

}  // namespace cachewarden::testing
