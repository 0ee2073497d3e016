// The POSIX backend's I/O engines (backend_kit's IoEngine): io_uring, libaio, a thread pool.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "posix_types.h"
#ifdef FERRY_POSIX_VRAM
#include "bounce_stager.h"
#include "copy_pool.h"
#endif

namespace ferry::posix {

// Factories. On failure they return nullptr and set *error.
// `spin`: how long a driving waiter spins on the completion ring before it sleeps.
std::unique_ptr<IoEngine> MakeUringEngine(IoSink* sink, unsigned queue_depth, bool register_buffers,
                                          std::chrono::nanoseconds spin, std::string* error);
std::unique_ptr<IoEngine> MakeAioEngine(IoSink* sink, unsigned queue_depth,
                                        std::chrono::nanoseconds spin, std::string* error);
std::unique_ptr<IoEngine> MakeThreadEngine(IoSink* sink, unsigned threads, std::string* error);
#ifdef FERRY_POSIX_VRAM
// VRAM ops (IoOp::engine_tag = the GPU ordinal) staged through pinned buffers of
// `*bounce_size` bytes (two per thread; the pointee outlives the engine).
std::unique_ptr<IoEngine> MakeVramEngine(IoSink* sink, unsigned threads,
                                         const uint64_t* bounce_size, std::string* error);
// A small VRAM request moved on the posting thread with a stager lent to it: no hand-off
// to a staging thread and back, which costs more than the copy at a few MiB.
Status RunVramInline(PosixRequest& req, cuda::BounceStager* stager);
// Whether RunVramInlineRead can take `req`: a read from buffered files into one GPU's
// memory that fits a stager buffer of `chunk` bytes.
bool CanStageWhole(const PosixRequest& req, uint64_t chunk);
// Such a read with its file reads in parallel: `pool` reads every op into the stager's
// pinned buffer in pieces (laid out back to back, through `staged`, the caller's scratch
// request), and the thread that read a piece queues its copy to the GPU at once. Why: a
// pipelined read on one thread must read each chunk before its copy starts.
Status RunVramInlineRead(const PosixRequest& req, cuda::BounceStager* stager, CopyPool* pool,
                         PosixRequest* staged);
#endif

}  // namespace ferry::posix
