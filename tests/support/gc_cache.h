#pragma once

// The cache most GC run tests start from: a root with dind/, and a precious tree outside it that
// no run may touch; entries made on demand, and a policy that always wants them.

#include <string>
#include <utility>

#include "actions/gc_run.h"
#include "policies/gc/gc_config.h"
#include "tests/support/gc_tree.h"
#include "tests/support/mounts.h"

namespace cachewarden::testing {

struct Cache {
  TempDir tmp;
  std::string root = tmp / "root";
  std::string outside = tmp / "outside";
  GcRunOptions options;
  Cache() {
    MakeDirs(root + "/dind");
    MakeDirs(outside + "/d");
    Touch(outside + "/d/precious", "precious");
    options.root = root;
  }
  std::string Entry(const std::string& name, int age_seconds) {
    std::string e = root + "/dind/" + name;
    MakeDirs(e + "/sub");
    Touch(e + "/sub/file", std::string(10000, 'x'));
    AgeTree(e, age_seconds);
    return e;
  }
};

inline GcPolicy Always(std::string path = "dind") {
  GcPolicy p;
  p.name = "t";
  p.path = std::move(path);
  p.min_age = Duration(0);
  p.triggers.always = true;
  return p;
}

}  // namespace cachewarden::testing
