// A build without CUDA: --device cuda is refused by name.
#include "gpu_window.h"

namespace ferry_kv {

std::shared_ptr<GpuWindow> OpenGpuWindow(uint64_t, uint32_t, std::string* why) {
  *why = "--device cuda: this ferry-kv was built without CUDA";
  return nullptr;
}

}  // namespace ferry_kv
