// The shared I/O scheduler of file-like backends (POSIX, GDS, GDS_MT; HF3FS next): keeps at
// most `queue_depth` ops in the engine, queues the rest (backpressure, never failure),
// continues short I/O, stops a request at its first error or on cancel, and completes each
// request exactly once when its last op is back. A cancelled request completes kCancelled
// unless every byte moved; never kOk with bytes missing.
//
// Every request owns its state (IoRequest); the scheduler only links posted requests into
// a FIFO. One mutex guards that FIFO and the requests' counters; engines and sinks are
// called outside it. An engine may report results from inside Submit (an op it could not
// start): those are handled iteratively, so a long queue of such failures never deepens
// the stack.
#pragma once

#include <deque>
#include <mutex>
#include <vector>

#include "io_engine.h"

namespace ferry::kit {

class IoScheduler final : public IoSink {
 public:
  explicit IoScheduler(unsigned queue_depth) : queue_depth_(queue_depth) {}
  void set_engine(IoEngine* engine) { engine_ = engine; }

  // Resets `req` and submits as many of its ops as the queue allows.
  void Post(IoRequest* req, CompletionSink* sink);
  void Cancel(IoRequest* req);
  void OnResults(std::span<const IoResult> results) override;

  struct DispatchFrame;  // internal: a Dispatch running on this thread

 private:
  struct Finished {
    CompletionSink* sink;
    Status status;
  };
  // Moves ops from pending requests into `batch` while there is room.
  void FillLocked(std::vector<IoOp*>* batch);
  // Completes `req` if nothing of it is in flight and nothing more will be submitted.
  void MaybeFinishLocked(IoRequest* req, std::vector<Finished>* done);
  // An op's failure, worded by the engine when the number is its own.
  Status OpFailure(const IoOp& op, uint64_t done, int err) const;
  // Submits `batch`, then completes `done`. Results an engine reports from inside Submit
  // on this thread join the running Dispatch instead of nesting another.
  void Dispatch(std::vector<IoOp*>& batch, std::vector<Finished>& done);

  const unsigned queue_depth_;
  IoEngine* engine_ = nullptr;
  std::mutex mu_;
  unsigned inflight_ = 0;
  std::deque<IoRequest*> pending_;
};

}  // namespace ferry::kit
