#include "posix_backend.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "inline_io.h"
#include "param_checks.h"
#ifdef FERRY_POSIX_VRAM
#include "device_memory.h"
#endif

namespace ferry::posix {
namespace {

// Pieces a split read hands out: large enough that claiming one costs nothing next to
// copying it, small enough that a helper that wakes late still finds work.
constexpr uint64_t kCopyPiece = 1 << 20;

// Helpers beyond the caller, at most one per other core: more threads than cores only
// take turns.
unsigned CopyHelpers(int64_t wanted) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return unsigned(std::min<int64_t>(wanted, int64_t(cores) - 1));
}

// Whether the request's ops go to more than one file.
bool SpansFiles(const PosixRequest& req) {
  for (const auto& op : req.ops)
    if (op.file != req.ops.front().file) return true;
  return false;
}

}  // namespace

PosixBackend::PosixBackend(const PosixOptions& options)
    : options_(options),
      copy_pool_(CopyHelpers(options.copy_threads), kCopyPiece),
      scheduler_(unsigned(options.queue_depth)),
      vram_scheduler_(unsigned(options.vram_threads) * 2) {}

PosixBackend::~PosixBackend() {
  engine_.reset();
  vram_engine_.reset();
}

Status PosixBackend::Create(const PosixOptions& options, std::unique_ptr<Backend>* out) {
  for (Status s : {kit::CheckRange("queue_depth", options.queue_depth, 1, 4096),
                   kit::CheckPageMultiple("max_request_size", options.max_request_size, 4096,
                                          uint64_t{1} << 30, "between 4 KiB and 1 GiB"),
                   kit::CheckAtMostGiB("inline_max", options.inline_max),
                   kit::CheckRange("threads", options.threads, 1, 1024),
                   kit::CheckRange("spin_us", options.spin_us, 0, 1000),
                   kit::CheckRange("copy_threads", options.copy_threads, 0, 64),
                   kit::CheckAtMostGiB("parallel_read_min", options.parallel_read_min),
                   kit::CheckAtMostGiB("vram_inline_max", options.vram_inline_max),
                   kit::CheckRange("vram_threads", options.vram_threads, 1, 256),
                   kit::CheckPageMultiple("vram_bounce_size", options.vram_bounce_size, 64 << 10,
                                          256 << 20, "between 64 KiB and 256 MiB")})
    if (!s.ok()) return s;

  std::unique_ptr<PosixBackend> b(new PosixBackend(options));
  std::string why_uring, why_aio, error;
  const std::string& e = options.engine;
  const std::chrono::nanoseconds spin = std::chrono::microseconds(options.spin_us);
  if (e == "uring" || e == "auto")
    b->engine_ = MakeUringEngine(&b->scheduler_, unsigned(options.queue_depth),
                                 options.registered_buffers, spin, &why_uring);
  if (!b->engine_ && (e == "aio" || e == "auto"))
    b->engine_ = MakeAioEngine(&b->scheduler_, unsigned(options.queue_depth), spin, &why_aio);
  if (!b->engine_ && (e == "threads" || e == "auto"))
    b->engine_ = MakeThreadEngine(&b->scheduler_, unsigned(options.threads), &error);
  if (!b->engine_) {
    std::string m = "POSIX engine '" + e + "' is not available here";
    if (!why_uring.empty()) m += "; io_uring: " + why_uring;
    if (!why_aio.empty()) m += "; libaio: " + why_aio;
    if (!error.empty()) m += "; threads: " + error;
    return Unsupported(m);
  }
  b->scheduler_.set_engine(b->engine_.get());
#ifdef FERRY_POSIX_VRAM
  b->vram_engine_ = MakeVramEngine(&b->vram_scheduler_, unsigned(options.vram_threads),
                                   &b->options_.vram_bounce_size, &error);
  if (!b->vram_engine_) return Internal("POSIX VRAM staging: " + error);
  b->vram_scheduler_.set_engine(b->vram_engine_.get());
#endif
  *out = std::move(b);
  return Status::Ok();
}

