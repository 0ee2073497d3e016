// A created backend as the core holds it: the plugin's object plus what the core needs to
// choose it. Shared by the agent, registrations, transfers and allocations, so it lives
// until the last of them is gone.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "ferry/backend.h"

namespace ferry {

struct BackendEntry {
  BackendId id;
  std::string plugin;
  std::vector<Capability> capabilities;
  std::unique_ptr<Backend> backend;
  // Agent::DestroyBackend was called: chosen for nothing new.
  std::atomic<bool> retired{false};

  bool Names(MemKind k) const { return AnyNames(capabilities, k); }
  bool Covers(MemKind local, MemKind target, XferOp op) const {
    return AnyCovers(capabilities, local, target, op);
  }
};

}  // namespace ferry
