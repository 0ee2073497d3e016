// Plain data shared by the POSIX backend's parts: what a registration resolves to, and its
// request type. The scheduler (backend_kit) sees IoRequest/IoOp/IoFile; POSIX engines
// reach the fd through FileOf.
#pragma once

#include <cstdint>
#include <string>

#include "ferry/backend.h"
#include "file_table.h"
#include "io_engine.h"
#include "io_types.h"

namespace ferry::posix {

using kit::IoEngine;
using kit::IoOp;
using kit::IoResult;
using kit::IoSink;

// A registered DRAM region.
struct DramMd {
  uint64_t addr;
  uint64_t len;
  int buf_index = -1;  // io_uring fixed-buffer slot, -1 when not registered with the ring
};

// A registered VRAM region (POSIX built with CUDA): staged through pinned buffers.
struct VramMd {
  uint64_t addr;
  uint64_t len;
  int device;
};

// A registered FILE: what the kit opened, plus the io_uring registered-file slot.
struct FileMd : kit::OpenFile {
  int fixed_index = -1;
};

inline const FileMd& FileOf(const IoOp& op) {
  return static_cast<const FileMd&>(*op.file);
}

struct PosixRequest final : kit::IoRequest {
  bool run_inline = false;   // fixed at Prepare: Post moves the data itself (inline_io.h)
  bool split = false;        // ... an inline request that the copy pool splits (copy_pool.h)
  bool vram = false;         // local memory is VRAM: the staging engine's (vram_engine.cc)
  bool stage_whole = false;  // ... an inline VRAM read that RunVramInlineRead takes
};

}  // namespace ferry::posix