Status PosixBackend::RegisterMem(MemKind kind, const MemDesc& desc, void** md) {
  if (kind == MemKind::kDram) {
    auto d = new DramMd{desc.addr, desc.len, engine_->RegisterBuffer(desc.addr, desc.len)};
    *md = d;
    return Status::Ok();
  }
  if (kind == MemKind::kFile) {
    auto f = std::make_unique<FileMd>();
    Status s = kit::OpenRegisteredFile(desc, f.get());
    if (!s.ok()) return s;
    f->fixed_index = engine_->RegisterFile(f->fd);
    *md = f.release();
    return Status::Ok();
  }
#ifdef FERRY_POSIX_VRAM
  if (kind == MemKind::kVram) {
    Status s = cuda::CheckDeviceRange(desc.addr, desc.len, desc.dev_id);
    if (!s.ok()) return s;
    *md = new VramMd{desc.addr, desc.len, int(desc.dev_id)};
    return Status::Ok();
  }
#endif
  return Unsupported("POSIX moves DRAM, VRAM (built with CUDA) and FILE, not " +
                     std::string(MemKindName(kind)));
}

void PosixBackend::DeregisterMem(MemKind kind, void* md) {
  if (kind == MemKind::kDram) {
    auto* d = static_cast<DramMd*>(md);
    engine_->UnregisterBuffer(d->buf_index);
    delete d;
  } else if (kind == MemKind::kVram) {
    delete static_cast<VramMd*>(md);
  } else if (kind == MemKind::kFile) {
    auto* f = static_cast<FileMd*>(md);
    engine_->UnregisterFile(f->fixed_index);
    kit::CloseRegisteredFile(f);
    delete f;
  }
}

Status PosixBackend::Prepare(const PrepareSpec& spec, std::span<const IoSegment> segments,
                             std::unique_ptr<BackendRequest>* out) {
  const bool vram = spec.local_kind == MemKind::kVram && vram_engine_ != nullptr;
  if ((spec.local_kind != MemKind::kDram && !vram) || spec.target_kind != MemKind::kFile)
    return Unsupported("POSIX moves DRAM <-> FILE, not " +
                       std::string(MemKindName(spec.local_kind)) + " <-> " +
                       std::string(MemKindName(spec.target_kind)));
  // Not an error of the caller's: the parameter may be for a backend after this one.
  if (!spec.args.params.empty())
    return Unsupported("POSIX takes no per-transfer parameters, got '" +
                       spec.args.params.begin()->first + "'");
  auto req = std::make_unique<PosixRequest>();
  req->write = spec.op == XferOp::kWrite;
  req->vram = vram;
  size_t pieces = 0;
  // VRAM ops are at most a bounce buffer each, so that the staging threads share the
  // pieces of one large descriptor (file I/O is one thread's memory copy, or one I/O in
  // flight, at a time per thread).
  const uint64_t max_op = vram ? std::min(options_.max_request_size, options_.vram_bounce_size)
                               : options_.max_request_size;
  for (const auto& s : segments) pieces += (s.len + max_op - 1) / max_op;
  req->ops.reserve(pieces);
  for (const auto& s : segments) {
    const auto* file = static_cast<const FileMd*>(s.target_md);
    // VRAM goes through page-aligned bounce buffers: only the file side must be aligned.
    IoSegment checked = s;
    if (vram) checked.local_addr = 0;
    Status aligned = kit::CheckDirectAlignment(checked, *file);
    if (!aligned.ok()) return aligned;
    const int buf_index = vram ? -1 : static_cast<const DramMd*>(s.local_md)->buf_index;
    const uint64_t device = vram ? uint64_t(static_cast<const VramMd*>(s.local_md)->device) : 0;
    // Large descriptors become several ops so one I/O never exceeds max_op.
    for (uint64_t done = 0; done < s.len;) {
      const uint64_t n = std::min<uint64_t>(s.len - done, max_op);
      IoOp io{};
      io.req = req.get();
      io.file = file;
      io.buf = s.local_addr + done;
      io.off = s.target_addr + done;
      io.len = uint32_t(n);
      io.buf_index = buf_index;
      io.engine_tag = device;
      io.desc_index = s.desc_index;
      req->ops.push_back(io);
      done += n;
    }
  }
  uint64_t bytes = 0;
  for (const auto& s : segments) bytes += s.len;
  if (vram) {
    req->run_inline = bytes <= options_.vram_inline_max;
#ifdef FERRY_POSIX_VRAM
    req->stage_whole = req->run_inline && CanStageWhole(*req, options_.vram_bounce_size);
#endif
  } else {
    req->run_inline = options_.inline_max > 0 && CanRunInline(*req, options_.inline_max);
    // Reads of parallel_read_min split into pieces; writes of as much only across two files
    // or more (one file's writers queue on its inode lock).
    req->split =
        req->run_inline && bytes >= options_.parallel_read_min && (!req->write || SpansFiles(*req));
  }
  *out = std::move(req);
  return Status::Ok();
}

