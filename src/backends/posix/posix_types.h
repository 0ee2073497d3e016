// Plain data shared by the POSIX backend's parts: what a registration resolves to, and the
// per-request state the scheduler drives. Engines see only IoOp.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "ferry/backend.h"

namespace ferry::posix {

// A registered DRAM region.
struct DramMd {
  uint64_t addr;
  uint64_t len;
  int buf_index = -1;  // io_uring fixed-buffer slot, -1 when not registered with the ring
};

// A registered FILE.
struct FileMd {
  int fd = -1;
  bool owned = false;  // opened by us (by path): closed at deregistration
  bool direct = false;
  uint32_t mem_align = 1;      // O_DIRECT buffer alignment
  uint32_t offset_align = 1;   // O_DIRECT offset/length alignment
  int fixed_index = -1;        // io_uring registered-file slot
  bool memory_backed = false;  // a regular file on tmpfs, ramfs or hugetlbfs
  std::string name;            // path, or "fd N", for messages
};

struct PosixRequest;

// One system-call-sized piece of a transfer. `done` counts bytes already moved, so a short
// read or write is continued from where it stopped.
struct IoOp {
  PosixRequest* req;
  const FileMd* file;
  uint64_t buf;  // start of the piece in memory
  uint64_t off;  // start of the piece in the file
  uint32_t len;
  uint32_t done = 0;
  int buf_index;  // fixed-buffer slot of the memory, or -1
  uint32_t desc_index;
  uint8_t kernel_cancels = 0;  // times the kernel cancelled it unrun (scheduler's)
  uint64_t engine_tag = 0;     // free for the engine (e.g. an iocb slot)
};

struct PosixRequest final : BackendRequest {
  bool write = false;
  bool run_inline = false;  // fixed at Prepare: Post moves the data itself (inline_io.h)
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

}  // namespace ferry::posix
