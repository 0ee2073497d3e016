// The process's cuFile driver and the wording of cuFile's errors, shared by GDS and GDS_MT.
//
// cuFile has one driver per process. The first backend to need it opens it; it then stays
// open until the process exits (cuFile closes it at exit), so creating and destroying
// backends repeatedly pays the open once and never races a close against another backend's
// I/O. Thread safety: every function may be called from any thread.
#pragma once

#include <cufile.h>

#include <string>
#include <string_view>

#include "ferry/status.h"

namespace ferry::gds {

// Opens the driver unless this process already has. Fails with kUnsupported when the
// process sees no GPU, and otherwise with cuFile's own words.
Status OpenCufileDriver();

// Whether cuFile runs in its compatibility mode for every file here: no nvidia-fs kernel
// module, or cufile.json's force_compat_mode (cuFile then moves O_DIRECT I/O with POSIX
// calls of its own, batches included). A file on a filesystem GDS does not support can
// still be in compatibility mode where this says false.
bool CufileCompatMode();

// "file descriptor is not registered (cuFile 5027)"; an errno's text for numbers below
// cuFile's range.
std::string CufileErrorText(int err);

// CufileErrorText for cuFile's own numbers (above CUFILEOP_BASE_ERR), "" for an errno:
// what IoEngine::DescribeError answers.
std::string CufileOwnErrorText(int err);

// `what` failed with `e`: kUnsupported for "not on this platform/file/GPU" answers,
// kInvalidArgument for a bad pointer or range, kIoError for the rest.
Status CufileStatus(const CUfileError_t& e, std::string_view what);

}  // namespace ferry::gds
