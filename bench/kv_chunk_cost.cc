// kv-chunk-cost: CPU time the KV engine spends per chunk stored and per chunk loaded, at a
// chosen chunk size, on a static pool in DIR (tmpfs makes the I/O a copy, so what is left
// is the engine's and the transfer library's own cost). Uses the public KV API only, so
// the same source builds against an older release for a before/after comparison.
//   kv-chunk-cost DIR CHUNK_BYTES [ROUNDS]      prints one JSON line
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ferry/kv/engine.h"

namespace {

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: kv-chunk-cost DIR CHUNK_BYTES [ROUNDS]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t chunk_bytes = std::strtoull(argv[2], nullptr, 10);
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 20000;
  ferry::kv::EngineOptions o;
  o.model.model_name = "chunk-cost";
  o.geometry = {2, 2, 16, ferry::kv::DType::kBf16, false};  // 256 bytes a token
  o.queue_depth = 1;
  const uint64_t per_token = o.geometry.BytesPerToken();
  if (chunk_bytes < per_token || chunk_bytes % per_token != 0) {
    std::fprintf(stderr, "CHUNK_BYTES must be a multiple of %llu\n", (unsigned long long)per_token);
    return 2;
  }
  ferry::kv::Config c;
  c.chunk_size = int64_t(chunk_bytes / per_token);
  c.enable_nixl_storage = true;
  c.nixl_backend = "POSIX";
  c.nixl_path = dir;
  c.nixl_pool_size = 64;
  c.nixl_buffer_size = 4 * (4096 + (chunk_bytes + 4095) / 4096 * 4096);
  std::unique_ptr<ferry::kv::Engine> e;
  ferry::Status s = ferry::kv::Engine::Create(c, o, &e);
  if (!s.ok()) {
    std::fprintf(stderr, "kv-chunk-cost: %s\n", s.ToString().c_str());
    return 1;
  }
  const size_t tokens = size_t(c.chunk_size);
  std::vector<uint8_t> kv(tokens * per_token, 7), out(kv.size());
  std::vector<int32_t> t(tokens);
  double store_cpu = 0, load_cpu = 0;
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < tokens; ++i) t[i] = int32_t(r * 7919 + i);  // a new chunk each round
    const double t0 = CpuSeconds();
    s = e->Store(t, ferry::kv::KvLayout::Contiguous(kv.data(), tokens));
    const double t1 = CpuSeconds();
    uint64_t restored = 0;
    if (s.ok()) s = e->Retrieve(t, ferry::kv::KvLayout::Contiguous(out.data(), tokens), &restored);
    const double t2 = CpuSeconds();
    if (!s.ok() || restored != tokens) {
      std::fprintf(stderr, "kv-chunk-cost: round %d: %s (restored %llu)\n", r, s.ToString().c_str(),
                   (unsigned long long)restored);
      return 1;
    }
    store_cpu += t1 - t0;
    load_cpu += t2 - t1;
  }
  std::printf(
      "{\"chunk_bytes\": %llu, \"rounds\": %d, \"store_cpu_us\": %.2f, \"load_cpu_us\": %.2f}\n",
      (unsigned long long)chunk_bytes, rounds, store_cpu / rounds * 1e6, load_cpu / rounds * 1e6);
  return 0;
}
