// kv-hash-builds: times each XXH3 build this CPU can run (SSE2, AVX2, AVX-512) on the key
// chain of a 32k-token prompt (128 chunks of 256 tokens) and on a 32 MiB payload checksum.
// The builds take turns, round after round, so a noisy machine slows them alike.
// Usage: build/bin/kv-hash-builds   (see docs/benchmarks.md)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "common/percentile.h"
#include "kv/fast_hash.h"

namespace {

using Clock = std::chrono::steady_clock;
volatile uint64_t g_sink;  // keeps the hashing from being optimized away

double Percentile(std::vector<double> v, double p) {
  return ferry_tools::Percentile(&v, p / 100);
}

}  // namespace

int main() {
  std::vector<int32_t> tokens(32768);
  for (uint32_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<int32_t>(i * 2654435761u % 128000);
  std::vector<uint8_t> payload(32 << 20, 3);
  const auto impls = ferry::kv::UsableHashImpls();
  std::vector<std::vector<double>> chain_us(impls.size()), gbps(impls.size());
  ferry::kv::ChunkKey keys[128];
  uint64_t sink = 0;
  for (int round = 0; round < 30; ++round) {
    for (size_t m = 0; m < impls.size(); ++m) {
      for (int i = 0; i < 200; ++i) {
        const auto t0 = Clock::now();
        impls[m].chain_run(ferry::kv::ChunkKey{1, 2}, tokens.data(), 256, 128, keys);
        const std::chrono::duration<double, std::micro> d = Clock::now() - t0;
        if (i >= 10) chain_us[m].push_back(d.count());  // the first few warm the caches
        sink += keys[127].lo;
      }
      if (round % 5 == 0) {
        const auto t0 = Clock::now();
        sink += impls[m].checksum(payload.data(), payload.size());
        const std::chrono::duration<double> d = Clock::now() - t0;
        gbps[m].push_back(static_cast<double>(payload.size()) / d.count() / 1e9);
      }
    }
  }
  std::printf("%-7s %28s %22s\n", "build", "32k-token key chain (us)", "32 MiB checksum");
  for (size_t m = 0; m < impls.size(); ++m) {
    std::printf("%-7s p10 %6.2f p50 %6.2f p99 %6.2f %15.1f GB/s%s\n", impls[m].name,
                Percentile(chain_us[m], 10), Percentile(chain_us[m], 50),
                Percentile(chain_us[m], 99), Percentile(gbps[m], 50),
                m + 1 == impls.size() ? "  (in use)" : "");
  }
  g_sink = sink;
  return 0;
}
