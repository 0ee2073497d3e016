// Lookup latency of a long prompt (32k tokens = 128 chunks of 256), every chunk stored,
// measured two ways: the same prompt looked up again and again, as a scheduler re-checks a
// waiting request (the engine's key memo serves the keys), and with the memo off, so that
// every lookup hashes the tokens, which is what a prompt's first lookup costs.
//
// Baseline, same run: Engine::Keys of the same tokens (the same key hashing, no index and
// no lock), timed alternately with the hashed lookups. The lookup's p50 against it is what
// the index costs; its p99 shows how much of the lookup's p99 is the machine (a VM that
// stops a vCPU for 5-20 us about once a millisecond puts that into the p99 of any
// operation of ~10 us, hashing alone included).
#pragma once

#include <string>

#include "ferry/kv/config.h"

namespace ferry_kv {

struct Latency {
  double p50_us = 0, p99_us = 0;
};

struct LookupBench {
  Latency repeated;   // key memo on
  Latency hashed;     // key memo off
  Latency keys_only;  // the keys alone (baseline)
  uint64_t chunks = 0;
  std::string error;
};

// Uses a tiny geometry (lookup cost does not depend on chunk bytes) in a scratch pool
// under `config.nixl_path`, removed afterwards.
LookupBench RunLookupBench(const ferry::kv::Config& config, uint32_t prompt_tokens);

}  // namespace ferry_kv
