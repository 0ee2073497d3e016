// Plain data shared by the GDS and GDS_MT backends' parts: what a registration resolves to
// and their request type. The scheduler (backend_kit) sees IoRequest/IoOp/IoFile; the
// cuFile engines reach the handle and the buffer through FileOf and MemOf.
#pragma once

#include <cufile.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "file_table.h"
#include "io_engine.h"
#include "io_types.h"

namespace ferry::gds {

using kit::IoEngine;
using kit::IoOp;
using kit::IoResult;
using kit::IoSink;

// A registered DRAM or VRAM region. cuFile is given `addr` as the buffer base and the op's
// distance from it as the buffer offset, which is what a cuFileBufRegister'ed buffer needs.
struct GpuMem {
  uint64_t addr;
  uint64_t len;
  int device;               // GPU ordinal; -1 for DRAM
  bool registered = false;  // cuFileBufRegister succeeded (else cuFile bounces internally)
};

// A registered FILE: what the kit opened, plus its cuFile handle.
struct GdsFile : kit::OpenFile {
  CUfileHandle_t handle = nullptr;
  int cufile_fd = -1;  // a second open of the file for cuFile, when `fd` carries O_NOFOLLOW
};

struct GdsRequest final : kit::IoRequest {
  std::vector<const GpuMem*> mem;  // per op, same index as ops
};

inline const GdsFile& FileOf(const IoOp& op) {
  return static_cast<const GdsFile&>(*op.file);
}
inline const GpuMem& MemOf(const IoOp& op) {
  const auto& req = static_cast<const GdsRequest&>(*op.req);
  return *req.mem[size_t(&op - req.ops.data())];
}

// GDS's engine: ops on O_DIRECT files go to cuFile's batch API from a pool of batch
// handles; ops on buffered files, which cuFile moves through the page cache in every mode,
// run as synchronous cuFile calls on `buffered_threads` threads (none: batch too), where
// they are faster. nullptr with *error set when the handles cannot be set up.
std::unique_ptr<IoEngine> MakeBatchEngine(IoSink* sink, unsigned batch_limit, unsigned pool_size,
                                          unsigned buffered_threads, std::string* error);

// GDS_MT's op: the remainder of `op` through synchronous cuFileRead/cuFileWrite on the
// calling thread (making the buffer's GPU current first): bytes, or -errno / -cuFile error.
int64_t RunCufileOp(const IoOp& op, void* worker);

}  // namespace ferry::gds
