// The multi-turn chat workload `ferry-kv run` replays, and what it measures.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ferry/kv/engine.h"

namespace ferry_kv {

struct ModelPreset {
  std::string name;
  ferry::kv::KvGeometry geometry;
};
// "llama-3.1-8b" (32 layers, 8 KV heads, head 128, bf16) or "small"; false if unknown.
bool FindPreset(const std::string& name, ModelPreset* out);

// --device cuda: the caller window's copy in GPU memory, which the engine reads and writes;
// the workload fills and checks the host window and copies it across outside the timed
// calls (gpu_window.h).
struct GpuWindow {
  uint8_t* device = nullptr;  // window-sized, on GPU `ordinal`
  uint32_t ordinal = 0;
  std::function<bool(uint8_t*dst, const uint8_t*src, uint64_t n)> upload, download;
};

struct WorkloadOptions {
  ferry::kv::KvGeometry geometry;  // the engine's
  uint32_t chunk_size = 256;
  uint32_t users = 6;           // conversations
  uint32_t turns = 4;           // turns per conversation
  uint32_t system_prompts = 2;  // shared system prompts
  uint32_t system_tokens = 1024;
  uint32_t user_tokens = 300;   // new user message per turn
  uint32_t reply_tokens = 200;  // assistant reply appended after each turn
  uint32_t returning = 2;       // users who come back for a last turn at the end
  uint32_t window_chunks = 4;   // caller KV memory, in chunks, shared by a step's requests
  // Requests per scheduler step, as a serving engine batches them: looked up, loaded with
  // one BatchedRetrieve and stored with one BatchedStore per round (at most window_chunks).
  uint32_t batch = 4;
  uint64_t seed = 1;
  bool progress = false;     // progress bar on stderr
  GpuWindow* gpu = nullptr;  // null: the window is host memory
};

struct RunResult {
  uint64_t requests = 0;
  uint64_t prompt_tokens = 0, hit_tokens = 0;
  uint64_t chunks = 0, chunk_hits = 0;
  uint64_t bytes_stored = 0, bytes_loaded = 0;
  double store_seconds = 0, load_seconds = 0;
  std::vector<double> lookup_us;
  uint64_t verified_bytes = 0, mismatched_chunks = 0;
  uint64_t store_failures = 0;
  uint64_t gpu_copy_failures = 0;  // window copies to or from the GPU that failed
  std::string first_error;
  double wall_seconds = 0;
};

// Replays the workload on `engine`.
RunResult RunWorkload(ferry::kv::Engine& engine, const WorkloadOptions& options);

// p-th percentile (0..100) of `v` (tools/common/percentile.h's rule); 0 for no samples.
double Percentile(std::vector<double> v, double p);

}  // namespace ferry_kv
