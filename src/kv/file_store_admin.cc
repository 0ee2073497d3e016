// ferry-kv ls / verify / clear: every Ferry chunk file under nixl_path, whatever model or
// rank wrote it. Listing, reading and removing go through the agent like the engine's;
// pools are locked with the engine's own lock (pool_lock.h).
#include <algorithm>
#include <cstring>
#include <map>
#include <thread>

#include "ferry/kv/engine.h"
#include "pool_lock.h"
#include "slot_format.h"

namespace ferry::kv {
namespace {

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

Status ReadFile(Agent* agent, BackendId backend, const std::string& path, bool direct, uint8_t* dst,
                uint64_t len) {
  constexpr uint64_t kId = 1;
  RegHandle h;
  RegOptions reg;
  reg.backends = {backend};
  Status s = agent->RegisterMem(
      MemDescList{MemKind::kFile,
                  {FileByPath(path, kId, FileOpenFlags{.direct = direct, .owned_only = true})}},
      &h, reg);
  if (!s.ok()) return s;
  std::unique_ptr<Transfer> x;
  XferOptions xo;
  xo.backend = backend;
  s = agent->CreateTransfer(
      XferOp::kRead, XferDescList{MemKind::kDram, {{reinterpret_cast<uint64_t>(dst), len, 0}}},
      XferDescList{MemKind::kFile, {{0, len, kId}}}, "", &x, xo);
  if (s.ok()) s = x->Post();
  if (s.ok()) s = x->Wait(std::chrono::seconds(120));
  x.reset();
  (void)agent->DeregisterMem(h);
  return s;
}

// The pool a Ferry file belongs to: "ferry-kv.<16 hex>.w<id>" from any of its names.
std::string PoolOf(std::string_view name) {
  const size_t w = name.find(".w", std::string_view(kFilePrefix).size());
  if (w == std::string_view::npos) return {};
  size_t end = w + 2;
  while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
  return std::string(name.substr(0, end));
}

struct Admin {
  std::string dir;
  std::unique_ptr<Agent> agent;
  BackendId backend;
  std::vector<ListEntry> files;  // every entry named ferry-kv.*, full paths
};

Status OpenAdmin(const Config& config, const char* what, Admin* a) {
  if (!config.IsFileBackend()) {
    return Unsupported(std::string(what) + " needs a file backend; nixl_backend is " +
                       config.nixl_backend);
  }
  Status s = PoolLock::PrepareDir(config.nixl_path, /*create=*/false, &a->dir);
  if (!s.ok()) return s;
  s = Agent::Create("ferry-kv-admin", AgentConfig{}, &a->agent);
  if (!s.ok()) return s;
  Params params(config.nixl_backend_params.begin(), config.nixl_backend_params.end());
  s = a->agent->CreateBackend(config.nixl_backend, params, &a->backend);
  if (!s.ok()) return s.WithContext("extra_config.nixl_backend_params");
  return a->agent->ListMem(MemKind::kFile, a->dir + "/" + kFilePrefix, &a->files, a->backend);
}

std::string_view BaseName(const std::string& path, const std::string& dir) {
  return std::string_view(path).substr(dir.size() + 1);
}

// A mismatch in a pool an engine holds is read again this often, this far apart, before
// it counts: a write in flight finishes well within that.
constexpr int kBusyRereads = 5;
constexpr auto kBusyRereadGap = std::chrono::milliseconds(100);

bool IsLockFile(std::string_view name) {
  return name.ends_with(".lock");
}

}  // namespace

Status ScanStore(const Config& config, bool verify, ScanReport* report) {
  *report = {};
  Admin a;
  Status s = OpenAdmin(config, verify ? "verify" : "ls", &a);
  if (!s.ok()) return s;
  // A pool no engine holds is locked for the scan: nothing changes under it. A pool an
  // engine holds may be mid-write (a slot's new pieces under its old header): there a
  // mismatch is read again until it holds still, and only a stable one is corruption.
  std::map<std::string, std::unique_ptr<PoolLock>> locks;
  for (const ListEntry& f : a.files) {
    const std::string_view name = BaseName(f.name, a.dir);
    if (!IsLockFile(name)) continue;
    const std::string pool(name.substr(0, name.size() - 5));
    std::unique_ptr<PoolLock> lock;
    Status ls = PoolLock::TryLock(a.dir, pool, /*create=*/false, &lock);
    if (ls.code() == Code::kBusy) report->busy_pools.push_back(pool);
    if (ls.ok()) locks[pool] = std::move(lock);
  }
  ScanBuffer buf(a.agent.get(), a.backend);
  s = buf.Ensure(kHeaderBytes);
  if (!s.ok()) return s;

  for (const ListEntry& f : a.files) {
    const std::string name(BaseName(f.name, a.dir));
    if (IsLockFile(name)) continue;
    const std::string pool = PoolOf(name);
    const bool busy = std::find(report->busy_pools.begin(), report->busy_pools.end(), pool) !=
                      report->busy_pools.end();
    ScannedChunk c;
    c.file = name;
    const bool slot = name.find(".slot") != std::string::npos;
    if (f.info.type != EntryType::kRegular) {
      c.problem = f.info.type == EntryType::kDirectory ? "a directory, not a chunk file"
                  : f.info.type == EntryType::kSymlink ? "a symbolic link, not a chunk file"
                                                       : "not a regular file";
      report->chunks.push_back(c);
      continue;
    }
    if (f.info.size < kHeaderBytes) {
      if (slot) {
        ++report->empty_slots;  // a slot opened but never reserved or written
      } else {
        c.problem = "shorter than a chunk header (a store that never finished)";
        report->chunks.push_back(c);
      }
      continue;
    }
    s = ReadFile(a.agent.get(), a.backend, f.name, config.use_direct_io, buf.data(), kHeaderBytes);
    if (busy && s.code() == Code::kNotFound) continue;  // evicted since the listing
    if (!s.ok()) {
      c.problem = "unreadable: " + s.message();
      report->chunks.push_back(c);
      continue;
    }
    ChunkHeader h;
    s = DecodeHeader(buf.data(), &h);
    if (s.code() == Code::kNotFound && slot) {
      ++report->empty_slots;
      continue;
    }
    if (!s.ok()) {
      c.problem = s.code() == Code::kNotFound ? "no chunk header (zeroed)" : s.message();
      report->chunks.push_back(c);
      continue;
    }
    c.model_name = h.model_name;
    c.payload_bytes = h.payload_bytes;
    c.tokens = h.tokens;
    ChunkKey named;
    uint64_t generation = 0;
    if (!slot && (!ParseKeyFileName(name, pool, &named, &generation) || !(named == h.key))) {
      c.problem = "header key does not match the file name";
    } else if (f.info.size < StoredBytes(h.payload_bytes)) {
      c.problem = "file shorter than the chunk its header describes (torn write)";
    } else {
      c.header_ok = true;
    }
    if (verify && c.header_ok) {
      s = buf.Ensure(StoredBytes(h.payload_bytes));
      if (!s.ok()) return s;
      for (int attempt = 0;; ++attempt) {
        s = ReadFile(a.agent.get(), a.backend, f.name, config.use_direct_io, buf.data(),
                     StoredBytes(h.payload_bytes));
        ChunkHeader now;
        const bool same_header = s.ok() && DecodeHeader(buf.data(), &now).ok() &&
                                 now.generation == h.generation &&
                                 now.payload_checksum == h.payload_checksum && now.key == h.key;
        if (s.ok() && same_header && PayloadMatches(h, buf.data() + kHeaderBytes)) {
          c.payload_ok = true;
          break;
        }
        if (busy && s.code() == Code::kNotFound) {
          c.payload_ok = true;  // evicted while we read: gone, not corrupt
          break;
        }
        if (busy && s.ok() && !same_header) {
          c.payload_ok = true;  // rewritten while we read: a newer chunk, not corruption
          c.problem.clear();
          break;
        }
        if (!busy || attempt == kBusyRereads || !s.ok()) {
          c.problem = !s.ok() ? "unreadable: " + s.message() : "payload checksum mismatch";
          break;
        }
        std::this_thread::sleep_for(kBusyRereadGap);
      }
    }
    report->chunks.push_back(std::move(c));
  }
  return Status::Ok();
}

Status ClearStore(const Config& config, uint64_t* removed) {
  *removed = 0;
  Admin a;
  Status s = OpenAdmin(config, "clear", &a);
  if (!s.ok()) return s;
  // Every pool's lock is taken and held until its files are gone, the lock file itself
  // last: an engine starting meanwhile finds the lock taken, and one starting after makes
  // a new lock file and new slots, which this call no longer touches.
  std::vector<std::unique_ptr<PoolLock>> held;
  for (const ListEntry& f : a.files) {
    const std::string_view name = BaseName(f.name, a.dir);
    if (!IsLockFile(name)) continue;
    std::unique_ptr<PoolLock> lock;
    s = PoolLock::TryLock(a.dir, std::string(name.substr(0, name.size() - 5)), false, &lock);
    if (s.code() == Code::kBusy)
      return Status(Code::kBusy, "'" + f.name + "' is held by a running engine; nothing removed");
    if (s.code() == Code::kNotFound) continue;  // gone since the listing: nothing to hold
    if (!s.ok()) return s.WithContext("nothing removed");
    held.push_back(std::move(lock));
  }
  MemDescList chunks{MemKind::kFile, {}}, lock_files{MemKind::kFile, {}};
  for (const ListEntry& f : a.files) {
    if (f.info.type == EntryType::kDirectory) continue;
    (IsLockFile(BaseName(f.name, a.dir)) ? lock_files : chunks).descs.push_back(FileName(f.name));
  }
  for (MemDescList* l : {&chunks, &lock_files}) {
    if (l->descs.empty()) continue;
    s = a.agent->RemoveMem(*l, a.backend);
    if (!s.ok()) return s;
    *removed += l->descs.size();
  }
  return Status::Ok();
}

}  // namespace ferry::kv
