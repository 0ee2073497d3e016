// What ferry-kv ls / verify / clear share across stores: a registered scratch buffer, pool
// names, and the check of one stored chunk (header, name, size, and with verify the payload).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "ferry/agent.h"
#include "ferry/kv/engine.h"

namespace ferry::kv {

// A scratch buffer from the agent, registered, regrown as larger chunks turn up.
class ScanBuffer {
 public:
  ScanBuffer(Agent* agent, BackendId backend) : agent_(agent), backend_(backend) {}
  ~ScanBuffer() { Reset(); }
  Status Ensure(uint64_t len) {
    if (len <= len_) return Status::Ok();
    Reset();
    void* mem = nullptr;
    Status s = agent_->AllocMem(MemKind::kDram, len, 0, &mem);
    if (!s.ok()) return s;
    ptr_ = static_cast<uint8_t*>(mem);
    len_ = len;
    RegOptions reg;
    reg.backends = {backend_};
    return agent_->RegisterMem(MemDescList{MemKind::kDram, {DramDesc(ptr_, len_)}}, &reg_, reg);
  }
  uint8_t* data() const { return ptr_; }

 private:
  void Reset() {
    if (reg_.valid()) (void)agent_->DeregisterMem(reg_);
    reg_ = {};
    if (ptr_ != nullptr) (void)agent_->FreeMem(ptr_);
    ptr_ = nullptr;
    len_ = 0;
  }
  Agent* agent_;
  BackendId backend_;
  uint8_t* ptr_ = nullptr;
  uint64_t len_ = 0;
  RegHandle reg_;
};

// The pool a Ferry file belongs to: "ferry-kv.<16 hex>.w<id>" from any of its names.
std::string PoolOf(std::string_view name);
// A mismatch in a pool an engine holds is read again this often, this far apart, before
// it counts: a write in flight finishes well within that.
constexpr int kBusyRereads = 5;
constexpr auto kBusyRereadGap = std::chrono::milliseconds(100);

// One stored chunk as listed: its name (inside nixl_path, or the object key under its
// root), pool, size, and whether its pool is held by a running engine.
struct StoredEntry {
  std::string name;
  std::string pool;
  uint64_t size = 0;
  bool slot = false;  // a static pool's slot, not a per-key file or object
  bool busy = false;
};

// Reads the first `len` bytes of the entry into `dst`.
using ChunkReader = std::function<Status(uint8_t* dst, uint64_t len)>;

// ls / verify of one entry: counts an empty slot, or adds what was found (valid or not) to
// `report`. Errors only when the scratch buffer cannot grow.
Status CheckStoredChunk(const StoredEntry& e, bool verify, const ChunkReader& read, ScanBuffer* buf,
                        ScanReport* report);

// The object store's ls / verify and clear (obj_store_admin.cc).
Status ScanObjStore(const Config& config, bool verify, ScanReport* report);
Status ClearObjStore(const Config& config, uint64_t* removed);

}  // namespace ferry::kv
