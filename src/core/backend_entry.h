// A created backend as the core holds it: the plugin's object plus what the core needs to
// choose it. Shared by the agent, registrations and transfers, so it lives until the last
// of them is gone.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ferry/backend.h"

namespace ferry {

struct BackendEntry {
  BackendId id;
  std::string plugin;
  std::vector<MemKind> kinds;
  std::unique_ptr<Backend> backend;

  bool Supports(MemKind k) const {
    for (MemKind m : kinds)
      if (m == k) return true;
    return false;
  }
};

}  // namespace ferry
