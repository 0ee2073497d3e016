// Chunk keys: stable, prefix-chained, and separated by model, rank, layout and chunk size.
#include <gtest/gtest.h>

#include <set>

#include "ferry/kv/keys.h"
#include "kv_test_util.h"

namespace ferry::kv {
namespace {

TEST(KvKeys, StableAcrossCallsAndKnownLength) {
  ModelId m{"llama", 1, 0};
  KvGeometry g{32, 8, 128, DType::kBf16, false};
  EXPECT_EQ(g.BytesPerToken(), 128u * 1024);
  ChunkKey a = ChainSeed(m, g, 256), b = ChainSeed(m, g, 256);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Hex().size(), 32u);
  auto t = testing::Tokens(1000, 5);
  EXPECT_EQ(ChunkKeys(a, t, 256, false), ChunkKeys(b, t, 256, false));
  EXPECT_EQ(ChunkKeys(a, t, 256, false).size(), 3u);
  EXPECT_EQ(ChunkKeys(a, t, 256, true).size(), 4u);
}

TEST(KvKeys, EveryIdentityFieldChangesTheSeed) {
  ModelId m{"llama", 2, 1};
  KvGeometry g{32, 8, 128, DType::kBf16, false};
  std::set<std::string> seeds;
  seeds.insert(ChainSeed(m, g, 256).Hex());
  seeds.insert(ChainSeed({"llama2", 2, 1}, g, 256).Hex());
  seeds.insert(ChainSeed({"llama", 4, 1}, g, 256).Hex());
  seeds.insert(ChainSeed({"llama", 2, 0}, g, 256).Hex());
  seeds.insert(ChainSeed(m, {32, 8, 128, DType::kFp16, false}, 256).Hex());
  seeds.insert(ChainSeed(m, {16, 8, 128, DType::kBf16, false}, 256).Hex());
  seeds.insert(ChainSeed(m, {32, 4, 128, DType::kBf16, false}, 256).Hex());
  seeds.insert(ChainSeed(m, {32, 8, 64, DType::kBf16, false}, 256).Hex());
  seeds.insert(ChainSeed(m, {32, 1, 128, DType::kBf16, true}, 256).Hex());
  seeds.insert(ChainSeed(m, g, 128).Hex());
  EXPECT_EQ(seeds.size(), 10u);
}

TEST(KvKeys, PrefixChain) {
  ChunkKey seed = ChainSeed({"m", 1, 0}, testing::SmallGeometry(), 4);
  std::vector<int32_t> a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<int32_t> b = a;
  b[5] = 99;  // differs in chunk 1: chunk 0 keys equal, every later key differs
  auto ka = ChunkKeys(seed, a, 4, false), kb = ChunkKeys(seed, b, 4, false);
  ASSERT_EQ(ka.size(), 3u);
  EXPECT_EQ(ka[0], kb[0]);
  EXPECT_NE(ka[1], kb[1]);
  EXPECT_NE(ka[2], kb[2]);  // same tokens in chunk 2, different prefix
  // A trailing partial chunk never collides with a full one.
  std::vector<int32_t> c(a.begin(), a.begin() + 10);
  auto kc = ChunkKeys(seed, c, 4, true);
  ASSERT_EQ(kc.size(), 3u);
  EXPECT_NE(kc[2], ka[2]);
  EXPECT_EQ(ChunkKeys(seed, a, 4, false, 2).size(), 2u);
}

TEST(KvKeys, DTypes) {
  EXPECT_EQ(ParseDType("bf16"), DType::kBf16);
  EXPECT_EQ(ParseDType("float32"), DType::kFp32);
  EXPECT_FALSE(ParseDType("int4").has_value());
  EXPECT_EQ(DTypeSize(DType::kFp8), 1u);
  KvGeometry mla{4, 1, 64, DType::kFp16, true};
  EXPECT_TRUE(mla.Valid());
  EXPECT_EQ(mla.BytesPerToken(), 4u * 64 * 2);
  EXPECT_FALSE((KvGeometry{4, 2, 64, DType::kFp16, true}).Valid());
}

}  // namespace
}  // namespace ferry::kv
