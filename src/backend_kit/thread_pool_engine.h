// An IoEngine made of worker threads that each run one op at a time with a synchronous
// call the backend supplies (pread/pwrite for POSIX, cuFileRead/cuFileWrite for GDS_MT).
// The queue is FIFO, and the worker woken for an op is the one idle for the shortest time;
// an op of a cancelled request is reported -ECANCELED unrun; -EAGAIN from the call puts the
// op back at the end of the queue.
#pragma once

#include <memory>
#include <string>

#include "io_engine.h"

namespace ferry::kit {

struct ThreadPoolCalls {
  // Moves the op's remainder (buf + done, off + done, len - done): bytes, or -errno.
  // `worker` is the calling thread's state from start_worker (null without one).
  int64_t (*run)(const IoOp& op, void* worker);
  // Text of a backend's own error number, as IoEngine::DescribeError; may be null.
  std::string (*describe)(int err) = nullptr;
  // Optional per-thread state (a bounce buffer, say): made by each worker as it starts,
  // with `context`, and destroyed by it as it stops.
  void* (*start_worker)(void* context) = nullptr;
  void (*stop_worker)(void* worker) = nullptr;
  void* context = nullptr;
};

// nullptr with *error set when `threads` is 0.
std::unique_ptr<IoEngine> MakeThreadPoolEngine(IoSink* sink, unsigned threads,
                                               ThreadPoolCalls calls, const char* name,
                                               std::string* error);

}  // namespace ferry::kit
