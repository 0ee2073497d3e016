#include "allocations.h"

#include <sys/mman.h>

#include <cerrno>
#include <string>

namespace ferry {

Allocations::~Allocations() {
  for (const auto& [addr, a] : live_) Release(addr, a);
}

void Allocations::Release(void* addr, const Allocation& a) {
  if (a.backend)
    a.backend->backend->allocator()->FreeMem(a.kind, addr, a.len, a.dev_id);
  else
    ::munmap(addr, a.len);
}

Status Allocations::Alloc(MemKind kind, uint64_t len, uint64_t dev_id,
                          const std::vector<std::shared_ptr<BackendEntry>>& candidates, bool forced,
                          void** addr) {
  if (len == 0) return InvalidArgument("AllocMem: length 0");
  const std::string what = std::to_string(len) + " bytes of " + std::string(MemKindName(kind)) +
                           (kind == MemKind::kDram ? "" : " on device " + std::to_string(dev_id));
  Status last = Unsupported("no backend on this agent allocates " + std::string(MemKindName(kind)) +
                            " memory");
  for (const auto& be : candidates) {
    MemoryAllocator* alloc = be->backend->allocator();
    if (alloc == nullptr) {
      if (forced) return Unsupported("backend " + be->plugin + " does not allocate memory");
      continue;
    }
    void* p = nullptr;
    Status s = alloc->AllocMem(kind, len, dev_id, &p);
    if (s.ok() && p == nullptr)
      s = Internal("backend " + be->plugin + " returned a null allocation");
    if (s.ok()) {
      std::lock_guard lk(mu_);
      live_[p] = {be, kind, len, dev_id};
      *addr = p;
      return Status::Ok();
    }
    if (s.code() != Code::kUnsupported || forced)
      return s.WithContext("allocating " + what + " from " + be->plugin);
    last = s;
  }
  if (forced || kind != MemKind::kDram) return last;
  // Page-aligned, zeroed, and never shared with another allocation's pages.
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    Status s = ErrnoStatus(err, "allocating " + what);
    return err == ENOMEM ? Status(Code::kNoSpace, s.message()) : s;
  }
  std::lock_guard lk(mu_);
  live_[p] = {nullptr, kind, len, dev_id};
  *addr = p;
  return Status::Ok();
}

Status Allocations::Free(void* addr) {
  Allocation a;
  {
    std::lock_guard lk(mu_);
    auto it = live_.find(addr);
    if (it == live_.end())
      return NotFound("FreeMem: address was not returned by AllocMem (or was freed already)");
    a = std::move(it->second);
    live_.erase(it);
  }
  Release(addr, a);
  return Status::Ok();
}

}  // namespace ferry
