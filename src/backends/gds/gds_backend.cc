#include "gds_backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <string>

#include "cufile_driver.h"
#include "device_memory.h"
#include "param_checks.h"
#include "thread_pool_engine.h"

namespace ferry::gds {
GdsBackend::GdsBackend(const GdsOptions& options, unsigned queue_depth)
    : options_(options), name_(options.multi_thread ? "GDS_MT" : "GDS"), scheduler_(queue_depth) {}

GdsBackend::~GdsBackend() {
  engine_.reset();
}

Status GdsBackend::Create(const GdsOptions& o, std::unique_ptr<Backend>* out) {
  for (Status s : {kit::CheckRange("batch_limit", o.batch_limit, 1, 4096),
                   kit::CheckRange("batch_pool_size", o.batch_pool_size, 1, 1024),
                   kit::CheckRange("buffered_threads", o.buffered_threads, 0, 1024),
                   kit::CheckRange("thread_count", o.thread_count, 1, 1024),
                   kit::CheckPageMultiple("max_request_size", o.max_request_size, 4096,
                                          uint64_t{1} << 30, "between 4 KiB and 1 GiB")})
    if (!s.ok()) return s;
  Status s = OpenCufileDriver();
  if (!s.ok()) return s;
  // GDS in cuFile's compatibility mode runs every op as a synchronous call, as buffered
  // files always do: there the batch API is cuFile's own emulation, which crashed the
  // process on the GPU machine (README), unless compat_batch asks for it.
  const bool batch = !o.multi_thread && (o.compat_batch || !CufileCompatMode());
  const unsigned threads =
      o.multi_thread ? unsigned(o.thread_count) : std::max(unsigned(o.buffered_threads), 4u);
  // The batch: every entry of every handle may be in flight. Threads: a few ops per thread
  // queued, so a thread never waits for the scheduler between two ops.
  const unsigned depth =
      batch ? unsigned(o.batch_limit * o.batch_pool_size + o.buffered_threads * 4) : threads * 4;
  std::unique_ptr<GdsBackend> b(new GdsBackend(o, depth));
  std::string error;
  if (batch)
    b->engine_ = MakeBatchEngine(&b->scheduler_, unsigned(o.batch_limit),
                                 unsigned(o.batch_pool_size), unsigned(o.buffered_threads), &error);
  else
    b->engine_ = kit::MakeThreadPoolEngine(
        &b->scheduler_, threads, {&RunCufileOp, &CufileOwnErrorText}, "cufile-threads", &error);
  if (!b->engine_) return IoError(std::string(b->name_) + ": " + error);
  b->scheduler_.set_engine(b->engine_.get());
  *out = std::move(b);
  return Status::Ok();
}

Status GdsBackend::RegisterMem(MemKind kind, const MemDesc& desc, void** md) {
  if (kind == MemKind::kFile) return RegisterFile(desc, md);
  if (kind == MemKind::kDram || kind == MemKind::kVram) return RegisterBuffer(kind, desc, md);
  return Unsupported(std::string(name_) + " moves DRAM and VRAM <-> FILE, not " +
                     std::string(MemKindName(kind)));
}

Status GdsBackend::RegisterBuffer(MemKind kind, const MemDesc& desc, void** md) {
  int device = -1;
  if (kind == MemKind::kVram) {
    Status s = cuda::CheckDeviceRange(desc.addr, desc.len, desc.dev_id);
    if (!s.ok()) return s;
    device = int(desc.dev_id);
  }
  // cuFileBufRegister works in the current context: the buffer's GPU for VRAM, GPU 0 for
  // DRAM (as verified on the H200); the caller's own current GPU is restored after.
  cuda::ScopedDevice scope(device < 0 ? 0 : uint64_t(device));
  if (device >= 0 && !scope.status().ok()) return scope.status();
  auto m = new GpuMem{desc.addr, desc.len, device};
  // Registration pins the buffer for cuFile's DMA. Failing it (pinned-memory limits in
  // cufile.json, memory cuFile cannot pin) is not an error: cuFile then stages the I/O
  // through its own buffers, more slowly.
  if (options_.register_buffers)
    m->registered =
        cuFileBufRegister(reinterpret_cast<void*>(desc.addr), desc.len, 0).err == CU_FILE_SUCCESS;
  *md = m;
  return Status::Ok();
}

Status GdsBackend::RegisterFile(const MemDesc& desc, void** md) {
  auto f = std::make_unique<GdsFile>();
  Status s = kit::OpenRegisteredFile(desc, f.get());
  if (!s.ok()) return s;
  // cuFile refuses an O_DIRECT fd whose flags include O_NOFOLLOW (5019, "unsupported file
  // open flags"), which every create/owned_only registration has. It gets its own open of
  // the same file through /proc/self/fd, which follows no path the caller named.
  const int fl = fcntl(f->fd, F_GETFL);
  if (fl >= 0 && (fl & O_NOFOLLOW)) {
    const std::string self = "/proc/self/fd/" + std::to_string(f->fd);
    f->cufile_fd = open(self.c_str(), (fl & ~(O_NOFOLLOW | O_CREAT | O_EXCL)) | O_CLOEXEC);
  }
  CUfileDescr_t d{};
  d.type = CU_FILE_HANDLE_TYPE_OPAQUE_FD;
  d.handle.fd = f->cufile_fd >= 0 ? f->cufile_fd : f->fd;
  CUfileError_t e = cuFileHandleRegister(&f->handle, &d);
  if (e.err == CU_FILE_SUCCESS) {
    *md = f.release();
    return Status::Ok();
  }
  const std::string fs = kit::FilesystemName(f->fs_type);
  if (f->cufile_fd >= 0) close(f->cufile_fd);
  kit::CloseRegisteredFile(f.get());
  if (f->created) unlink(f->path.c_str());
  if (f->memory_backed)
    return Unsupported("cuFile cannot use " + f->name + ": it is on " + fs +
                       ", and cuFile moves files on block-device filesystems only (ext4, xfs, "
                       "...); register it with POSIX instead (cuFileHandleRegister: " +
                       CufileErrorText(e.err) + ")");
  s = CufileStatus(e, "cuFileHandleRegister of " + f->name + (fs.empty() ? "" : " (" + fs + ")"));
  if (e.err == CU_FILE_HANDLE_NOT_REGISTERED)
    return Unsupported(s.message() +
                       "; cuFile found no udev record of the file's block device (is udev "
                       "running?), or the filesystem is not one cuFile supports");
  return s;
}

void GdsBackend::DeregisterMem(MemKind kind, void* md) {
  if (kind == MemKind::kFile) {
    auto* f = static_cast<GdsFile*>(md);
    cuFileHandleDeregister(f->handle);
    if (f->cufile_fd >= 0) close(f->cufile_fd);
    kit::CloseRegisteredFile(f);
    delete f;
    return;
  }
  auto* m = static_cast<GpuMem*>(md);
  if (m->registered) cuFileBufDeregister(reinterpret_cast<void*>(m->addr));
  delete m;
}

Status GdsBackend::Prepare(const PrepareSpec& spec, std::span<const IoSegment> segments,
                           std::unique_ptr<BackendRequest>* out) {
  if ((spec.local_kind != MemKind::kDram && spec.local_kind != MemKind::kVram) ||
      spec.target_kind != MemKind::kFile)
    return Unsupported(std::string(name_) + " moves DRAM and VRAM <-> FILE, not " +
                       std::string(MemKindName(spec.local_kind)) + " <-> " +
                       std::string(MemKindName(spec.target_kind)));
  // Not an error of the caller's: the parameter may be for a backend after this one.
  if (!spec.args.params.empty())
    return Unsupported(std::string(name_) + " takes no per-transfer parameters, got '" +
                       spec.args.params.begin()->first + "'");
  auto req = std::make_unique<GdsRequest>();
  req->write = spec.op == XferOp::kWrite;
  const uint64_t max = options_.max_request_size;
  size_t pieces = 0;
  for (const auto& s : segments) pieces += (s.len + max - 1) / max;
  req->ops.reserve(pieces);
  req->mem.reserve(pieces);
  for (const auto& s : segments) {
    const auto* mem = static_cast<const GpuMem*>(s.local_md);
    const auto* file = static_cast<const GdsFile*>(s.target_md);
    // cuFile aligns memory itself; the file side of O_DIRECT must be aligned.
    if (file->direct && (s.target_addr % file->offset_align != 0 || s.len % file->offset_align))
      return InvalidArgument("descriptor " + std::to_string(s.desc_index) + ": O_DIRECT on " +
                             file->name + " needs file offset and length aligned to " +
                             std::to_string(file->offset_align) + " (got offset " +
                             std::to_string(s.target_addr) + ", length " + std::to_string(s.len) +
                             ")");
    for (uint64_t done = 0; done < s.len;) {
      const uint64_t n = std::min<uint64_t>(s.len - done, max);
      kit::IoOp io{};
      io.req = req.get();
      io.file = file;
      io.buf = s.local_addr + done;
      io.off = s.target_addr + done;
      io.len = uint32_t(n);
      io.buf_index = -1;
      io.desc_index = s.desc_index;
      req->ops.push_back(io);
      req->mem.push_back(mem);
      done += n;
    }
  }
  *out = std::move(req);
  return Status::Ok();
}

Status GdsBackend::Post(BackendRequest* request, CompletionSink* sink) {
  scheduler_.Post(static_cast<GdsRequest*>(request), sink);
  return Status::Ok();
}

void GdsBackend::Cancel(BackendRequest* request) {
  scheduler_.Cancel(static_cast<GdsRequest*>(request));
}

Status GdsBackend::Query(MemKind kind, std::span<const MemDesc> descs,
                         std::vector<QueryResult>* out) {
  if (kind != MemKind::kFile)
    return Unsupported(std::string(name_) + " answers queries for FILE only");
  return kit::QueryFiles(descs, out);
}

Status GdsBackend::Remove(MemKind kind, std::span<const MemDesc> descs) {
  if (kind != MemKind::kFile) return Unsupported(std::string(name_) + " removes FILEs only");
  return kit::RemoveFiles(descs);
}

Status GdsBackend::List(MemKind kind, std::string_view prefix, std::vector<ListEntry>* out) {
  if (kind != MemKind::kFile) return Unsupported(std::string(name_) + " lists FILEs only");
  return kit::ListFiles(prefix, out);
}

Status GdsBackend::AllocMem(MemKind kind, uint64_t len, uint64_t dev_id, void** addr) {
  if (len > (uint64_t{1} << 46))
    return InvalidArgument("AllocMem: " + std::to_string(len) + " bytes is too large");
  if (kind == MemKind::kVram) return cuda::AllocDevice(len, dev_id, addr);
  if (kind == MemKind::kDram) return cuda::AllocPinned(len, addr);
  return Unsupported(std::string(name_) + " allocates DRAM (pinned) and VRAM only");
}

void GdsBackend::FreeMem(MemKind kind, void* addr, uint64_t len, uint64_t dev_id) {
  (void)len;
  if (kind == MemKind::kVram)
    cuda::FreeDevice(addr, dev_id);
  else
    cuda::FreePinned(addr);
}

}  // namespace ferry::gds
