// The lookup key memo: exact (a key is reused only for identical leading tokens), bounded,
// and invisible in Lookup's answers.
#include <gtest/gtest.h>

#include <thread>

#include "ferry/kv/engine.h"
#include "kv/prefix_key_cache.h"
#include "kv_test_util.h"

namespace ferry::kv {
namespace {

using testing::Tokens;
constexpr uint32_t kCs = 4;

const ChunkKey kSeed = ChainSeed({"memo", 1, 0}, testing::SmallGeometry(), kCs);

std::vector<ChunkKey> KeysOf(const std::vector<int32_t>& t) {
  return ChunkKeys(kSeed, t, kCs, false);
}

size_t MatchAll(const PrefixKeyCache& c, const std::vector<int32_t>& t,
                std::vector<ChunkKey>* out) {
  out->assign(t.size() / kCs, ChunkKey{});
  const size_t n = c.Match(t, out->data(), out->size());
  out->resize(n);
  return n;
}

TEST(KvPrefixKeyCache, ReturnsKeysOnlyForIdenticalLeadingChunks) {
  PrefixKeyCache c(kCs);
  const auto a = Tokens(10 * kCs, 1);
  std::vector<ChunkKey> got;
  EXPECT_EQ(MatchAll(c, a, &got), 0u);
  c.Remember(a, KeysOf(a));
  EXPECT_EQ(MatchAll(c, a, &got), 10u);
  EXPECT_EQ(got, KeysOf(a));
  // Longer prompt with the same start: the remembered chunks only.
  const auto longer = Tokens(16 * kCs + 3, 1);
  EXPECT_EQ(MatchAll(c, longer, &got), 10u);
  const auto longer_keys = KeysOf(longer);
  EXPECT_EQ(got, std::vector<ChunkKey>(longer_keys.begin(), longer_keys.begin() + 10));
  // Differs in chunk 3, in its last token: chunks 0-2 only.
  auto b = a;
  b[3 * kCs + kCs - 1] += 1;
  EXPECT_EQ(MatchAll(c, b, &got), 3u);
  // Same first token, differs later in chunk 0: nothing.
  auto d = a;
  d[1] += 1;
  EXPECT_EQ(MatchAll(c, d, &got), 0u);
  // `max` and a trailing partial chunk are respected.
  ChunkKey two[2];
  EXPECT_EQ(c.Match(a, two, 2), 2u);
  const std::vector<int32_t> short_prompt(a.begin(), a.begin() + kCs + 2);
  EXPECT_EQ(MatchAll(c, short_prompt, &got), 1u);
}

TEST(KvPrefixKeyCache, AdmitsAPromptOnItsSecondSight) {
  PrefixKeyCache c(kCs);
  const auto a = Tokens(5 * kCs, 1), b = Tokens(5 * kCs, 2);
  std::vector<ChunkKey> got;
  c.Offer(a, KeysOf(a));
  c.Offer(b, KeysOf(b));
  EXPECT_EQ(MatchAll(c, a, &got), 0u);
  c.Offer(a, KeysOf(a));
  EXPECT_EQ(MatchAll(c, a, &got), 5u);
  EXPECT_EQ(MatchAll(c, b, &got), 0u);
  // A shorter run of the same prompt is a different offer.
  const auto kb = KeysOf(b);
  const std::vector<ChunkKey> b3(kb.begin(), kb.begin() + 3);
  c.Offer(b, b3);
  EXPECT_EQ(MatchAll(c, b, &got), 0u);
  c.Offer(b, KeysOf(b));
  EXPECT_EQ(MatchAll(c, b, &got), 5u);
}

TEST(KvPrefixKeyCache, ReplacesTheLeastRecentlyUsedAndMergesExtensions) {
  PrefixKeyCache c(kCs);
  std::vector<std::vector<int32_t>> p;
  for (int i = 0; i < static_cast<int>(PrefixKeyCache::kEntries); ++i) {
    p.push_back(Tokens(3 * kCs, 1000 * (i + 1)));
    c.Remember(p.back(), KeysOf(p.back()));
  }
  std::vector<ChunkKey> got;
  // Prompt 0 grows (a conversation's next turn): it replaces its own entry, so every other
  // prompt stays.
  const auto p0_next = Tokens(6 * kCs, 1000);
  ASSERT_EQ(MatchAll(c, p0_next, &got), 3u);
  c.Remember(p0_next, KeysOf(p0_next));
  for (const auto& t : p) EXPECT_EQ(MatchAll(c, t, &got), 3u);
  EXPECT_EQ(MatchAll(c, p0_next, &got), 6u);
  // Touch all but prompt 1, then a new prompt evicts prompt 1.
  for (size_t i = 0; i < p.size(); ++i) {
    if (i != 1) MatchAll(c, p[i], &got);
  }
  const auto fresh = Tokens(3 * kCs, 99999);
  c.Remember(fresh, KeysOf(fresh));
  EXPECT_EQ(MatchAll(c, p[1], &got), 0u);
  EXPECT_EQ(MatchAll(c, fresh, &got), 3u);
  EXPECT_EQ(MatchAll(c, p[2], &got), 3u);
}

// What Lookup does: match, and offer the keys when the memo did not have them all.
bool LookUp(PrefixKeyCache& c, const std::vector<int32_t>& t) {
  std::vector<ChunkKey> got;
  const size_t n = MatchAll(c, t, &got);
  if (n == t.size() / kCs) return true;
  c.Offer(t, KeysOf(t));
  return false;
}

// A scheduler re-checking more waiting prompts than the memo holds: plain LRU would copy
// each prompt in just before it is evicted and never hit. The memo keeps a stable set.
TEST(KvPrefixKeyCache, CyclingThroughMorePromptsThanItHoldsKeepsMostOfThem) {
  PrefixKeyCache c(kCs);
  std::vector<std::vector<int32_t>> p;
  for (size_t i = 0; i < PrefixKeyCache::kEntries + 2; ++i)
    p.push_back(Tokens(4 * kCs, 500 * (int32_t(i) + 1)));
  size_t hits_last_rounds = 0;
  for (int round = 0; round < 12; ++round) {
    for (const auto& t : p) {
      const bool hit = LookUp(c, t);
      if (round >= 8) hits_last_rounds += hit;
    }
  }
  EXPECT_GE(hits_last_rounds, 4 * (PrefixKeyCache::kEntries - 1));
  // A small working set that fits is memoized from its second lookup on.
  PrefixKeyCache d(kCs);
  EXPECT_FALSE(LookUp(d, p[0]));
  EXPECT_FALSE(LookUp(d, p[1]));
  EXPECT_FALSE(LookUp(d, p[0]));
  EXPECT_FALSE(LookUp(d, p[1]));
  EXPECT_TRUE(LookUp(d, p[0]));
  EXPECT_TRUE(LookUp(d, p[1]));
}

TEST(KvPrefixKeyCache, RemembersAtMostItsLimit) {
  PrefixKeyCache c(kCs);
  const size_t limit = std::min(PrefixKeyCache::kMaxChunks, PrefixKeyCache::kMaxTokens / kCs);
  const auto t = Tokens((limit + 5) * kCs, 7);
  c.Remember(t, KeysOf(t));
  std::vector<ChunkKey> got;
  EXPECT_EQ(MatchAll(c, t, &got), limit);
  const auto keys = KeysOf(t);
  EXPECT_EQ(got, std::vector<ChunkKey>(keys.begin(), keys.begin() + limit));
}

// Through the engine: repeated lookups (served from the memo) still follow every change
// of the index, and prompts that share a prefix with a remembered one get exact answers.
// With the memo off (EngineOptions::lookup_key_memo) the answers are the same.
class KvLookupMemo : public ::testing::TestWithParam<bool> {};

TEST_P(KvLookupMemo, EngineLookupsFollowTheIndex) {
  testing::TempDir dir;
  Config c = testing::SmallConfig(dir.sub("memo"));
  EngineOptions o = testing::SmallOptions();
  o.lookup_key_memo = GetParam();
  auto e = testing::MakeEngine(c, o);
  const uint32_t cs = static_cast<uint32_t>(c.chunk_size);
  const auto tokens = Tokens(6 * cs, 5);
  auto kv = testing::MakeKv(tokens, testing::SmallGeometry());
  ASSERT_TRUE(e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size())).ok());
  EXPECT_EQ(e->Lookup(tokens), tokens.size());
  EXPECT_EQ(e->Lookup(tokens), tokens.size());
  const std::vector<ChunkKey> keys = e->Keys(tokens);
  ASSERT_TRUE(e->Remove(keys[3]).ok());
  EXPECT_EQ(e->Lookup(tokens), 3u * cs);
  EXPECT_EQ(e->Lookup(tokens), 3u * cs);
  ASSERT_TRUE(e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size())).ok());
  EXPECT_EQ(e->Lookup(tokens), tokens.size());
  // Diverges inside chunk 2; and a longer prompt whose extra chunks were never stored.
  auto fork = tokens;
  fork[2 * cs + 1] ^= 0x5555;
  EXPECT_EQ(e->Lookup(fork), 2u * cs);
  EXPECT_EQ(e->Lookup(Tokens(9 * cs, 5)), tokens.size());
  EXPECT_EQ(e->Lookup(tokens), tokens.size());
  // Several threads looking up overlapping prompts while one removes and re-stores.
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      const auto mine = Tokens((6 + t) * cs, 5);
      while (!stop.load()) {
        const uint64_t hit = e->Lookup(mine);
        if (hit % cs != 0 || hit > tokens.size()) bad.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(e->Remove(keys[5]).ok());
    ASSERT_TRUE(e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size())).ok());
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(e->Lookup(tokens), tokens.size());
}

