// Lookup latency micro-benchmark; see lookup_bench.h.
#include "lookup_bench.h"

#include <chrono>
#include <filesystem>
#include <vector>

#include "ferry/kv/engine.h"
#include "workload.h"

namespace ferry_kv {

LookupBench RunLookupBench(const ferry::kv::Config& base, uint32_t prompt_tokens) {
  LookupBench out;
  ferry::kv::Config c = base;
  c.nixl_path = base.nixl_path + "/ferry-kv.lookup-bench";
  c.nixl_pool_size = prompt_tokens / static_cast<uint32_t>(base.chunk_size) + 1;
  c.nixl_backend_params.clear();
  c.use_direct_io = false;
  ferry::kv::EngineOptions o;
  o.model.model_name = "ferry-kv-lookup-bench";
  o.geometry = {1, 1, 8, ferry::kv::DType::kFp8, false};  // K and V: 16 bytes per token
  const uint64_t per_token = o.geometry.BytesPerToken();
  c.nixl_buffer_size = 16 * (4096 + 4096 * ((per_token * c.chunk_size + 4095) / 4096));
  {
    std::unique_ptr<ferry::kv::Engine> e;
    ferry::Status s = ferry::kv::Engine::Create(c, o, &e);
    if (!s.ok()) {
      out.error = s.ToString();
      return out;
    }
    std::vector<int32_t> tokens(prompt_tokens);
    for (uint32_t i = 0; i < prompt_tokens; ++i)
      tokens[i] = static_cast<int32_t>(i * 2654435761u % 128000);
    std::vector<uint8_t> kv(tokens.size() * per_token, 7);
    s = e->Store(tokens, ferry::kv::KvLayout::Contiguous(kv.data(), tokens.size()));
    if (!s.ok()) {
      out.error = s.ToString();
      return out;
    }
    // Untimed warm-up: the first lookups after the store fault in code and index pages,
    // which is start-up cost, not the steady-state latency the target is about.
    for (int i = 0; i < 200; ++i) (void)e->Lookup(tokens);
    auto timed = [&](std::vector<double>* us) {
      const auto t0 = std::chrono::steady_clock::now();
      const uint64_t hit = e->Lookup(tokens);
      us->push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
      if (hit != tokens.size()) out.error = "lookup bench: partial hit";
    };
    std::vector<double> repeat, first;
    for (int i = 0; i < 2000; ++i) timed(&repeat);
    // First sight: 16 other prompts (more than the engine remembers) looked up in between
    // push this prompt's keys out of the memo. They are not stored, so each costs a few
    // chunks of hashing.
    std::vector<std::vector<int32_t>> others;
    for (int k = 0; k < 16; ++k) {
      std::vector<int32_t> o(8 * c.chunk_size);
      for (size_t i = 0; i < o.size(); ++i) o[i] = static_cast<int32_t>(1000000 + k * 7919 + i);
      others.push_back(std::move(o));
    }
    for (int i = 0; i < 2000; ++i) {
      for (const auto& o : others) (void)e->Lookup(o);
      timed(&first);
    }
    out.p50_us = Percentile(repeat, 50);
    out.p99_us = Percentile(repeat, 99);
    out.first_p50_us = Percentile(first, 50);
    out.first_p99_us = Percentile(first, 99);
    out.chunks = tokens.size() / c.chunk_size;
  }
  std::error_code ec;
  std::filesystem::remove_all(c.nixl_path, ec);
  return out;
}

}  // namespace ferry_kv
