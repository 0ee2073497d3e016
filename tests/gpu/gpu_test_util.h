// What the GPU tests share: skipping without a GPU, device buffers, and checks that copy
// device memory back to the host independently of Ferry.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "device_memory.h"
#include "integration/test_util.h"

namespace ferry::test {

// Skips the calling test (reported as skipped, never passed) on a machine without a GPU.
#define FERRY_REQUIRE_GPU()                                                  \
  do {                                                                       \
    std::string ferry_why_;                                                  \
    if (::ferry::cuda::DeviceCount(&ferry_why_) == 0)                        \
      GTEST_SKIP() << "GPU test on a machine without a GPU: " << ferry_why_; \
  } while (0)

// cuFile needs files on a block-device filesystem: $FERRY_GDS_TEST_DIR, else /var/tmp.
inline TempDir GdsTempDir() {
  const char* d = std::getenv("FERRY_GDS_TEST_DIR");
  return TempDir(TempDir::Under{d != nullptr && *d != '\0' ? d : "/var/tmp"});
}

// cudaMalloc'ed memory on GPU 0, freed on destruction.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t size) : size_(size) {
    if (cudaMalloc(&ptr_, size) != cudaSuccess) ptr_ = nullptr;
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  uint8_t* data() const { return static_cast<uint8_t*>(ptr_); }
  uint64_t addr() const { return reinterpret_cast<uint64_t>(ptr_); }
  size_t size() const { return size_; }

 private:
  void* ptr_ = nullptr;
  size_t size_;
};

// Returns once the bytes are in device memory: cudaMemcpy from pageable memory may return
// while its DMA is still running, and Ferry's copies run on streams that do not wait for
// the legacy default stream (its callers make their data ready first, as NIXL's do).
inline bool ToDevice(void* dst, const void* src, size_t len) {
  return cudaMemcpy(dst, src, len, cudaMemcpyHostToDevice) == cudaSuccess &&
         cudaDeviceSynchronize() == cudaSuccess;
}
inline std::vector<uint8_t> FromDevice(const void* src, size_t len) {
  std::vector<uint8_t> out(len);
  if (cudaMemcpy(out.data(), src, len, cudaMemcpyDeviceToHost) != cudaSuccess) out.clear();
  return out;
}

inline MemDesc VramDesc(const void* p, uint64_t len, uint64_t dev = 0) {
  MemDesc d;
  d.addr = reinterpret_cast<uint64_t>(p);
  d.len = len;
  d.dev_id = dev;
  return d;
}
inline XferDescList VramList(std::initializer_list<XferDesc> descs) {
  XferDescList l;
  l.kind = MemKind::kVram;
  l.descs = descs;
  return l;
}

}  // namespace ferry::test
