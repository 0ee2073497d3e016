// The inline path: small buffered requests on memory-backed files (tmpfs, ramfs,
// hugetlbfs) run on the posting thread, as preadv/pwritev, before Post returns.
//
// Why: such a file has no device to wait for, so the I/O is a memory copy. io_uring cannot
// do it without blocking either: these filesystems do not support IOCB_NOWAIT, so the ring
// hands every such I/O to a kernel worker thread, whose completion then has to reach the
// waiting client. At 4 KiB those hand-offs cost more than the copy.
// Runs of ops that are contiguous in one file become one vectored system call.
//
// The cost is that Post copies up to `inline_max` bytes itself; larger requests, O_DIRECT
// files and files on any other filesystem take the asynchronous path.
#pragma once

#include <cstdint>

#include "posix_types.h"

namespace ferry::posix {

// True when every op of `req` is buffered I/O on a memory-backed regular file and all of
// them together move at most `limit` bytes.
bool CanRunInline(const PosixRequest& req, uint64_t limit);

// Moves every op of `req` on this thread, continuing short transfers; returns OK or the
// first error (same words as the scheduler's). Touches no scheduler state.
Status RunInline(const PosixRequest& req);

}  // namespace ferry::posix
