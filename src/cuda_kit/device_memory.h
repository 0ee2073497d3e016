// What every GPU-capable backend needs of the CUDA runtime: whether GPUs exist, what a
// pointer is, and device or pinned host allocations. The header includes no CUDA header,
// so code that must build without CUDA can still name these functions behind a check.
//
// Thread safety: every function may be called from any thread. Functions that work on a
// GPU make it current on the calling thread for the call and restore the caller's device.
#pragma once

#include <cstdint>
#include <string>

#include "ferry/status.h"

namespace ferry::cuda {

// GPUs this process can use; 0 when there is no driver or no GPU (never an error).
// `why`, when given, says why there are none.
int DeviceCount(std::string* why = nullptr);

// Checks that [addr, addr + len) is device memory of GPU `dev_id` and lies inside one
// allocation. Errors (kInvalidArgument) say what the pointer is instead: host memory,
// managed memory, memory of another GPU, or a range past the end of its allocation.
Status CheckDeviceRange(uint64_t addr, uint64_t len, uint64_t dev_id);

// cudaMalloc on GPU `dev_id`; kNoSpace when the GPU is out of memory.
Status AllocDevice(uint64_t len, uint64_t dev_id, void** out);
void FreeDevice(void* ptr, uint64_t dev_id);

// Page-locked host memory (cudaHostAlloc, portable and mapped): DMA-able by every GPU, and
// kernels may address it (cudaHostGetDevicePointer).
Status AllocPinned(uint64_t len, void** out);
void FreePinned(void* ptr);

// Makes GPU `dev` current on this thread when it is not already (a per-thread cache keeps
// the common case free of CUDA calls). For threads a backend owns only: the cache cannot
// see a caller's own cudaSetDevice. Returns false, with `why` set, when it cannot.
bool MakeCurrent(int dev, std::string* why);

// Makes GPU `dev` current for the scope and restores the caller's device after: for
// calls made on a caller's thread.
class ScopedDevice {
 public:
  explicit ScopedDevice(uint64_t dev);
  ~ScopedDevice();
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;
  // OK, or why the GPU could not be made current.
  const Status& status() const { return status_; }

 private:
  int prev_ = -1;
  Status status_;
};

// "cudaErrorInvalidValue (invalid argument)" for a cudaError_t value.
std::string CudaErrorText(int err);

}  // namespace ferry::cuda
