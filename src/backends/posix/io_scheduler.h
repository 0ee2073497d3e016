// The POSIX backend's scheduler: keeps at most `queue_depth` ops in the engine, queues the
// rest (backpressure, never failure), continues short I/O, stops a request at its first
// error or on cancel, and completes each request exactly once when its last op is back.
//
// Every request owns its state (PosixRequest); the scheduler only links posted requests
// into a FIFO. One mutex guards that FIFO and the requests' counters; engines and sinks are
// called outside it.
#pragma once

#include <deque>
#include <mutex>
#include <vector>

#include "io_engine.h"

namespace ferry::posix {

class IoScheduler final : public IoSink {
 public:
  explicit IoScheduler(unsigned queue_depth) : queue_depth_(queue_depth) {}
  void set_engine(IoEngine* engine) { engine_ = engine; }

  // Resets `req` and submits as many of its ops as the queue allows.
  void Post(PosixRequest* req, CompletionSink* sink);
  void Cancel(PosixRequest* req);
  void OnResults(std::span<const IoResult> results) override;

 private:
  struct Finished {
    CompletionSink* sink;
    Status status;
  };
  // Moves ops from pending requests into `batch` while there is room.
  void FillLocked(std::vector<IoOp*>* batch);
  // Completes `req` if nothing of it is in flight and nothing more will be submitted.
  void MaybeFinishLocked(PosixRequest* req, std::vector<Finished>* done);
  void Dispatch(std::vector<IoOp*>& batch, std::vector<Finished>& done);

  const unsigned queue_depth_;
  IoEngine* engine_ = nullptr;
  std::mutex mu_;
  unsigned inflight_ = 0;
  std::deque<PosixRequest*> pending_;
};

}  // namespace ferry::posix