Status PosixBackend::Post(BackendRequest* request, CompletionSink* sink) {
  auto* req = static_cast<PosixRequest*>(request);
#ifdef FERRY_POSIX_VRAM
  if (req->run_inline && req->vram) {
    sink->Complete(RunVramInlineRequest(*req));
    return Status::Ok();
  }
#endif
  if (req->run_inline && req->split)
    sink->Complete(copy_pool_.Run(*req));
  else if (req->run_inline)
    sink->Complete(RunInline(*req));
  else
    SchedulerOf(*req).Post(req, sink);
  return Status::Ok();
}

#ifdef FERRY_POSIX_VRAM
Status PosixBackend::RunVramInlineRequest(PosixRequest& req) {
  std::unique_ptr<VramLend> lend;
  {
    std::lock_guard lk(stagers_mu_);
    if (!stagers_.empty()) {
      lend = std::move(stagers_.back());
      stagers_.pop_back();
    }
  }
  if (!lend) lend = std::make_unique<VramLend>(options_.vram_bounce_size);
  Status s = req.stage_whole ? RunVramInlineRead(req, &lend->stager, &copy_pool_, &lend->staged)
                             : RunVramInline(req, &lend->stager);
  std::lock_guard lk(stagers_mu_);
  stagers_.push_back(std::move(lend));
  return s;
}
#endif

void PosixBackend::Cancel(BackendRequest* request) {
  auto* req = static_cast<PosixRequest*>(request);
  SchedulerOf(*req).Cancel(req);
}

Status PosixBackend::Query(MemKind kind, std::span<const MemDesc> descs,
                           std::vector<QueryResult>* out) {
  if (kind != MemKind::kFile) return Unsupported("POSIX answers queries for FILE only");
  return kit::QueryFiles(descs, out);
}

Status PosixBackend::Remove(MemKind kind, std::span<const MemDesc> descs) {
  if (kind != MemKind::kFile) return Unsupported("POSIX removes FILEs only");
  return kit::RemoveFiles(descs);
}

Status PosixBackend::List(MemKind kind, std::string_view prefix, std::vector<ListEntry>* out) {
  if (kind != MemKind::kFile) return Unsupported("POSIX lists FILEs only");
  return kit::ListFiles(prefix, out);
}

Status PosixBackend::AllocMem(MemKind kind, uint64_t len, uint64_t dev_id, void** addr) {
#ifdef FERRY_POSIX_VRAM
  if (kind == MemKind::kVram) return cuda::AllocDevice(len, dev_id, addr);
#endif
  (void)dev_id;
  if (kind != MemKind::kDram)
    return Unsupported("POSIX allocates DRAM (and VRAM when built with CUDA)");
  if (len > (uint64_t{1} << 46))
    return InvalidArgument("AllocMem: " + std::to_string(len) + " bytes is too large");
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    return {Code::kNoSpace, "allocating " + std::to_string(len) + " bytes: " + std::strerror(err)};
  }
  // Fewer TLB misses for large staging buffers; a hint, so its failure changes nothing.
  if (len >= (2u << 20)) (void)madvise(p, len, MADV_HUGEPAGE);
  *addr = p;
  return Status::Ok();
}

void PosixBackend::FreeMem(MemKind kind, void* addr, uint64_t len, uint64_t dev_id) {
#ifdef FERRY_POSIX_VRAM
  if (kind == MemKind::kVram) return cuda::FreeDevice(addr, dev_id);
#endif
  (void)kind, (void)dev_id;
  munmap(addr, len);
}

}  // namespace ferry::posix
