// The file store's buffer, pool, reads, writes and invalidation, all through the agent.
#include "file_chunk_store.h"

#include <sys/resource.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "obj_chunk_store.h"
#include "slot_format.h"
#include "store_backend.h"

namespace ferry::kv {
namespace {

constexpr auto kIoTimeout = std::chrono::seconds(120);
// File descriptors left for everything else once the static pool is open.
constexpr uint64_t kSpareFds = 64;

// Flags of every file the store writes: created 0600 if missing, never through a link,
// never someone else's file.
FileOpenFlags WriteFlags(bool direct) {
  return FileOpenFlags{.write = true, .direct = direct, .create = true, .owned_only = true};
}

}  // namespace

PendingIo::~PendingIo() {
  for (auto& x : xfers_) (void)x->Release();
  if (file_reg_.valid()) (void)agent_->DeregisterMem(file_reg_);
}

Status PendingIo::Wait() {
  Status first;
  for (auto& x : xfers_) {
    Status s = x->Wait(kIoTimeout);
    if (s.code() == Code::kTimedOut) (void)x->Cancel();
    (void)x->Release();
    if (first.ok() && !s.ok()) first = s;
  }
  xfers_.clear();
  if (file_reg_.valid()) {
    (void)agent_->DeregisterMem(file_reg_);
    file_reg_ = {};
  }
  return first;
}

Status PendingIo::WaitFirst() {
  if (xfers_.empty()) return Status::Ok();
  Status s = xfers_.front()->Wait(kIoTimeout);
  if (s.code() == Code::kTimedOut) (void)xfers_.front()->Cancel();
  return s;
}

Status PendingIo::FirstState() const {
  return xfers_.empty() ? Status::Ok() : xfers_.front()->Check();
}

Status ChunkStore::Open(const Config& config, const Options& options,
                        std::unique_ptr<ChunkStore>* out) {
  if (config.nixl_backend == "OBJ") return ObjChunkStore::Open(config, options, out);
  return FileChunkStore::Open(config, options, out);
}

Status FileChunkStore::Open(const Config& config, const Options& options,
                            std::unique_ptr<ChunkStore>* out) {
  std::unique_ptr<FileChunkStore> st(new FileChunkStore());
  Status s = st->Init(config, options);
  if (!s.ok()) return s;
  *out = std::move(st);
  return Status::Ok();
}

Status FileChunkStore::Init(const Config& config, const Options& o) {
  Status s = OpenStoreBackend(config, o, &owned_agent_, &agent_, &backend_);
  if (!s.ok()) return s;
  xfer_options_.backend = backend_;

  direct_ = config.use_direct_io;
  slots_ = static_cast<uint32_t>(config.nixl_pool_size);  // bounded by ValidateConfig
  page_bytes_ = o.page_bytes;
  prefix_ = PoolPrefix(o.seed, o.worker_id);
  s = PoolLock::PrepareDir(config.nixl_path, /*create=*/true, &dir_);
  if (!s.ok()) return s;
  // One engine per pool: a second process on the same files would corrupt the index.
  s = PoolLock::TryLock(dir_, prefix_, /*create=*/true, &lock_);
  if (!s.ok()) return s;
  s = AllocateBuffer(config, o);
  if (!s.ok()) return s;
  base_id_ = (XXH3_64bits(prefix_.data(), prefix_.size()) | 1) << 32;
  return dynamic() ? Status::Ok() : OpenSlots();
}

Status FileChunkStore::AllocateBuffer(const Config& config, const Options& o) {
  const uint64_t pages = config.nixl_buffer_size / page_bytes_;  // <= kMaxPages (validated)
  if (pages == 0) return InvalidArgument("nixl_buffer_size must hold at least one chunk");
  pages_ = static_cast<uint32_t>(pages);
  buffer_len_ = pages * page_bytes_ + kHeaderBytes;
  const bool gpu = config.nixl_buffer_device == "cuda";
  if (gpu) {
    buffer_kind_ = MemKind::kVram;
    device_ = o.device;
    Status s = OpenDeviceCodec(o.device, pages_, page_bytes_, o.kv_runs, &codec_);
    if (!s.ok()) return s;
  }
  // From the backend that moves it fastest (page-aligned, huge pages for POSIX; cuFile's
  // own for GDS).
  void* mem = nullptr;
  Status s = agent_->AllocMem(buffer_kind_, buffer_len_, device_, &mem, backend_);
  if (s.code() == Code::kUnsupported)
    s = agent_->AllocMem(buffer_kind_, buffer_len_, device_, &mem);
  if (!s.ok()) {
    return s.WithContext("allocating nixl_buffer_size " + std::to_string(buffer_len_) + " bytes" +
                         (gpu ? " on GPU " + std::to_string(device_) : ""));
  }
  buffer_ = static_cast<uint8_t*>(mem);
  uint8_t* zero_page = buffer_ + buffer_len_ - kHeaderBytes;
  if (gpu) {
    const std::vector<uint8_t> zeros(kHeaderBytes, 0);
    s = codec_->ToDevice(zero_page, zeros.data(), kHeaderBytes);
    if (!s.ok()) return s;
  } else {
    std::memset(zero_page, 0, kHeaderBytes);
  }
  RegOptions reg;
  reg.backends = {backend_};
  MemDescList mine{buffer_kind_, {DramDesc(buffer_, buffer_len_)}};
  mine.descs[0].dev_id = device_;
  s = agent_->RegisterMem(mine, &buffer_reg_, reg);
  if (!s.ok()) return s.WithContext("registering nixl buffer");
  XferDescList local{buffer_kind_, {}};
  for (uint32_t p = 0; p < pages_; ++p) {
    local.descs.push_back({reinterpret_cast<uint64_t>(page(p)), page_bytes_, device_});
  }
  return agent_->PrepDescList(local, "", &local_prepped_);
}

Status FileChunkStore::OpenSlots() {
  // Every slot stays open: a pool the process may not open refuses here, not half-way.
  rlimit fd_limit{};
  if (::getrlimit(RLIMIT_NOFILE, &fd_limit) == 0 && fd_limit.rlim_cur != RLIM_INFINITY &&
      uint64_t{slots_} + kSpareFds > fd_limit.rlim_cur) {
    return InvalidArgument(
        "nixl_pool_size " + std::to_string(slots_) + " keeps that many files open; " +
        "this process may have " + std::to_string(fd_limit.rlim_cur) +
        " open files (ulimit -n): raise it above " + std::to_string(uint64_t{slots_} + kSpareFds) +
        " or lower nixl_pool_size");
  }
  // What the pool still needs on disk, against what the filesystem has: a pool that would
  // fill the disk is refused before a byte is reserved.
  std::vector<ListEntry> existing;
  Status st = agent_->ListMem(MemKind::kFile, dir_ + "/" + prefix_ + ".slot", &existing, backend_);
  if (!st.ok()) return st.WithContext("listing the pool in " + dir_);
  std::unordered_map<std::string, uint64_t> have;
  for (const ListEntry& e : existing)
    have[e.name] = e.info.type == EntryType::kRegular ? e.info.size : 0;
  uint64_t need = 0;
  for (uint32_t s = 0; s < slots_; ++s) {
    auto it = have.find(PathOf({s, {}, 0}));
    need += page_bytes_ - (it == have.end() ? 0 : std::min(page_bytes_, it->second));
  }
  std::vector<QueryResult> fs;
  st = agent_->QueryMem({MemKind::kFile, {FileName(dir_)}}, &fs, backend_);
  if (st.ok() && fs.size() == 1 && fs[0].available > 0 && need > fs[0].available) {
    return Status(Code::kNoSpace, "nixl_pool_size " + std::to_string(slots_) + " slots of " +
                                      std::to_string(page_bytes_) + " bytes need " +
                                      std::to_string(need) + " more bytes in " + dir_ +
                                      ", which has " + std::to_string(fs[0].available) +
                                      " free: lower nixl_pool_size or free space");
  }
  MemDescList files{MemKind::kFile, {}};
  XferDescList xfer{MemKind::kFile, {}};
  FileOpenFlags flags = WriteFlags(direct_);
  flags.reserve = true;  // writes land inside the file: see the file store's README
  for (uint32_t s = 0; s < slots_; ++s) {
    files.descs.push_back(FileByPath(PathOf({s, {}, 0}), base_id_ + s, flags, 0, page_bytes_));
    xfer.descs.push_back({0, page_bytes_, base_id_ + s});
  }
  RegOptions reg;
  reg.backends = {backend_};
  st = agent_->RegisterMem(files, &slots_reg_, reg);
  if (!st.ok()) return st.WithContext("opening pool slots in " + dir_);
  return agent_->PrepDescList(xfer, "", &slot_prepped_);
}

FileChunkStore::~FileChunkStore() {
  local_prepped_.reset();
  slot_prepped_.reset();
  if (agent_ != nullptr) {
    if (slots_reg_.valid()) (void)agent_->DeregisterMem(slots_reg_);
    if (buffer_reg_.valid()) (void)agent_->DeregisterMem(buffer_reg_);
    if (buffer_ != nullptr) (void)agent_->FreeMem(buffer_);
    // A borrowed agent outlives this engine: its backend (ring, threads, fds) goes now.
    if (owned_agent_ == nullptr && backend_.valid()) (void)agent_->DestroyBackend(backend_);
  }
  owned_agent_.reset();
}

std::string FileChunkStore::PathOf(const ChunkLocation& loc) const {
  // Only hex digits and numbers go into the name: no key can escape dir_.
  return dir_ + "/" +
         (dynamic() ? KeyFileName(prefix_, loc.key, loc.generation)
                    : SlotFileName(prefix_, loc.slot));
}

Status FileChunkStore::Register(XferOp op, const ChunkLocation& loc, uint64_t bytes,
                                PendingIo* io) {
  io->agent_ = agent_;
  io->file_id_ = base_id_ + loc.slot;
  io->opened_ = !dynamic();
  if (!dynamic()) return Status::Ok();
  io->file_id_ = NextFileId();
  const bool w = op == XferOp::kWrite;
  FileOpenFlags flags =
      w ? WriteFlags(direct_) : FileOpenFlags{.direct = direct_, .owned_only = true};
  flags.reserve = w;  // a full disk fails here, and the backend removes the file it made
  RegOptions reg;
  reg.backends = {backend_};
  Status s = agent_->RegisterMem(
      MemDescList{MemKind::kFile, {FileByPath(PathOf(loc), io->file_id_, flags, 0, w ? bytes : 0)}},
      &io->file_reg_, reg);
  io->opened_ = s.ok();
  return s;
}

Status FileChunkStore::Begin(const ChunkLocation& loc, uint64_t bytes, PendingIo* io) {
  return Register(XferOp::kWrite, loc, bytes, io);
}

Status FileChunkStore::Post(uint32_t pg, std::span<const IoRange> ranges, PendingIo* io) {
  return PostOn(XferOp::kWrite, pg, ranges, io);
}

Status FileChunkStore::PostOn(XferOp op, uint32_t pg, std::span<const IoRange> ranges,
                              PendingIo* io) {
  std::unique_ptr<Transfer> xfer;
  Status s;
  if (!dynamic() && ranges.size() == 1 && ranges[0].offset == 0 && ranges[0].len == page_bytes_) {
    // A whole page to its slot: made from the prepared lists by index, no descriptor checks.
    const uint32_t li = pg, ri = static_cast<uint32_t>(io->file_id_ - base_id_);
    s = agent_->MakeTransfer(op, *local_prepped_, {&li, 1}, *slot_prepped_, {&ri, 1}, &xfer,
                             xfer_options_);
  } else {
    XferDescList local{buffer_kind_, {}};
    XferDescList remote{MemKind::kFile, {}};
    for (const IoRange& r : ranges) {
      local.descs.push_back({reinterpret_cast<uint64_t>(page(pg) + r.offset), r.len, device_});
      remote.descs.push_back({r.offset, r.len, io->file_id_});
    }
    s = agent_->CreateTransfer(op, local, remote, "", &xfer, xfer_options_);
  }
  if (!s.ok()) return s;
  s = xfer->Post();
  if (!s.ok()) return s;
  io->xfers_.push_back(std::move(xfer));
  return Status::Ok();
}

Status FileChunkStore::StartRead(uint32_t pg, const ChunkLocation& loc, uint64_t bytes,
                                 std::unique_ptr<PendingIo>* out) {
  auto io = std::make_unique<PendingIo>();
  Status s = Register(XferOp::kRead, loc, bytes, io.get());
  if (!s.ok()) return s;
  const IoRange all{0, bytes};
  s = PostOn(XferOp::kRead, pg, {&all, 1}, io.get());
  if (!s.ok()) return s;
  *out = std::move(io);
  return Status::Ok();
}

Status FileChunkStore::Invalidate(const ChunkLocation& loc) {
  if (dynamic()) {
    // This generation's file only: a newer store of the key has a file of its own.
    return agent_->RemoveMem({MemKind::kFile, {FileName(PathOf(loc))}}, backend_);
  }
  XferDescList local{
      buffer_kind_,
      {{reinterpret_cast<uint64_t>(buffer_ + buffer_len_ - kHeaderBytes), kHeaderBytes, device_}}};
  XferDescList remote{MemKind::kFile, {{0, kHeaderBytes, base_id_ + loc.slot}}};
  PendingIo io;
  io.agent_ = agent_;
  std::unique_ptr<Transfer> xfer;
  Status s = agent_->CreateTransfer(XferOp::kWrite, local, remote, "", &xfer, xfer_options_);
  if (!s.ok()) return s;
  s = xfer->Post();
  io.xfers_.push_back(std::move(xfer));  // released by Wait or the destructor either way
  if (!s.ok()) return s;
  return io.Wait();
}

}  // namespace ferry::kv
