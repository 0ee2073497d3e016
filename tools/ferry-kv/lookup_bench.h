// Lookup latency of a long prompt (32k tokens = 128 chunks of 256), every chunk stored,
// measured two ways: the same prompt looked up again and again (a scheduler re-checking a
// waiting request; the engine's key memo serves the keys), and the prompt's first lookup
// (its keys hashed from the tokens), made cold by looking other prompts up in between.
#pragma once

#include <string>

#include "ferry/kv/config.h"

namespace ferry_kv {

struct LookupBench {
  double p50_us = 0, p99_us = 0;              // repeated lookups
  double first_p50_us = 0, first_p99_us = 0;  // first lookups
  uint64_t chunks = 0;
  std::string error;
};

// Uses a tiny geometry (lookup cost does not depend on chunk bytes) in a scratch pool
// under `config.nixl_path`, removed afterwards.
LookupBench RunLookupBench(const ferry::kv::Config& config, uint32_t prompt_tokens);

}  // namespace ferry_kv
