// A build without CUDA: nixl_buffer_device cuda is refused by name.
#include "device_codec.h"

namespace ferry::kv {

Status OpenDeviceCodec(uint32_t, uint32_t, uint64_t, uint32_t, std::unique_ptr<DeviceCodec>*) {
  return Unsupported(
      "nixl_buffer_device 'cuda': this Ferry was built without CUDA (configure with the CUDA "
      "toolkit installed, or -DFERRY_CUDA=ON); use 'cpu'");
}

}  // namespace ferry::kv
