#include "io_scheduler.h"

#include <algorithm>
#include <cerrno>
#include <string>

#include "op_status.h"

namespace ferry::kit {
namespace {
// Resubmissions of one op that the kernel cancelled (see OnResults) before it is an error.
constexpr uint8_t kMaxKernelCancels = 64;
}  // namespace

void IoScheduler::Post(IoRequest* req, CompletionSink* sink) {
  std::vector<IoOp*> batch;
  std::vector<Finished> done;
  {
    std::lock_guard lk(mu_);
    req->next = 0;
    req->inflight = 0;
    req->error = Status::Ok();
    req->cancelled.store(false, std::memory_order_relaxed);
    req->sink = sink;
    req->active = true;
    for (auto& op : req->ops) op.done = op.kernel_cancels = 0;
    req->queued = true;
    pending_.push_back(req);
    FillLocked(&batch);
  }
  Dispatch(batch, done);
}

void IoScheduler::Cancel(IoRequest* req) {
  std::vector<IoOp*> batch;
  std::vector<Finished> done;
  {
    std::lock_guard lk(mu_);
    if (!req->active) return;
    req->cancelled.store(true, std::memory_order_relaxed);
    MaybeFinishLocked(req, &done);
  }
  Dispatch(batch, done);
}

void IoScheduler::FillLocked(std::vector<IoOp*>* batch) {
  while (inflight_ < queue_depth_ && !pending_.empty()) {
    IoRequest* r = pending_.front();
    while (inflight_ < queue_depth_ && r->next < r->ops.size()) {
      batch->push_back(&r->ops[r->next++]);
      r->inflight++;
      inflight_++;
    }
    if (r->next == r->ops.size()) {
      pending_.pop_front();
      r->queued = false;
    }
  }
}

void IoScheduler::MaybeFinishLocked(IoRequest* req, std::vector<Finished>* done) {
  const bool stopping = !req->error.ok() || req->cancelled.load(std::memory_order_relaxed);
  if (stopping && req->queued) {
    pending_.erase(std::find(pending_.begin(), pending_.end(), req));
    req->queued = false;
  }
  if (req->inflight > 0 || req->queued || !req->active) return;
  if (!stopping && req->next < req->ops.size()) return;
  req->active = false;
  Status s = req->error;
  if (s.ok() && req->next < req->ops.size()) s = {Code::kCancelled, "transfer cancelled"};
  done->push_back({req->sink, std::move(s)});
}

Status IoScheduler::OpFailure(const IoOp& op, uint64_t done, int err) const {
  const std::string text = engine_->DescribeError(err);
  return text.empty() ? OpErrnoStatus(op, done, err) : OpEngineError(op, done, text);
}

void IoScheduler::OnResults(std::span<const IoResult> results) {
  std::vector<IoOp*> batch;
  std::vector<Finished> done;
  {
    std::lock_guard lk(mu_);
    for (const IoResult& r : results) {
      IoOp* op = r.op;
      IoRequest* req = op->req;
      bool resubmit = false;
      const bool user_cancelled = req->cancelled.load(std::memory_order_relaxed);
      if (r.res == -ECANCELED && !user_cancelled && req->error.ok() &&
          op->kernel_cancels < kMaxKernelCancels) {
        // The kernel dropped the op: io_uring cancels work queued by a thread that exits,
        // and any thread may have submitted this op. Submit it again (from op->done: a
        // positional read or write can be repeated).
        ++op->kernel_cancels;
        resubmit = true;
      } else if (r.res < 0) {
        // ECANCELED here is our own cancel (or the kernel's, too often): either way the
        // op's data did not move, so the request must not end OK.
        if (req->error.ok()) {
          req->error = r.res == -ECANCELED && user_cancelled
                           ? Status(Code::kCancelled, "transfer cancelled")
                           : OpFailure(*op, op->done, int(-r.res));
        }
      } else if (r.res == 0) {
        if (req->error.ok()) req->error = OpNoProgress(*op, op->done);
      } else {
        op->done += uint32_t(r.res);
        if (op->done < op->len) {
          // Short I/O. With O_DIRECT a short read means end of file: the remainder would
          // start at an unaligned offset and the kernel would refuse it.
          if (!req->write && op->file->direct) {
            if (req->error.ok()) req->error = OpPastEnd(*op, op->done);
          } else if (!user_cancelled) {
            if (req->error.ok()) resubmit = true;
          } else if (req->error.ok()) {
            // Cancelled with this op's bytes only partly moved: the request must not end
            // OK even if every op had already been submitted.
            req->error = {Code::kCancelled, "transfer cancelled"};
          }
        }
      }
      if (resubmit) {
        batch.push_back(op);  // keeps its queue slot
        continue;
      }
      req->inflight--;
      inflight_--;
      MaybeFinishLocked(req, &done);
    }
    FillLocked(&batch);
  }
  Dispatch(batch, done);
}

struct IoScheduler::DispatchFrame {
  const IoScheduler* owner;
  DispatchFrame* outer;
  std::vector<IoOp*> batch;
  std::vector<Finished> done;
};

namespace {
// Initial-exec: a plugin is dlopen'ed, and a dynamic TLS block there is what GCC 12's
// ThreadSanitizer failed to map shadow for (a pointer fits glibc's static TLS surplus).
__attribute__((tls_model("initial-exec"))) thread_local IoScheduler::DispatchFrame* t_frame =
    nullptr;
}  // namespace

void IoScheduler::Dispatch(std::vector<IoOp*>& batch, std::vector<Finished>& done) {
  if (t_frame != nullptr && t_frame->owner == this) {
    // Reported from inside our own engine's Submit: let the running Dispatch do it.
    t_frame->batch.insert(t_frame->batch.end(), batch.begin(), batch.end());
    for (auto& f : done) t_frame->done.push_back(std::move(f));
    return;
  }
  DispatchFrame frame{this, t_frame, {}, {}};
  t_frame = &frame;
  std::vector<IoOp*> next;
  while (!batch.empty()) {
    engine_->Submit(batch);
    next.swap(frame.batch);
    frame.batch.clear();
    batch.swap(next);
  }
  t_frame = frame.outer;
  // Last: once a sink is told, the request may be destroyed by its owner.
  for (auto& f : done) f.sink->Complete(std::move(f.status));
  for (auto& f : frame.done) f.sink->Complete(std::move(f.status));
}

}  // namespace ferry::kit
