// Multi-turn chat replay: shared system prompts, conversations growing turn by turn, some
// users returning. KV contents are a function of the chunk key, so every retrieved byte
// can be checked without keeping what was stored.
#include "workload.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

namespace ferry_kv {
namespace {

using Clock = std::chrono::steady_clock;
using ferry::kv::ChunkKey;
using ferry::kv::KvGeometry;
using ferry::kv::KvLayout;

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

uint64_t Mix(uint64_t x) {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ull;
  x ^= x >> 27;
  x *= 0x81dadef4bc2dd44dull;
  return x ^ (x >> 33);
}

// Chunk `key`'s payload word `w` (payload order: plane/layer, token, row).
inline uint64_t Word(const ChunkKey& key, uint64_t w) {
  return Mix(key.lo ^ Mix(key.hi + w));
}

// Visits the 2*layers runs of chunk bytes inside the window, in payload order.
template <typename F>
void ForRuns(const KvGeometry& g, uint8_t* window, uint64_t window_tokens, uint64_t row0,
             uint64_t n, F f) {
  const uint64_t run = n * g.RowBytes();
  for (uint64_t pl = 0; pl < uint64_t{g.planes()} * g.layers; ++pl) {
    f(window + (pl * window_tokens + row0) * g.RowBytes(), run, pl * run);
  }
}

void FillChunk(const KvGeometry& g, const ChunkKey& key, uint8_t* window, uint64_t wt,
               uint64_t row0, uint64_t n) {
  ForRuns(g, window, wt, row0, n, [&](uint8_t* p, uint64_t len, uint64_t off) {
    for (uint64_t i = 0; i < len; i += 8) {
      const uint64_t v = Word(key, (off + i) / 8);
      std::memcpy(p + i, &v, 8);
    }
  });
}

bool CheckChunk(const KvGeometry& g, const ChunkKey& key, uint8_t* window, uint64_t wt,
                uint64_t row0, uint64_t n) {
  bool ok = true;
  ForRuns(g, window, wt, row0, n, [&](uint8_t* p, uint64_t len, uint64_t off) {
    for (uint64_t i = 0; i < len && ok; i += 8) {
      uint64_t v;
      std::memcpy(&v, p + i, 8);
      ok = v == Word(key, (off + i) / 8);
    }
  });
  return ok;
}

std::vector<int32_t> RandomTokens(std::mt19937_64& rng, uint32_t n) {
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % 128000);
  return t;
}

}  // namespace

bool FindPreset(const std::string& name, ModelPreset* out) {
  if (name == "llama-3.1-8b") {
    *out = {name, {32, 8, 128, ferry::kv::DType::kBf16, false}};
    return true;
  }
  if (name == "small") {
    *out = {name, {4, 2, 64, ferry::kv::DType::kBf16, false}};
    return true;
  }
  return false;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

namespace {

struct User {
  std::vector<int32_t> history;
  uint32_t turns_done = 0;
};

void Progress(uint64_t done, uint64_t total) {
  constexpr int kWidth = 40;
  const int filled = static_cast<int>(kWidth * done / std::max<uint64_t>(total, 1));
  std::fprintf(stderr, "\r[%.*s%*s] %llu/%llu requests", filled,
               "########################################", kWidth - filled, "",
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
  if (done == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace

RunResult RunWorkload(ferry::kv::Engine& engine, const WorkloadOptions& o) {
  RunResult r;
  const auto start = Clock::now();
  const KvGeometry& g = o.geometry;
  const uint64_t cs = o.chunk_size;
  const uint64_t wt = uint64_t{o.window_chunks} * cs;  // window tokens
  std::vector<uint8_t> window(wt * g.BytesPerToken());
  std::mt19937_64 rng(o.seed);

  std::vector<std::vector<int32_t>> systems;
  for (uint32_t i = 0; i < o.system_prompts; ++i)
    systems.push_back(RandomTokens(rng, o.system_tokens));
  std::vector<User> users(o.users);
  for (uint32_t u = 0; u < o.users; ++u) users[u].history = systems[u % systems.size()];
  // Round-robin turns, then a few users come back once more.
  std::vector<uint32_t> schedule;
  for (uint32_t t = 0; t < o.turns; ++t) {
    for (uint32_t u = 0; u < o.users; ++u) schedule.push_back(u);
  }
  for (uint32_t u = 0; u < std::min(o.returning, o.users); ++u) schedule.push_back(u);

  for (size_t n = 0; n < schedule.size(); ++n) {
    User& user = users[schedule[n]];
    std::vector<int32_t> prompt = user.history;
    const auto msg = RandomTokens(rng, o.user_tokens);
    prompt.insert(prompt.end(), msg.begin(), msg.end());
    const std::vector<ChunkKey> keys = engine.Keys(prompt);

    auto t0 = Clock::now();
    const uint64_t hit = engine.Lookup(prompt);
    r.lookup_us.push_back(Seconds(Clock::now() - t0) * 1e6);
    r.requests++;
    r.prompt_tokens += prompt.size();
    r.chunks += keys.size();

    // Load the hit prefix window by window, checking every chunk.
    uint64_t restored_total = 0;
    for (uint64_t w0 = 0; w0 < hit; w0 += wt) {
      const auto before = engine.Stats();
      uint64_t restored = 0;
      t0 = Clock::now();
      ferry::Status s =
          engine.Retrieve(prompt, KvLayout::Contiguous(window.data(), wt, w0), &restored);
      r.load_seconds += Seconds(Clock::now() - t0);
      r.bytes_loaded += engine.Stats().bytes_loaded - before.bytes_loaded;
      if (!s.ok() && r.first_error.empty()) r.first_error = s.ToString();
      for (uint64_t c = w0 / cs; c * cs < restored && c < keys.size(); ++c) {
        const uint64_t len = std::min<uint64_t>(cs, prompt.size() - c * cs);
        if (!CheckChunk(g, keys[c], window.data(), wt, c * cs - w0, len)) r.mismatched_chunks++;
        r.verified_bytes += len * g.BytesPerToken();
      }
      restored_total = restored;
      if (restored < std::min(hit, w0 + wt)) break;
    }
    r.hit_tokens += restored_total;
    r.chunk_hits += restored_total / cs + (restored_total % cs != 0 ? 1 : 0);

    // Prefill would compute the rest; store the new chunks window by window.
    for (uint64_t w0 = restored_total / cs * cs; w0 / cs < keys.size(); w0 += wt) {
      for (uint64_t c = w0 / cs; c < keys.size() && c * cs < w0 + wt; ++c) {
        const uint64_t len = std::min<uint64_t>(cs, prompt.size() - c * cs);
        FillChunk(g, keys[c], window.data(), wt, c * cs - w0, len);
      }
      const auto before = engine.Stats();
      t0 = Clock::now();
      ferry::Status s = engine.Store(prompt, KvLayout::Contiguous(window.data(), wt, w0));
      r.store_seconds += Seconds(Clock::now() - t0);
      r.bytes_stored += engine.Stats().bytes_stored - before.bytes_stored;
      if (!s.ok()) {
        r.store_failures++;
        if (r.first_error.empty()) r.first_error = s.ToString();
        break;
      }
    }
    user.history = std::move(prompt);
    const auto reply = RandomTokens(rng, o.reply_tokens);
    user.history.insert(user.history.end(), reply.begin(), reply.end());
    if (o.progress) Progress(n + 1, schedule.size());
  }
  r.wall_seconds = Seconds(Clock::now() - start);
  return r;
}

}  // namespace ferry_kv