// Lookup hashes and checks a long prompt in growing steps (16, 32, 64 chunks, ...): a
// miss at any chunk gives exactly the prefix before it. With the memo off this puts the
// miss on either side of every step's edge; with it on, the memo's match decides where
// hashing starts.
TEST_P(KvLookupMemo, AMissAtAnyChunkOfALongPromptEndsThePrefixThere) {
  testing::TempDir dir;
  constexpr size_t kChunks = 100;
  Config c = testing::SmallConfig(dir.sub("long"), kChunks);
  EngineOptions o = testing::SmallOptions();
  o.lookup_key_memo = GetParam();
  auto e = testing::MakeEngine(c, o);
  ASSERT_TRUE(e);
  const uint32_t cs = static_cast<uint32_t>(c.chunk_size);
  const auto tokens = Tokens(kChunks * cs, 8);
  auto kv = testing::MakeKv(tokens, testing::SmallGeometry());
  ASSERT_TRUE(e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size())).ok());
  ASSERT_EQ(e->Lookup(tokens), tokens.size());
  EXPECT_EQ(e->Lookup(Tokens((kChunks + 10) * cs, 8)), tokens.size());
  for (size_t d = 0; d < kChunks; ++d) {
    auto fork = tokens;
    fork[d * cs + cs / 2] ^= 0x0f0f;
    EXPECT_EQ(e->Lookup(fork), d * cs) << "diverges in chunk " << d;
  }
  const std::vector<ChunkKey> keys = e->Keys(tokens);
  for (size_t r : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{47}, size_t{48},
                   size_t{49}, size_t{99}}) {
    ASSERT_TRUE(e->Remove(keys[r]).ok()) << r;
    EXPECT_EQ(e->Lookup(tokens), r * cs) << "chunk " << r << " removed";
    EXPECT_EQ(e->Lookup(tokens), r * cs) << "chunk " << r << " removed, looked up again";
    ASSERT_TRUE(e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size())).ok());
    EXPECT_EQ(e->Lookup(tokens), tokens.size()) << "chunk " << r << " stored again";
  }
}

INSTANTIATE_TEST_SUITE_P(MemoOnAndOff, KvLookupMemo, ::testing::Bool());

}  // namespace
}  // namespace ferry::kv
