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
#include "store_admin.h"

namespace ferry::kv {
namespace {

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

bool IsLockFile(std::string_view name) {
  return name.ends_with(".lock");
}

}  // namespace

Status ScanStore(const Config& config, bool verify, ScanReport* report) {
  *report = {};
  if (config.nixl_backend == "OBJ") return ScanObjStore(config, verify, report);
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
    if (f.info.type != EntryType::kRegular) {
      ScannedChunk c;
      c.file = name;
      c.problem = f.info.type == EntryType::kDirectory ? "a directory, not a chunk file"
                  : f.info.type == EntryType::kSymlink ? "a symbolic link, not a chunk file"
                                                       : "not a regular file";
      report->chunks.push_back(c);
      continue;
    }
    const StoredEntry e{name, pool, f.info.size, name.find(".slot") != std::string::npos, busy};
    s = CheckStoredChunk(
        e, verify,
        [&](uint8_t* dst, uint64_t len) {
          return ReadFile(a.agent.get(), a.backend, f.name, config.use_direct_io, dst, len);
        },
        &buf, report);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status ClearStore(const Config& config, uint64_t* removed) {
  *removed = 0;
  if (config.nixl_backend == "OBJ") return ClearObjStore(config, removed);
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
