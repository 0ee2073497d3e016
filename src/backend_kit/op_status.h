// How an op's failure reads as a Status. The scheduler and a backend's own paths (POSIX's
// inline I/O) both use these, so a failure reads the same whichever path moved the bytes.
#pragma once

#include <cstdint>
#include <string_view>

#include "io_types.h"

namespace ferry::kit {

// `done` is how many bytes of the op had moved when it failed.
Status OpErrnoStatus(const IoOp& op, uint64_t done, int err);  // the system call failed
Status OpEngineError(const IoOp& op, uint64_t done, std::string_view text);  // kIoError
Status OpNoProgress(const IoOp& op, uint64_t done);                          // it moved 0 bytes
Status OpPastEnd(const IoOp& op, uint64_t done);  // a read stopped at end of file

}  // namespace ferry::kit
