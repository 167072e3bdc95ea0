#pragma once

#include <catch2/catch.hpp>

// Catch2 v2 has no SKIP. A test that cannot run here prints CACHEWARDEN_TEST_SKIP_MARKER (defined
// once, in tests/CMakeLists.txt) with the reason, and returns; ctest's SKIP_REGULAR_EXPRESSION on
// every discovered test matches the marker and reports the test as skipped, not passed. Call it
// before the first assertion: the skip regular expression wins over a failure, so a skip after a
// failed CHECK would hide that failure.
#define CW_SKIP(why)                               \
  do {                                             \
    WARN(CACHEWARDEN_TEST_SKIP_MARKER " " << why); \
    return;                                        \
  } while (0)
