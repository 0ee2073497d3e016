#include "device_memory.h"

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <cinttypes>
#include <cstdio>
#include <limits>
#include <mutex>
#include <string>

namespace ferry::cuda {
namespace {

std::string Hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%" PRIx64, v);
  return b;
}

std::string Range(uint64_t addr, uint64_t len) {
  return "[" + Hex(addr) + ", " + Hex(addr + len) + ")";
}

Status DeviceIdStatus(uint64_t dev_id) {
  std::string why;
  const int n = DeviceCount(&why);
  if (n == 0) return Unsupported("VRAM on GPU " + std::to_string(dev_id) + ": " + why);
  if (dev_id >= uint64_t(n))
    return InvalidArgument("GPU " + std::to_string(dev_id) + " does not exist (this process sees " +
                           std::to_string(n) + (n == 1 ? " GPU)" : " GPUs)"));
  return Status::Ok();
}

// cuMemGetAddressRange through the runtime's driver entry points, so that nothing links
// libcuda itself (a machine without a driver still loads every plugin).
using GetAddressRangeFn = CUresult (*)(CUdeviceptr*, size_t*, CUdeviceptr);
GetAddressRangeFn AddressRangeFn() {
  static GetAddressRangeFn fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q{};
    if (cudaGetDriverEntryPointByVersion("cuMemGetAddressRange", &p, 12000, cudaEnableDefault,
                                         &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
      p = nullptr;
    return reinterpret_cast<GetAddressRangeFn>(p);
  }();
  return fn;
}

}  // namespace

ScopedDevice::ScopedDevice(uint64_t dev) {
  if (dev > uint64_t(std::numeric_limits<int>::max())) {
    status_ = InvalidArgument("GPU " + std::to_string(dev) + " does not exist");
    return;
  }
  if (cudaGetDevice(&prev_) != cudaSuccess) {
    (void)cudaGetLastError();
    prev_ = -1;
  }
  if (prev_ == int(dev)) return;
  const cudaError_t e = cudaSetDevice(int(dev));
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    status_ = Internal("making GPU " + std::to_string(dev) + " current: " + CudaErrorText(e));
    prev_ = -1;
  }
}

ScopedDevice::~ScopedDevice() {
  if (prev_ >= 0 && status_.ok()) (void)cudaSetDevice(prev_);
}

std::string CudaErrorText(int err) {
  const auto e = static_cast<cudaError_t>(err);
  return std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")";
}

namespace {
// Initial-exec: this code runs inside dlopen'ed plugins, where a dynamic TLS block is what
// GCC 12's ThreadSanitizer failed to map (an int fits glibc's static TLS surplus).
__attribute__((tls_model("initial-exec"))) thread_local int t_current = -1;
}  // namespace

bool MakeCurrent(int dev, std::string* why) {
  if (t_current == dev) return true;
  const cudaError_t e = cudaSetDevice(dev);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    *why = "making GPU " + std::to_string(dev) + " current: " + CudaErrorText(e);
    t_current = -1;
    return false;
  }
  t_current = dev;
  return true;
}

int DeviceCount(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // not sticky, but clear it for the caller's own checks
    if (why) {
      *why = "no usable GPU: cudaGetDeviceCount: " + CudaErrorText(e);
      if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice)
        *why += "; is there a GPU, and is the NVIDIA driver installed?";
    }
    return 0;
  }
  if (n == 0 && why) *why = "no usable GPU: the CUDA driver reports none";
  return n;
}

Status CheckDeviceRange(uint64_t addr, uint64_t len, uint64_t dev_id) {
  Status s = DeviceIdStatus(dev_id);
  if (!s.ok()) return s;
  if (len == 0) return InvalidArgument("VRAM region at " + Hex(addr) + " has length 0");
  if (addr > std::numeric_limits<uint64_t>::max() - len)
    return InvalidArgument("VRAM region at " + Hex(addr) + ": address + length overflows");
  const std::string what = "VRAM region " + Range(addr, len) + " on GPU " + std::to_string(dev_id);
  cudaPointerAttributes attr{};
  const cudaError_t e = cudaPointerGetAttributes(&attr, reinterpret_cast<const void*>(addr));
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return InvalidArgument(what + ": not a CUDA pointer: " + CudaErrorText(e));
  }
  switch (attr.type) {
    case cudaMemoryTypeDevice:
      break;
    case cudaMemoryTypeManaged:
      return InvalidArgument(what +
                             " is managed (unified) memory; register device memory from "
                             "cudaMalloc or a framework's allocator");
    case cudaMemoryTypeHost:
      return InvalidArgument(what + " is pinned host memory; register it as DRAM");
    default:
      return InvalidArgument(what + " is host memory, not device memory; register it as DRAM");
  }
  if (attr.device != int(dev_id))
    return InvalidArgument(what + " is memory of GPU " + std::to_string(attr.device) +
                           ", not GPU " + std::to_string(dev_id));
  GetAddressRangeFn range = AddressRangeFn();
  if (range == nullptr) return Status::Ok();  // an old driver: the type check must do
  ScopedDevice scope(dev_id);
  if (!scope.status().ok()) return scope.status();
  CUdeviceptr base = 0;
  size_t size = 0;
  if (range(&base, &size, CUdeviceptr(addr)) != CUDA_SUCCESS)
    return InvalidArgument(what + ": the driver knows no allocation at " + Hex(addr));
  if (addr + len > uint64_t(base) + size)
    return InvalidArgument(what + " runs " + std::to_string(addr + len - (uint64_t(base) + size)) +
                           " bytes past the end of its allocation " + Range(base, size));
  return Status::Ok();
}

Status AllocDevice(uint64_t len, uint64_t dev_id, void** out) {
  Status s = DeviceIdStatus(dev_id);
  if (!s.ok()) return s;
  ScopedDevice scope(dev_id);
  if (!scope.status().ok()) return scope.status();
  const cudaError_t e = cudaMalloc(out, len);
  if (e == cudaSuccess) return Status::Ok();
  (void)cudaGetLastError();
  const std::string m = "cudaMalloc of " + std::to_string(len) + " bytes on GPU " +
                        std::to_string(dev_id) + ": " + CudaErrorText(e);
  return e == cudaErrorMemoryAllocation ? Status(Code::kNoSpace, m) : Internal(m);
}

void FreeDevice(void* ptr, uint64_t dev_id) {
  ScopedDevice scope(dev_id);
  (void)cudaFree(ptr);
}

Status AllocPinned(uint64_t len, void** out) {
  std::string why;
  if (DeviceCount(&why) == 0) return Unsupported("pinned host memory: " + why);
  const cudaError_t e = cudaHostAlloc(out, len, cudaHostAllocPortable | cudaHostAllocMapped);
  if (e == cudaSuccess) return Status::Ok();
  (void)cudaGetLastError();
  const std::string m =
      "cudaHostAlloc of " + std::to_string(len) + " pinned bytes: " + CudaErrorText(e);
  return e == cudaErrorMemoryAllocation ? Status(Code::kNoSpace, m) : Internal(m);
}

void FreePinned(void* ptr) {
  (void)cudaFreeHost(ptr);
}

}  // namespace ferry::cuda
