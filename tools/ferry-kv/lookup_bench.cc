// Lookup latency micro-benchmark; see lookup_bench.h.
#include "lookup_bench.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "ferry/kv/engine.h"
#include "workload.h"

namespace ferry_kv {
namespace {

using Clock = std::chrono::steady_clock;
volatile uint64_t g_sink;  // keeps the baseline's keys from being optimized away

double Micros(Clock::time_point t0, Clock::time_point t1) {
  return std::chrono::duration<double, std::micro>(t1 - t0).count();
}

Latency Summarize(const std::vector<double>& us) {
  return {Percentile(us, 50), Percentile(us, 99)};
}

// 2000 timed lookups of `tokens` after 200 untimed ones (those fault in code and index
// pages: start-up cost, not the steady state the target is about). With `keys_only`, each
// lookup is followed by one timed Engine::Keys of the same tokens, so both see the same
// machine. Empty on success.
std::string TimeLookups(ferry::kv::Engine& e, const std::vector<int32_t>& tokens, Latency* lookups,
                        Latency* keys_only = nullptr) {
  for (int i = 0; i < 200; ++i) (void)e.Lookup(tokens);
  std::vector<double> us, keys_us;
  us.reserve(2000);
  keys_us.reserve(2000);
  std::string error;
  uint64_t sink = 0;
  for (int i = 0; i < 2000; ++i) {
    const auto t0 = Clock::now();
    const uint64_t hit = e.Lookup(tokens);
    const auto t1 = Clock::now();
    us.push_back(Micros(t0, t1));
    if (hit != tokens.size()) error = "lookup bench: partial hit";
    if (keys_only != nullptr) {
      const auto t2 = Clock::now();
      sink += e.Keys(tokens).back().lo;
      keys_us.push_back(Micros(t2, Clock::now()));
    }
  }
  *lookups = Summarize(us);
  if (keys_only != nullptr) *keys_only = Summarize(keys_us);
  g_sink = sink;
  return error;
}

}  // namespace

LookupBench RunLookupBench(const ferry::kv::Config& base, uint32_t prompt_tokens) {
  LookupBench out;
  ferry::kv::Config c = base;
  // A fresh directory of our own (mkdtemp creates it, and fails rather than reuse a name),
  // so nothing planted under a fixed name can redirect the scratch pool.
  // It times the in-memory index: with an object store it runs on POSIX in $TMPDIR.
  std::string dir = base.nixl_path;
  if (!base.IsFileBackend()) {
    const char* tmp = std::getenv("TMPDIR");
    dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    c.nixl_backend = "POSIX";
  }
  std::string scratch = dir + "/ferry-kv.lookup-bench.XXXXXX";
  if (::mkdtemp(scratch.data()) == nullptr) {
    out.error =
        "creating the lookup benchmark's scratch directory in " + dir + ": " + std::strerror(errno);
    return out;
  }
  c.nixl_path = scratch;
  c.nixl_pool_size = prompt_tokens / static_cast<uint32_t>(base.chunk_size) + 1;
  c.nixl_backend_params.clear();
  c.use_direct_io = false;
  c.nixl_buffer_device = "cpu";  // its stand-in KV is host memory, whatever the run's device
  ferry::kv::EngineOptions o;
  o.model.model_name = "ferry-kv-lookup-bench";
  o.geometry = {1, 1, 8, ferry::kv::DType::kFp8, false};  // K and V: 16 bytes per token
  const uint64_t per_token = o.geometry.BytesPerToken();
  c.nixl_buffer_size = 16 * (4096 + 4096 * ((per_token * c.chunk_size + 4095) / 4096));
  std::vector<int32_t> tokens(prompt_tokens);
  for (uint32_t i = 0; i < prompt_tokens; ++i)
    tokens[i] = static_cast<int32_t>(i * 2654435761u % 128000);
  // First engine: stores the prompt, then looks it up again and again (key memo on).
  // Second engine, memo off, on the same pool (it recovers the chunks): every lookup hashes.
  for (bool memo : {true, false}) {
    o.lookup_key_memo = memo;
    std::unique_ptr<ferry::kv::Engine> e;
    ferry::Status s = ferry::kv::Engine::Create(c, o, &e);
    if (s.ok() && memo) {
      std::vector<uint8_t> kv(tokens.size() * per_token, 7);
      s = e->Store(tokens, ferry::kv::KvLayout::Contiguous(kv.data(), tokens.size()));
    }
    if (!s.ok()) {
      out.error = s.ToString();
      break;
    }
    out.error = memo ? TimeLookups(*e, tokens, &out.repeated)
                     : TimeLookups(*e, tokens, &out.hashed, &out.keys_only);
    if (!out.error.empty()) break;
  }
  out.chunks = tokens.size() / c.chunk_size;
  std::error_code ec;
  std::filesystem::remove_all(c.nixl_path, ec);
  return out;
}

}  // namespace ferry_kv
