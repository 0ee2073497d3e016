// How an op's failure reads as a Status. The scheduler and the inline path both use these,
// so the same failure is reported in the same words whichever path moved the bytes.
#pragma once

#include <cstdint>

#include "posix_types.h"

namespace ferry::posix {

// `done` is how many bytes of the op had moved when it failed.
Status OpErrnoStatus(const IoOp& op, uint64_t done, int err);  // the system call failed
Status OpNoProgress(const IoOp& op, uint64_t done);            // it moved 0 bytes
Status OpPastEnd(const IoOp& op, uint64_t done);               // a read stopped at end of file

}  // namespace ferry::posix
