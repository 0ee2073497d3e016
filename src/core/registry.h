// The memory registry: which regions of which kind are registered with which backends.
//
// Each registered descriptor becomes a RegEntry held by shared_ptr: the registry's index,
// and every transfer or prepped list that resolved a descriptor into it, share it. The
// backends are told to forget the region when the last holder lets go, so deregistering
// memory that an existing transfer still uses is safe.
//
// Thread safety: all methods are safe from many threads (a shared_mutex guards the index).
// Backends are called outside the lock: registering with them (opening files, pinning
// buffers) never stalls Resolve.
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "backend_entry.h"
#include "ferry/agent.h"

namespace ferry {

struct RegEntry {
  MemKind kind;
  MemDesc desc;
  uint64_t end;  // one past the last byte; UINT64_MAX for an open-ended FILE or OBJ registration
  std::vector<std::pair<std::shared_ptr<BackendEntry>, void*>> mds;
  // Backends that answered kUnsupported for this region, with their reasons: a transfer
  // no backend can take then says why.
  std::vector<std::pair<const BackendEntry*, std::string>> refusals;

  ~RegEntry();
  // This backend's metadata for the region, or nullptr when not registered with it.
  void* MdFor(const BackendEntry* be) const;
};

// A transfer descriptor resolved to the registration it lies in.
struct ResolvedDesc {
  XferDesc desc;
  const RegEntry* entry;
};

class Registry {
 public:
  // Registers every descriptor of `list` with `backends` (all-or-nothing).
  Status Register(const MemDescList& list,
                  const std::vector<std::shared_ptr<BackendEntry>>& backends, RegHandle* out);
  Status Deregister(RegHandle handle);

  // Resolves each descriptor; the entries are appended to `holds` (deduplicated) so the
  // caller keeps them alive as long as it uses `out`.
  Status Resolve(const XferDescList& list, std::vector<ResolvedDesc>* out,
                 std::vector<std::shared_ptr<const RegEntry>>* holds) const;

 private:
  using DevIndex = std::map<uint64_t, std::shared_ptr<RegEntry>>;  // start -> entry
  // Under mu_ (shared is enough): OK when [d.addr, end) overlaps nothing registered.
  Status CheckFree(MemKind kind, const MemDesc& d, uint64_t end, size_t i) const;
  mutable std::shared_mutex mu_;
  std::map<uint64_t, DevIndex> index_[kNumMemKinds];  // kind -> dev_id -> regions
  std::map<uint64_t, std::vector<std::shared_ptr<RegEntry>>> handles_;
  uint64_t next_handle_ = 1;
};

}  // namespace ferry
