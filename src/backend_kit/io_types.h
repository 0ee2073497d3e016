// What the shared I/O scheduler drives: requests made of system-call-sized ops against
// file-like targets. A backend derives its own request and file types from these (adding
// an fd, a cuFile handle, a 3FS ring) and hands the scheduler plain IoOps.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "ferry/backend.h"

namespace ferry::kit {

// What the scheduler and its messages need of an op's target.
struct IoFile {
  std::string name;     // path, or "fd N", for messages
  bool direct = false;  // O_DIRECT: a short read means end of file, not "continue"
};

struct IoRequest;

// One system-call-sized piece of a transfer. `done` counts bytes already moved, so a short
// read or write is continued from where it stopped.
struct IoOp {
  IoRequest* req;
  const IoFile* file;
  uint64_t buf;  // start of the piece in memory
  uint64_t off;  // start of the piece in the file
  uint32_t len;
  uint32_t done = 0;
  int buf_index;  // the engine's registered-buffer slot of the memory, or -1
  uint32_t desc_index;
  uint8_t kernel_cancels = 0;  // times the kernel cancelled it unrun (scheduler's)
  uint64_t engine_tag = 0;     // free for the engine (e.g. an iocb slot)
};

struct IoRequest : BackendRequest {
  bool write = false;
  std::vector<IoOp> ops;
  // Scheduler state, guarded by the scheduler's mutex.
  size_t next = 0;        // first op not yet submitted
  uint32_t inflight = 0;  // ops in an engine
  bool queued = false;    // in the scheduler's pending list
  bool active = false;    // posted and not yet completed
  Status error;           // first error
  CompletionSink* sink = nullptr;
  // Read by engines without the lock to skip work for a cancelled request.
  std::atomic<bool> cancelled{false};
};

}  // namespace ferry::kit
