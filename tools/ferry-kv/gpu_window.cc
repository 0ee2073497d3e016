// OpenGpuWindow over the CUDA runtime (gpu_window_none.cc without CUDA).
#include "gpu_window.h"

#include <cuda_runtime_api.h>

namespace ferry_kv {

std::shared_ptr<GpuWindow> OpenGpuWindow(uint64_t len, uint32_t ordinal, std::string* why) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || static_cast<int64_t>(ordinal) >= count) {
    *why = "--device cuda: no GPU " + std::to_string(ordinal) + " (" +
           (err != cudaSuccess ? cudaGetErrorString(err) : std::to_string(count) + " GPUs") + ")";
    return nullptr;
  }
  void* p = nullptr;
  if (cudaSetDevice(static_cast<int>(ordinal)) != cudaSuccess ||
      (err = cudaMalloc(&p, len)) != cudaSuccess) {
    *why = "--device cuda: cannot allocate the " + std::to_string(len >> 20) +
           " MiB window on GPU " + std::to_string(ordinal) + ": " + cudaGetErrorString(err);
    return nullptr;
  }
  auto* w = new GpuWindow;
  w->device = static_cast<uint8_t*>(p);
  w->ordinal = ordinal;
  w->upload = [](uint8_t* dst, const uint8_t* src, uint64_t n) {
    return cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice) == cudaSuccess;
  };
  w->download = [](uint8_t* dst, const uint8_t* src, uint64_t n) {
    return cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost) == cudaSuccess;
  };
  return std::shared_ptr<GpuWindow>(w, [](GpuWindow* g) {
    cudaFree(g->device);
    delete g;
  });
}

}  // namespace ferry_kv
