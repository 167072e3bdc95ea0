// Shows why the sanitized build is built with -fno-sanitize=vptr (docs/testing.md): in a process
// with no free fd, UBSan's vptr check reports a sound object as "invalid vptr", because the memory
// probe it runs on a type-cache miss needs a pipe(). Not built by CMake; run by hand:
//   g++ -fsanitize=address,undefined tests/sanitizers/vptr_at_fd_limit.cc -o /tmp/vptr && /tmp/vptr
#include <sys/resource.h>
#include <unistd.h>

#include <memory>

struct Base {
  virtual ~Base() = default;
  int x = 0;
};
struct Derived : Base {};

int main() {
  struct rlimit rl {
    16, 16
  };
  (void)setrlimit(RLIMIT_NOFILE, &rl);
  while (dup(0) >= 0) {
  }
  auto b = std::make_unique<Derived>();
  b->x = 1;  // "member access within address ... object has invalid vptr"
  return b->x == 1 ? 0 : 1;
}
