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

#include "common/percentile.h"

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
  return ferry_tools::Percentile(&v, p / 100.0);
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

namespace {

// One request of a scheduler step, with its slice of the window.
struct Active {
  User* user;
  std::vector<int32_t> prompt;
  std::vector<ChunkKey> keys;
  uint8_t* window;
  uint64_t hit = 0;       // lookup's answer
  uint64_t restored = 0;  // tokens restored
  uint64_t next = 0;      // first token of its next window
  bool done = false;
};

// A step's requests (at most `limit`, each user at most once: a user's next turn needs the
// reply to this one), taken from `schedule` at *pos.
std::vector<uint32_t> NextStep(const std::vector<uint32_t>& schedule, size_t* pos, size_t limit) {
  std::vector<uint32_t> step;
  while (*pos < schedule.size() && step.size() < limit &&
         std::find(step.begin(), step.end(), schedule[*pos]) == step.end()) {
    step.push_back(schedule[(*pos)++]);
  }
  return step;
}

}  // namespace

RunResult RunWorkload(ferry::kv::Engine& engine, const WorkloadOptions& o) {
  RunResult r;
  const auto start = Clock::now();
  const KvGeometry& g = o.geometry;
  const uint64_t cs = o.chunk_size;
  std::vector<uint8_t> window(uint64_t{o.window_chunks} * cs * g.BytesPerToken());
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

  // The engine's view of a slice of the window: the host window, or its GPU copy.
  auto layout = [&](uint8_t* slice, uint64_t tokens, uint64_t first) {
    if (o.gpu == nullptr) return KvLayout::Contiguous(slice, tokens, first);
    return KvLayout::Contiguous(o.gpu->device + (slice - window.data()), tokens, first)
        .OnGpu(o.gpu->ordinal);
  };
  const size_t batch = std::clamp<size_t>(o.batch, 1, o.window_chunks);
  for (size_t pos = 0; pos < schedule.size();) {
    const std::vector<uint32_t> ids = NextStep(schedule, &pos, batch);
    // The window is shared out: each request of the step gets `per` chunks of it.
    const uint64_t wt = uint64_t{o.window_chunks} / ids.size() * cs;  // tokens per slice
    std::vector<Active> step;
    for (size_t j = 0; j < ids.size(); ++j) {
      Active a;
      a.user = &users[ids[j]];
      a.prompt = a.user->history;
      const auto msg = RandomTokens(rng, o.user_tokens);
      a.prompt.insert(a.prompt.end(), msg.begin(), msg.end());
      a.keys = engine.Keys(a.prompt);
      a.window = window.data() + j * wt * g.BytesPerToken();
      const auto t0 = Clock::now();
      a.hit = engine.Lookup(a.prompt);
      r.lookup_us.push_back(Seconds(Clock::now() - t0) * 1e6);
      r.requests++;
      r.prompt_tokens += a.prompt.size();
      r.chunks += a.keys.size();
      a.done = a.hit == 0;
      step.push_back(std::move(a));
    }

    // Load every request's hit prefix, one window slice per request per call, checking
    // every chunk.
    for (;;) {
      std::vector<Active*> round;
      std::vector<ferry::kv::StoreRequest> reqs;
      for (Active& a : step) {
        if (a.done) continue;
        round.push_back(&a);
        reqs.push_back({a.prompt, layout(a.window, wt, a.next)});
      }
      if (round.empty()) break;
      std::vector<uint64_t> restored;
      const auto before = engine.Stats();
      const auto t0 = Clock::now();
      ferry::Status s = engine.BatchedRetrieve(reqs, &restored);
      r.load_seconds += Seconds(Clock::now() - t0);
      r.bytes_loaded += engine.Stats().bytes_loaded - before.bytes_loaded;
      if (!s.ok() && r.first_error.empty()) r.first_error = s.ToString();
      if (o.gpu != nullptr && !o.gpu->download(window.data(), o.gpu->device, window.size()))
        r.gpu_copy_failures++;
      for (size_t i = 0; i < round.size(); ++i) {
        Active& a = *round[i];
        const uint64_t got = restored[i];
        for (uint64_t c = a.next / cs; c * cs < got && c < a.keys.size(); ++c) {
          const uint64_t len = std::min<uint64_t>(cs, a.prompt.size() - c * cs);
          if (!CheckChunk(g, a.keys[c], a.window, wt, c * cs - a.next, len)) r.mismatched_chunks++;
          r.verified_bytes += len * g.BytesPerToken();
        }
        a.restored = got;
        a.next += wt;
        a.done = got < std::min(a.hit, a.next) || a.next >= a.hit;
      }
    }
    for (Active& a : step) {
      r.hit_tokens += a.restored;
      r.chunk_hits += a.restored / cs + (a.restored % cs != 0 ? 1 : 0);
      // Prefill would compute the rest; it is stored from the first chunk not restored.
      a.next = a.restored / cs * cs;
      a.done = a.next / cs >= a.keys.size();
    }

    // Store the new chunks of every request, a window slice each per call.
    for (;;) {
      std::vector<Active*> round;
      std::vector<ferry::kv::StoreRequest> reqs;
      for (Active& a : step) {
        if (a.done) continue;
        for (uint64_t c = a.next / cs; c < a.keys.size() && c * cs < a.next + wt; ++c) {
          const uint64_t len = std::min<uint64_t>(cs, a.prompt.size() - c * cs);
          FillChunk(g, a.keys[c], a.window, wt, c * cs - a.next, len);
        }
        round.push_back(&a);
        reqs.push_back({a.prompt, layout(a.window, wt, a.next)});
      }
      if (round.empty()) break;
      if (o.gpu != nullptr && !o.gpu->upload(o.gpu->device, window.data(), window.size()))
        r.gpu_copy_failures++;
      std::vector<ferry::kv::StoreResult> results;
      const auto before = engine.Stats();
      const auto t0 = Clock::now();
      ferry::Status s = engine.BatchedStore(reqs, &results);
      r.store_seconds += Seconds(Clock::now() - t0);
      r.bytes_stored += engine.Stats().bytes_stored - before.bytes_stored;
      if (!s.ok()) {
        r.store_failures++;
        if (r.first_error.empty()) r.first_error = s.ToString();
        break;  // like a server that gives up offloading this step
      }
      for (Active* a : round) {
        a->next += wt;
        a->done = a->next / cs >= a->keys.size();
      }
    }
    for (Active& a : step) {
      a.user->history = std::move(a.prompt);
      const auto reply = RandomTokens(rng, o.reply_tokens);
      a.user->history.insert(a.user->history.end(), reply.begin(), reply.end());
    }
    if (o.progress) Progress(pos, schedule.size());
  }
  r.wall_seconds = Seconds(Clock::now() - start);
  return r;
}

}  // namespace ferry_kv
