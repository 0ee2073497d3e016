// POSIX with VRAM (NIXL's POSIX refuses GPU memory): worker threads that each stage an op
// (at most vram_bounce_size: PosixBackend::Prepare splits larger descriptors, so the
// workers share them) through pinned buffers (cuda_kit's BounceStager), the GPU copies of
// its pieces overlapped with its file I/O. Small requests are staged on the posting thread
// instead (RunVramInline), and small reads from buffered files are read in parallel pieces
// (RunVramInlineRead).
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "bounce_stager.h"
#include "device_memory.h"
#include "op_status.h"
#include "posix_engines.h"
#include "thread_pool_engine.h"

namespace ferry::posix {
namespace {

// Pieces of a staged-whole read (RunVramInlineRead): a 1 MiB read spreads over four threads.
constexpr uint64_t kVramReadPiece = 256 << 10;

// All `n` bytes, or what moved before end of file (reads) / an error; -errno if none.
int64_t PositionalAll(bool write, int fd, uint8_t* buf, uint64_t n, uint64_t off) {
  uint64_t done = 0;
  while (done < n) {
    const ssize_t r = write ? pwrite(fd, buf + done, n - done, off_t(off + done))
                            : pread(fd, buf + done, n - done, off_t(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return done > 0 ? int64_t(done) : -errno;
    }
    if (r == 0) break;
    done += uint64_t(r);
  }
  return int64_t(done);
}

int64_t RunStaged(const IoOp& op, void* worker) {
  auto& stager = *static_cast<cuda::BounceStager*>(worker);
  const int fd = FileOf(op).fd;
  const uint64_t off = op.off + op.done;
  const bool write = op.req->write;
  auto io = [&](uint8_t* host, uint64_t n, uint64_t pos) {
    return PositionalAll(write, fd, host, n, off + pos);
  };
  const int device = int(op.engine_tag);
  const uint64_t addr = op.buf + op.done, len = op.len - op.done;
  // O_DIRECT: one large I/O per op keeps the disk as busy as the DRAM path's do.
  const bool one_io = op.file->direct;
  return write ? stager.FromDevice(device, addr, len, io, one_io)
               : stager.ToDevice(device, addr, len, io, one_io);
}

void* StartStager(void* bounce_size) {
  return new cuda::BounceStager(*static_cast<const uint64_t*>(bounce_size));
}

void StopStager(void* worker) {
  delete static_cast<cuda::BounceStager*>(worker);
}

std::string Describe(int err) {
  return cuda::StagingErrorText(err);
}

}  // namespace

Status RunVramInline(PosixRequest& req, cuda::BounceStager* stager) {
  for (auto& op : req.ops) {
    op.done = 0;
    cuda::ScopedDevice scope(op.engine_tag);  // the caller's thread: keep its device
    if (!scope.status().ok()) return scope.status();
    while (op.done < op.len) {
      const int64_t r = RunStaged(op, stager);
      if (r < 0) {
        const std::string text = cuda::StagingErrorText(int(-r));
        return text.empty() ? kit::OpErrnoStatus(op, op.done, int(-r))
                            : kit::OpEngineError(op, op.done, text);
      }
      if (r == 0) return kit::OpNoProgress(op, op.done);
      op.done += uint32_t(r);
      if (op.done < op.len && !req.write && op.file->direct)
        return kit::OpPastEnd(op, op.done);  // O_DIRECT: a short read is end of file
    }
  }
  return Status::Ok();
}

bool CanStageWhole(const PosixRequest& req, uint64_t chunk) {
  if (req.write || req.ops.empty()) return false;
  uint64_t total = 0;
  for (const auto& op : req.ops) {
    // O_DIRECT stays on the pipelined path: its short read at end of file leaves an
    // unaligned offset that a parallel piece could not continue from.
    if (op.file->direct || op.engine_tag != req.ops.front().engine_tag) return false;
    total += op.len;
  }
  return total <= chunk;
}

namespace {

// What the copy pool's threads need to send a piece they read on to the GPU.
struct StagedRead {
  const PosixRequest* req;     // device addresses
  const PosixRequest* staged;  // where in the pinned buffer each op was read to
  cuda::BounceStager* stager;
  int device;
  std::thread::id poster;  // its ScopedDevice has made `device` current already
};

Status QueuePieceCopy(void* context, uint32_t op, uint32_t start, uint32_t len) {
  const auto& r = *static_cast<const StagedRead*>(context);
  std::string why;
  // A pool helper (ours: any GPU may be current there). Not on the posting thread, whose
  // device is the caller's and which MakeCurrent's per-thread cache must not claim.
  if (std::this_thread::get_id() != r.poster && !cuda::MakeCurrent(r.device, &why))
    return kit::OpEngineError(r.req->ops[op], start, why);
  const int err =
      r.stager->CopyToDevice(r.req->ops[op].buf + start,
                             reinterpret_cast<const uint8_t*>(r.staged->ops[op].buf + start), len);
  if (err != 0) return kit::OpEngineError(r.req->ops[op], start, cuda::StagingErrorText(-err));
  return Status::Ok();
}

}  // namespace

Status RunVramInlineRead(const PosixRequest& req, cuda::BounceStager* stager, CopyPool* pool,
                         PosixRequest* staged) {
  const IoOp& first = req.ops.front();
  cuda::ScopedDevice scope(first.engine_tag);  // the caller's thread: keep its device
  if (!scope.status().ok()) return scope.status();
  int err = 0;
  uint8_t* host = stager->WholeBuffer(int(first.engine_tag), &err);
  if (host == nullptr) return kit::OpEngineError(first, 0, cuda::StagingErrorText(-err));
  staged->write = false;
  staged->ops.assign(req.ops.begin(), req.ops.end());
  uint64_t pos = 0;
  for (auto& op : staged->ops) {
    op.req = staged;
    op.done = 0;
    op.buf = reinterpret_cast<uint64_t>(host) + pos;
    pos += op.len;
  }
  // Each piece's copy to the GPU is queued by the thread that read it, so the copies run
  // while other pieces are still being read.
  StagedRead context{&req, staged, stager, int(first.engine_tag), std::this_thread::get_id()};
  const CopyPool::PieceHook hook{&QueuePieceCopy, &context};
  Status s = pool->Run(*staged, kVramReadPiece, &hook);
  // Wait even after a failure: no copy of ours may still read the buffer.
  err = stager->Finish();
  if (!s.ok()) return s;
  if (err != 0) return kit::OpEngineError(first, 0, cuda::StagingErrorText(-err));
  return Status::Ok();
}

std::unique_ptr<IoEngine> MakeVramEngine(IoSink* sink, unsigned threads,
                                         const uint64_t* bounce_size, std::string* error) {
  kit::ThreadPoolCalls calls{&RunStaged, &Describe, &StartStager, &StopStager,
                             const_cast<uint64_t*>(bounce_size)};
  return kit::MakeThreadPoolEngine(sink, threads, calls, "vram-staging", error);
}

}  // namespace ferry::posix
