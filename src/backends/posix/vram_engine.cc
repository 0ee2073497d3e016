// POSIX with VRAM (NIXL's POSIX refuses GPU memory): worker threads that each stage their
// op through a pair of pinned bounce buffers (cuda_kit's BounceStager), copying one chunk
// on a CUDA stream while the file I/O of the other runs. Several workers keep several ops
// in flight, so a large transfer split at max_request_size overlaps too.
#include <unistd.h>

#include <cerrno>

#include "bounce_stager.h"
#include "device_memory.h"
#include "op_status.h"
#include "posix_engines.h"
#include "thread_pool_engine.h"

namespace ferry::posix {
namespace {

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
  return write ? stager.FromDevice(device, addr, len, io) : stager.ToDevice(device, addr, len, io);
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

std::unique_ptr<IoEngine> MakeVramEngine(IoSink* sink, unsigned threads,
                                         const uint64_t* bounce_size, std::string* error) {
  kit::ThreadPoolCalls calls{&RunStaged, &Describe, &StartStager, &StopStager,
                             const_cast<uint64_t*>(bounce_size)};
  return kit::MakeThreadPoolEngine(sink, threads, calls, "vram-staging", error);
}

}  // namespace ferry::posix
