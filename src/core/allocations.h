// Memory handed out by Agent::AllocMem: which backend (or the system) each address came
// from, so FreeMem returns it to the same place. An allocation holds its backend alive.
//
// Thread safety: every method is safe from many threads; no lock is held while a backend
// allocates or frees.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "backend_entry.h"

namespace ferry {

class Allocations {
 public:
  ~Allocations();  // frees what is left

  // Tries `candidates` in order (a kUnsupported answer passes to the next); DRAM falls back
  // to page-aligned system memory when none allocates it.
  Status Alloc(MemKind kind, uint64_t len, uint64_t dev_id,
               const std::vector<std::shared_ptr<BackendEntry>>& candidates, bool forced,
               void** addr);
  Status Free(void* addr);

 private:
  struct Allocation {
    std::shared_ptr<BackendEntry> backend;  // null: the system's
    MemKind kind;
    uint64_t len;
    uint64_t dev_id;
  };
  static void Release(void* addr, const Allocation& a);

  std::mutex mu_;
  std::map<void*, Allocation> live_;
};

}  // namespace ferry
