// Parallel copy for large inline requests: the posting thread and a few helper threads
// each move part of the request.
//
// Why: an inline read from a memory-backed file is a memory copy, and one thread copies at
// most what one core's share of memory bandwidth allows; a second thread on another core
// adds most of that again (docs/benchmarks.md has the figures). The posting thread takes
// part itself, so a helper that wakes late costs nothing but its share, and Post still
// returns only once every byte moved, as any inline request does.
//
// A read is split into pieces of about `piece` bytes. A write is split only by op, and is
// worth it only across files: the kernel serialises writers of one file on its inode lock
// (PosixBackend splits writes that touch two files or more).
//
// Thread safety: Run may be called from many threads at once; their jobs queue, and the
// helpers serve them in order. Helpers start at the first Run and stop in the destructor.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "posix_types.h"

namespace ferry::posix {

class CopyPool {
 public:
  // `helpers` threads besides the caller (0: Run copies on the caller alone); pieces of
  // about `piece` bytes are handed out one at a time.
  CopyPool(unsigned helpers, uint64_t piece) : helpers_(helpers), piece_(piece) {}
  ~CopyPool();
  CopyPool(const CopyPool&) = delete;
  CopyPool& operator=(const CopyPool&) = delete;

  // Moves every op of `req` (buffered, on memory-backed files), the caller copying
  // alongside the helpers; returns OK or the error of the earliest op that failed, worded
  // as RunInline words it. After a failure, ops already handed out still finish (a write
  // may so land past the op that failed; the request fails either way).
  Status Run(const PosixRequest& req) { return Run(req, piece_, nullptr); }

  // Called by the thread that moved a piece, right after it moved (for a read, its bytes
  // are at ops[op].buf + start); an error fails the request as the piece's own would.
  struct PieceHook {
    Status (*moved)(void* context, uint32_t op, uint32_t start, uint32_t len);
    void* context;
  };
  // The same with reads split into pieces of about `piece` bytes, and `hook` (if not
  // null) told of each piece.
  Status Run(const PosixRequest& req, uint64_t piece, const PieceHook* hook);

 private:
  struct Piece {
    uint32_t op;     // index in req.ops
    uint32_t start;  // first byte within the op
    uint32_t len;
  };
  struct Job;
  // Moves pieces of `job` until none is left to hand out; called by the caller and by
  // helpers with mu_ held (through `lk`), which it releases while copying.
  void Work(Job* job, std::unique_lock<std::mutex>& lk);
  void HelperLoop();
  void StartHelpersLocked();

  const unsigned helpers_;
  const uint64_t piece_;
  std::mutex mu_;
  std::condition_variable work_cv_;  // helpers wait for jobs
  std::condition_variable done_cv_;  // callers wait for their job's last piece
  std::deque<Job*> jobs_;            // with pieces left to hand out
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

}  // namespace ferry::posix
