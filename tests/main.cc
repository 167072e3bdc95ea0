#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "tests/support/mounts.h"

int main(int argc, char** argv) {
  // As root, every test process gets a private mount namespace: the mounts a test makes are
  // invisible to the host and vanish when the process exits.
  cachewarden::testing::EnterPrivateMountNamespace();
  return Catch::Session().run(argc, argv);
}
