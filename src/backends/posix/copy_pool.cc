#include "copy_pool.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "op_status.h"

namespace ferry::posix {

// A Read in progress, on its caller's stack. Every field is guarded by mu_; a thread may
// touch a job only while it holds mu_ or a piece of it not yet finished, so the caller,
// which returns once `unfinished` is 0 under mu_, never frees a job still in use.
struct CopyPool::Job {
  const PosixRequest* req;
  const PieceHook* hook;
  std::vector<Piece> pieces;
  size_t next = 0;                 // first piece not handed out
  size_t unfinished = 0;           // pieces not yet finished
  uint64_t error_at = UINT64_MAX;  // (op << 32 | start) of the earliest failed piece
  Status error;
};

namespace {

// One piece with pread or pwrite, continuing short transfers; errors worded as the inline
// path's.
Status MovePiece(const PosixRequest& req, uint32_t index, uint32_t start, uint32_t len) {
  const IoOp& op = req.ops[index];
  const int fd = FileOf(op).fd;
  uint64_t done = start;
  const uint64_t end = uint64_t(start) + len;
  while (done < end) {
    auto* at = reinterpret_cast<void*>(op.buf + done);
    const ssize_t n = req.write ? pwrite(fd, at, size_t(end - done), off_t(op.off + done))
                                : pread(fd, at, size_t(end - done), off_t(op.off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return kit::OpErrnoStatus(op, done, errno);
    }
    if (n == 0) return kit::OpNoProgress(op, done);
    done += uint64_t(n);
  }
  return Status::Ok();
}

}  // namespace

CopyPool::~CopyPool() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void CopyPool::StartHelpersLocked() {
  // Started lazily: most backends never see a read large enough to split.
  while (threads_.size() < helpers_) threads_.emplace_back([this] { HelperLoop(); });
}

void CopyPool::Work(Job* job, std::unique_lock<std::mutex>& lk) {
  while (job->next < job->pieces.size() && job->error_at == UINT64_MAX) {
    const Piece p = job->pieces[job->next++];
    if (job->next == job->pieces.size()) jobs_.erase(std::find(jobs_.begin(), jobs_.end(), job));
    lk.unlock();
    Status s = MovePiece(*job->req, p.op, p.start, p.len);
    if (s.ok() && job->hook != nullptr)
      s = job->hook->moved(job->hook->context, p.op, p.start, p.len);
    lk.lock();
    const uint64_t at = uint64_t(p.op) << 32 | p.start;
    if (!s.ok() && at < job->error_at) {
      job->error_at = at;
      job->error = std::move(s);
    }
    if (--job->unfinished == 0) done_cv_.notify_all();
  }
  // After an error the pieces not handed out are dropped: nothing will move them.
  if (job->next < job->pieces.size()) {
    job->unfinished -= job->pieces.size() - job->next;
    job->next = job->pieces.size();
    jobs_.erase(std::find(jobs_.begin(), jobs_.end(), job));
    if (job->unfinished == 0) done_cv_.notify_all();
  }
}

void CopyPool::HelperLoop() {
  std::unique_lock lk(mu_);
  for (;;) {
    work_cv_.wait(lk, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    Work(jobs_.front(), lk);
  }
}

Status CopyPool::Run(const PosixRequest& req, uint64_t read_piece, const PieceHook* hook) {
  Job job;
  job.req = &req;
  job.hook = hook;
  // Pieces of a write are whole ops (max_request_size, at most 1 GiB, fits 32 bits).
  const uint64_t piece = req.write ? UINT32_MAX : std::max<uint64_t>(read_piece, 4096);
  for (uint32_t i = 0; i < req.ops.size(); ++i) {
    const IoOp& op = req.ops[i];
    for (uint64_t start = 0; start < op.len; start += piece)
      job.pieces.push_back(
          {i, uint32_t(start), uint32_t(std::min<uint64_t>(piece, op.len - start))});
  }
  job.unfinished = job.pieces.size();
  if (job.pieces.empty()) return Status::Ok();
  std::unique_lock lk(mu_);
  if (helpers_ > 0 && job.pieces.size() > 1) {
    StartHelpersLocked();
    jobs_.push_back(&job);
    work_cv_.notify_all();
  } else {
    jobs_.push_back(&job);  // Work takes it off again
  }
  Work(&job, lk);
  done_cv_.wait(lk, [&] { return job.unfinished == 0; });
  return job.error;
}

}  // namespace ferry::posix
