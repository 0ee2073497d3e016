// The object store's buffer, lease, reads, writes, invalidation and recovery scan, all
// through the agent and the OBJ backend.
#include "obj_chunk_store.h"

#include <xxhash.h>

#include <algorithm>
#include <charconv>

#include "slot_format.h"
#include "store_backend.h"

namespace ferry::kv {
namespace {

constexpr std::string_view kSlotMarker = ".slot";

}  // namespace

std::string ObjectKeyRoot(const std::string& nixl_path) {
  std::string root = nixl_path;
  while (!root.empty() && root.front() == '/') root.erase(0, 1);
  while (root.size() >= 2 && root.ends_with("//")) root.pop_back();
  if (!root.empty() && root.back() != '/') root += '/';
  return root;
}

Status ObjChunkStore::Open(const Config& config, const Options& options,
                           std::unique_ptr<ChunkStore>* out) {
  std::unique_ptr<ObjChunkStore> st(new ObjChunkStore());
  Status s = st->Init(config, options);
  if (!s.ok()) return s;
  *out = std::move(st);
  return Status::Ok();
}

Status ObjChunkStore::Init(const Config& config, const Options& o) {
  if (config.nixl_buffer_device != "cpu")
    return InvalidArgument("nixl_backend OBJ needs nixl_buffer_device: cpu");
  Status s = OpenStoreBackend(config, o, &owned_agent_, &agent_, &backend_);
  if (!s.ok()) return s;
  xfer_options_.backend = backend_;
  slots_ = static_cast<uint32_t>(config.nixl_pool_size);  // bounded by ValidateConfig
  page_bytes_ = o.page_bytes;
  root_ = ObjectKeyRoot(config.nixl_path);
  prefix_ = PoolPrefix(o.seed, o.worker_id);
  base_id_ = (XXH3_64bits(prefix_.data(), prefix_.size()) | 1) << 32;
  // One engine per pool: a second one on the same objects would corrupt the index.
  s = ObjLease::Acquire(agent_, backend_, root_ + prefix_ + ".lease", kLeaseTtl, &lease_);
  if (!s.ok()) return s;

  const uint64_t pages = config.nixl_buffer_size / page_bytes_;  // <= kMaxPages (validated)
  if (pages == 0) return InvalidArgument("nixl_buffer_size must hold at least one chunk");
  pages_ = static_cast<uint32_t>(pages);
  buffer_len_ = pages * page_bytes_;
  void* mem = nullptr;
  s = agent_->AllocMem(MemKind::kDram, buffer_len_, 0, &mem);
  if (!s.ok())
    return s.WithContext("allocating nixl_buffer_size " + std::to_string(buffer_len_) + " bytes");
  buffer_ = static_cast<uint8_t*>(mem);
  RegOptions reg;
  reg.backends = {backend_};
  s = agent_->RegisterMem({MemKind::kDram, {DramDesc(buffer_, buffer_len_)}}, &buffer_reg_, reg);
  if (!s.ok()) return s.WithContext("registering nixl buffer");
  if (dynamic()) return Status::Ok();
  MemDescList objs{MemKind::kObj, {}};
  for (uint32_t i = 0; i < slots_; ++i)
    objs.descs.push_back(MemDesc{0, 0, base_id_ + i, KeyOf({i, {}, 0})});
  s = agent_->RegisterMem(objs, &slots_reg_, reg);
  return s.ok() ? s : s.WithContext("registering the pool's slot objects");
}

ObjChunkStore::~ObjChunkStore() {
  if (agent_ != nullptr) {
    if (slots_reg_.valid()) (void)agent_->DeregisterMem(slots_reg_);
    if (buffer_reg_.valid()) (void)agent_->DeregisterMem(buffer_reg_);
    if (buffer_ != nullptr) (void)agent_->FreeMem(buffer_);
  }
  lease_.reset();  // released while the backend still works
  if (agent_ != nullptr && owned_agent_ == nullptr && backend_.valid())
    (void)agent_->DestroyBackend(backend_);
  owned_agent_.reset();
}

std::string ObjChunkStore::KeyOf(const ChunkLocation& loc) const {
  // Only hex digits and numbers follow the root: no key can leave the pool's names.
  return root_ + (dynamic() ? KeyFileName(prefix_, loc.key, loc.generation)
                            : SlotFileName(prefix_, loc.slot));
}

Status ObjChunkStore::Register(const ChunkLocation& loc, PendingIo* io) {
  io->agent_ = agent_;
  io->opened_ = true;
  if (!dynamic()) {
    io->file_id_ = base_id_ + loc.slot;
    return Status::Ok();
  }
  io->file_id_ = NextId();
  RegOptions reg;
  reg.backends = {backend_};
  return agent_->RegisterMem({MemKind::kObj, {MemDesc{0, 0, io->file_id_, KeyOf(loc)}}},
                             &io->file_reg_, reg);
}

Status ObjChunkStore::Move(XferOp op, uint32_t pg, uint64_t offset, uint64_t bytes, PendingIo* io) {
  std::unique_ptr<Transfer> xfer;
  Status s = agent_->CreateTransfer(
      op, {MemKind::kDram, {{reinterpret_cast<uint64_t>(page(pg) + offset), bytes, 0}}},
      {MemKind::kObj, {{offset, bytes, io->file_id_}}}, "", &xfer, xfer_options_);
  if (!s.ok()) return s;
  s = xfer->Post();
  if (!s.ok()) return s;
  io->xfers_.push_back(std::move(xfer));
  return Status::Ok();
}

Status ObjChunkStore::StartRead(uint32_t pg, const ChunkLocation& loc, uint64_t bytes,
                                std::unique_ptr<PendingIo>* out) {
  auto io = std::make_unique<PendingIo>();
  Status s = Register(loc, io.get());
  if (s.ok()) s = Move(XferOp::kRead, pg, 0, bytes, io.get());
  if (!s.ok()) return s;
  *out = std::move(io);
  return Status::Ok();
}

Status ObjChunkStore::Begin(const ChunkLocation& loc, uint64_t, PendingIo* io) {
  if (lease_->lost()) {
    return Status(Code::kBusy, "this engine lost its lease '" + lease_->key() +
                                   "' (another engine took the pool over): not writing");
  }
  return Register(loc, io);
}

Status ObjChunkStore::Post(uint32_t pg, std::span<const IoRange> ranges, PendingIo* io) {
  // One PUT of the whole image: the engine sends it in one piece (piecewise_writes false).
  if (ranges.size() != 1 || ranges[0].offset != 0)
    return Internal("the object store writes whole chunk images only");
  return Move(XferOp::kWrite, pg, 0, ranges[0].len, io);
}

Status ObjChunkStore::Invalidate(const ChunkLocation& loc) {
  return agent_->RemoveMem({MemKind::kObj, {ObjectKey(KeyOf(loc))}}, backend_);
}

Status ObjChunkStore::ScanHeaders(HeaderVisitor visit, void* ctx, uint64_t* skipped) {
  *skipped = 0;
  std::vector<ListEntry> objects;
  Status st = agent_->ListMem(MemKind::kObj, root_ + prefix_ + ".", &objects, backend_);
  if (!st.ok()) return st.WithContext("recovering the pool from the bucket");
  std::vector<Found> found;
  MemDescList leftovers{MemKind::kObj, {}};
  const std::string slot_prefix = prefix_ + std::string(kSlotMarker);
  for (const ListEntry& e : objects) {
    const std::string_view name = std::string_view(e.name).substr(root_.size());
    ChunkLocation loc;
    bool ours = false;
    if (dynamic()) {
      ours = ParseKeyFileName(name, prefix_, &loc.key, &loc.generation);
    } else if (name.starts_with(slot_prefix)) {
      const std::string_view digits = name.substr(slot_prefix.size());
      uint32_t slot = 0;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), slot);
      ours = ec == std::errc() && end == digits.data() + digits.size() && slot < slots_ &&
             SlotFileName(prefix_, slot) == name;
      loc.slot = slot;
    }
    if (!ours) continue;  // the lease, or another mode's objects
    if (e.info.size < kHeaderBytes) {
      if (dynamic()) leftovers.descs.push_back(ObjectKey(e.name));
      continue;
    }
    found.push_back({loc, e.info.size});
  }
  if (!leftovers.descs.empty()) (void)agent_->RemoveMem(leftovers, backend_);
  const size_t per_batch = std::min<size_t>(256, buffer_len_ / kHeaderBytes);
  for (size_t begin = 0; begin < found.size(); begin += per_batch) {
    const size_t n = std::min(per_batch, found.size() - begin);
    st = ReadHeaders({found.data() + begin, n}, visit, ctx, skipped);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status ObjChunkStore::ReadHeaders(std::span<const Found> found, HeaderVisitor visit, void* ctx,
                                  uint64_t* skipped) {
  XferDescList local{MemKind::kDram, {}};
  XferDescList remote{MemKind::kObj, {}};
  MemDescList objs{MemKind::kObj, {}};
  for (size_t i = 0; i < found.size(); ++i) {
    local.descs.push_back(
        {reinterpret_cast<uint64_t>(buffer_ + i * kHeaderBytes), kHeaderBytes, 0});
    const uint64_t id = dynamic() ? NextId() : base_id_ + found[i].loc.slot;
    remote.descs.push_back({0, kHeaderBytes, id});
    if (dynamic()) objs.descs.push_back(MemDesc{0, 0, id, KeyOf(found[i].loc)});
  }
  PendingIo io;
  io.agent_ = agent_;
  RegOptions reg;
  reg.backends = {backend_};
  Status st;
  if (dynamic()) st = agent_->RegisterMem(objs, &io.file_reg_, reg);
  std::unique_ptr<Transfer> xfer;
  if (st.ok()) st = agent_->CreateTransfer(XferOp::kRead, local, remote, "", &xfer, xfer_options_);
  if (st.ok()) st = xfer->Post();
  if (xfer) io.xfers_.push_back(std::move(xfer));
  if (st.ok()) st = io.Wait();
  if (st.ok()) {
    for (size_t i = 0; i < found.size(); ++i)
      visit(ctx, found[i].loc, buffer_ + i * kHeaderBytes, found[i].size);
    return Status::Ok();
  }
  if (st.code() == Code::kPermissionDenied || st.code() == Code::kDisconnected)
    return st.WithContext("recovering the pool from the bucket");  // the store, not a chunk
  // One bad object (gone since the listing, say) failed the batch: read them one by one.
  (void)io.Wait();
  if (io.file_reg_.valid()) {
    (void)agent_->DeregisterMem(io.file_reg_);
    io.file_reg_ = {};
  }
  if (found.size() == 1) {
    ++*skipped;
    return Status::Ok();
  }
  for (size_t i = 0; i < found.size(); ++i) {
    Status one = ReadHeaders(found.subspan(i, 1), visit, ctx, skipped);
    if (!one.ok()) return one;
  }
  return Status::Ok();
}

}  // namespace ferry::kv
