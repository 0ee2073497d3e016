// Eight threads storing, retrieving, pinning and evicting on one engine at once. Every
// retrieved byte must be the stored one; the engine's counters must add up.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "ferry/kv/engine.h"
#include "kv_test_util.h"

namespace ferry::kv {
namespace {

using testing::kChunk;
using testing::MakeKv;
using testing::SmallGeometry;

TEST(KvConcurrency, EightThreadsStoreRetrieveEvict) {
  testing::TempDir dir;
  Config c = testing::SmallConfig(dir.str(), 12);  // far fewer slots than chunks: eviction
  std::unique_ptr<Engine> e;
  ASSERT_TRUE(Engine::Create(c, testing::SmallOptions(), &e).ok());
  std::atomic<int> mismatches{0}, hits{0}, no_space{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int it = 0; it < 400; ++it) {
        // Shared prompts (many threads store the same chunks) and private ones.
        const int which = static_cast<int>(rng() % 10);
        const int owner = which < 5 ? 0 : t + 1;
        const auto tokens = testing::Tokens((1 + which % 3) * kChunk, 100 * which + 7 * owner);
        auto kv = MakeKv(tokens, SmallGeometry());
        switch (rng() % 4) {
          case 0:
          case 1: {
            Status s = e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size()));
            if (s.code() == Code::kNoSpace)
              ++no_space;
            else
              EXPECT_TRUE(s.ok()) << s.ToString();
            break;
          }
          case 2: {
            std::vector<uint8_t> out(kv.size());
            uint64_t restored = 0;
            ASSERT_TRUE(
                e->Retrieve(tokens, KvLayout::Contiguous(out.data(), tokens.size()), &restored)
                    .ok());
            if (restored > 0) ++hits;
            if (!testing::PrefixMatches(out, tokens, SmallGeometry(), restored)) ++mismatches;
            break;
          }
          case 3: {
            const auto keys = e->Keys(tokens);
            if (e->Pin(keys[0]).ok()) {
              (void)e->Lookup(tokens);
              ASSERT_TRUE(e->Unpin(keys[0]).ok());
            }
            if (rng() % 4 == 0) (void)e->Remove(keys.back());
            break;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(hits.load(), 0);
  EngineStats st = e->Stats();
  EXPECT_GT(st.evictions, 0u);
  EXPECT_EQ(st.corrupt_chunks, 0u);
  EXPECT_EQ(st.store_failed_io, 0u);
  EXPECT_LE(st.resident_chunks, 12u);
  EXPECT_EQ(st.store_failed_no_space, static_cast<uint64_t>(no_space.load()));
}

}  // namespace
}  // namespace ferry::kv
