// --device cuda for `ferry-kv run`: the caller window in GPU memory (a stand-in for a
// server's KV tensors). Built with CUDA only; elsewhere OpenGpuWindow says so.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "workload.h"

namespace ferry_kv {

// `len` bytes on GPU `ordinal`, freed with the returned handle; null with `why` set when
// there is no such GPU (or no CUDA in this build).
std::shared_ptr<GpuWindow> OpenGpuWindow(uint64_t len, uint32_t ordinal, std::string* why);

}  // namespace ferry_kv
