// ferry-kv ls / verify / clear for nixl_backend OBJ: every Ferry chunk object under the
// root nixl_path names in the bucket, whatever model or rank wrote it. A pool whose lease
// is live is busy (verify rereads a mismatch there); clear takes each pool's lease first,
// so no engine can start on a pool while its objects go.
#include <map>

#include "obj_chunk_store.h"
#include "obj_io.h"
#include "obj_lease.h"
#include "slot_format.h"
#include "store_admin.h"
#include "store_backend.h"

namespace ferry::kv {
namespace {

struct ObjAdmin {
  std::unique_ptr<Agent> agent;
  Agent* raw = nullptr;
  BackendId backend;
  std::string root;
  std::vector<ListEntry> objects;  // every key under <root>ferry-kv.
};

Status OpenObjAdmin(const Config& config, ObjAdmin* a) {
  ChunkStore::Options o;
  o.agent_name = "ferry-kv-admin";
  Status s = OpenStoreBackend(config, o, &a->agent, &a->raw, &a->backend);
  if (!s.ok()) return s;
  a->root = ObjectKeyRoot(config.nixl_path);
  s = a->raw->ListMem(MemKind::kObj, a->root + kFilePrefix, &a->objects, a->backend);
  return s.ok() ? s : s.WithContext("listing '" + a->root + kFilePrefix + "'");
}

bool IsLease(std::string_view name) {
  return name.ends_with(".lease");
}

}  // namespace

Status ScanObjStore(const Config& config, bool verify, ScanReport* report) {
  ObjAdmin a;
  Status s = OpenObjAdmin(config, &a);
  if (!s.ok()) return s;
  for (const ListEntry& o : a.objects) {
    const std::string_view name = std::string_view(o.name).substr(a.root.size());
    if (!IsLease(name)) continue;
    LeaseOwner owner;
    bool live = false;
    if (ObjLease::Inspect(a.raw, a.backend, o.name, &owner, &live).ok() && live)
      report->busy_pools.emplace_back(name.substr(0, name.size() - 6));
  }
  ScanBuffer buf(a.raw, a.backend);
  s = buf.Ensure(kHeaderBytes);
  if (!s.ok()) return s;
  for (const ListEntry& o : a.objects) {
    const std::string name = o.name.substr(a.root.size());
    if (IsLease(name)) continue;
    const std::string pool = PoolOf(name);
    const bool busy = std::find(report->busy_pools.begin(), report->busy_pools.end(), pool) !=
                      report->busy_pools.end();
    const StoredEntry e{name, pool, o.info.size, name.find(".slot") != std::string::npos, busy};
    s = CheckStoredChunk(
        e, verify,
        [&](uint8_t* dst, uint64_t len) {
          return MoveObject(a.raw, a.backend, XferOp::kRead, o.name, dst, len, {},
                            /*buf_registered=*/true);
        },
        &buf, report);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status ClearObjStore(const Config& config, uint64_t* removed) {
  ObjAdmin a;
  Status s = OpenObjAdmin(config, &a);
  if (!s.ok()) return s;
  // Every pool's lease, held until its chunks are gone (released, and so deleted, last).
  std::map<std::string, std::unique_ptr<ObjLease>> held;
  MemDescList chunks{MemKind::kObj, {}};
  uint64_t leases = 0;
  for (const ListEntry& o : a.objects) {
    const std::string name = o.name.substr(a.root.size());
    const std::string pool = IsLease(name) ? name.substr(0, name.size() - 6) : PoolOf(name);
    if (IsLease(name)) {
      ++leases;
    } else {
      chunks.descs.push_back(ObjectKey(o.name));
    }
    if (pool.empty() || held.count(pool) != 0) continue;
    std::unique_ptr<ObjLease> lease;
    s = ObjLease::Acquire(a.raw, a.backend, a.root + pool + ".lease", ObjChunkStore::kLeaseTtl,
                          &lease);
    if (!s.ok()) return s.WithContext("pool " + pool + ": nothing removed");
    held[pool] = std::move(lease);
  }
  if (!chunks.descs.empty()) {
    s = a.raw->RemoveMem(chunks, a.backend);
    if (!s.ok()) return s;
  }
  *removed = chunks.descs.size() + leases;
  held.clear();
  return Status::Ok();
}

}  // namespace ferry::kv
