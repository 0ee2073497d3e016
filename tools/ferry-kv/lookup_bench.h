// Lookup latency of a long prompt (32k tokens = 128 chunks of 256), every chunk stored.
#pragma once

#include <string>

#include "ferry/kv/config.h"

namespace ferry_kv {

struct LookupBench {
  double p50_us = 0, p99_us = 0;
  uint64_t chunks = 0;
  std::string error;
};

// Uses a tiny geometry (lookup cost does not depend on chunk bytes) in a scratch pool
// under `config.nixl_path`, removed afterwards.
LookupBench RunLookupBench(const ferry::kv::Config& config, uint32_t prompt_tokens);

}  // namespace ferry_kv
