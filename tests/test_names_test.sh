#!/bin/sh
# ctest runs each Catch test by its name, through catch_discover_tests, which splits a name at ';'
# (a CMake list): such a test matches nothing, runs nothing and is counted as passed. Fails on any
# test name with a ';'. Usage: test_names_test.sh TEST_BINARY
set -u
# Catch exits with the number of tests listed, not 0.
names=$("${1:?test binary}" --list-test-names-only)
[ -n "$names" ] || exit 2
bad=$(printf '%s\n' "$names" | grep ';')
if [ -n "$bad" ]; then
  printf 'test names with a ";" (ctest would run none of them):\n%s\n' "$bad"
  exit 1
fi
echo "test names: $(printf '%s\n' "$names" | grep -c .) checked"
