// KV in vLLM's paged form in host memory: chunks gathered from shuffled blocks (both of
// vLLM's block layouts) store the same payload as contiguous KV, load back into another
// cache with another slot mapping, and a slot outside the cache is refused before any
// byte moves. Also what an engine with a host buffer says of GPU KV, and what
// nixl_buffer_device cuda says where there is no GPU (tests/gpu runs it where there is).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/kv/engine.h"
#include "kv_test_util.h"

namespace ferry::kv {
namespace {

using ::testing::HasSubstr;
using testing::kChunk;
using testing::MakeEngine;
using testing::MakeKv;
using testing::PagedCache;
using testing::SmallConfig;
using testing::SmallGeometry;
using testing::Tokens;

class KvPaged : public ::testing::TestWithParam<bool> {};  // interleaved K/V blocks

TEST_P(KvPaged, StoresFromShuffledBlocksAndLoadsIntoAnotherCache) {
  testing::TempDir dir;
  auto e = MakeEngine(SmallConfig(dir.str()));
  ASSERT_TRUE(e);
  const auto tokens = Tokens(3 * kChunk + 5, 11);  // three full chunks and a partial
  PagedCache src(SmallGeometry(), tokens.size(), 4, GetParam(), 1);
  src.Fill(tokens, 0);
  StoreResult r;
  Status s = e->Store(tokens, src.Layout(), &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.chunks_written, 3u);

  // Another cache, other blocks: every restored row lands in its own slot.
  PagedCache dst(SmallGeometry(), tokens.size(), 4, GetParam(), 77);
  ASSERT_NE(dst.slots, src.slots);
  uint64_t restored = 0;
  s = e->Retrieve(tokens, dst.Layout(), &restored);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(restored, 3 * kChunk);
  EXPECT_TRUE(dst.Matches(tokens, 0, restored));

  // The stored payload is the one contiguous KV gives: the layouts interoperate.
  std::vector<uint8_t> flat(MakeKv(tokens, SmallGeometry()).size(), 0);
  s = e->Retrieve(tokens, KvLayout::Contiguous(flat.data(), tokens.size()), &restored);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(testing::PrefixMatches(flat, tokens, SmallGeometry(), 3 * kChunk));
}

TEST_P(KvPaged, AWindowLaterInThePromptUsesItsOwnSlots) {
  testing::TempDir dir;
  auto e = MakeEngine(SmallConfig(dir.str()));
  ASSERT_TRUE(e);
  const auto tokens = Tokens(4 * kChunk, 5);
  // The first two chunks from one window, the last two from a second one.
  PagedCache first(SmallGeometry(), 2 * kChunk, 4, GetParam(), 3);
  PagedCache second(SmallGeometry(), 2 * kChunk, 8, GetParam(), 4);
  first.Fill(tokens, 0);
  second.Fill(tokens, 2 * kChunk);
  ASSERT_TRUE(e->Store(tokens, first.Layout(0)).ok());
  ASSERT_TRUE(e->Store(tokens, second.Layout(2 * kChunk)).ok());
  PagedCache back(SmallGeometry(), 2 * kChunk, 4, GetParam(), 9);
  uint64_t restored = 0;
  Status s = e->Retrieve(tokens, back.Layout(2 * kChunk), &restored);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(restored, 4 * kChunk);
  EXPECT_TRUE(back.Matches(tokens, 2 * kChunk, 2 * kChunk));
}

INSTANTIATE_TEST_SUITE_P(BlockLayouts, KvPaged, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Interleaved" : "Halves"; });

TEST(KvPagedInput, ASlotOutsideTheCacheIsRefusedByName) {
  testing::TempDir dir;
  auto e = MakeEngine(SmallConfig(dir.str()));
  ASSERT_TRUE(e);
  const auto tokens = Tokens(kChunk, 1);
  PagedCache c(SmallGeometry(), tokens.size(), 4, false, 1);
  c.Fill(tokens, 0);
  for (int64_t bad : {int64_t{-1}, static_cast<int64_t>(c.blocks * c.block_size)}) {
    c.slots[7] = bad;
    Status s = e->Store(tokens, c.Layout());
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("slot_mapping[7] = " + std::to_string(bad)));
    uint64_t restored = 1;
    s = e->Retrieve(tokens, c.Layout(), &restored);
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_EQ(restored, 0u);
  }
  EXPECT_EQ(e->Stats().chunks_stored, 0u);

  KvLayout kv = c.Layout();
  kv.block_size = 0;
  EXPECT_THAT(e->Store(tokens, kv).message(), HasSubstr("block_size and num_blocks"));
  kv = c.Layout();
  kv.slot_mapping = nullptr;
  EXPECT_THAT(e->Store(tokens, kv).message(), HasSubstr("slot_mapping"));
  kv = c.Layout();
  kv.block_stride = c.block_size * SmallGeometry().RowBytes() - 1;
  EXPECT_THAT(e->Store(tokens, kv).message(), HasSubstr("block_stride"));
  kv = c.Layout();
  kv.num_blocks = UINT64_MAX / 2;
  EXPECT_THAT(e->Store(tokens, kv).message(), HasSubstr("overflow"));
  kv = c.Layout();
  kv.k.pop_back();
  EXPECT_THAT(e->Store(tokens, kv).message(), HasSubstr("paged form needs 2 K and V pointers"));
}

TEST(KvGpuMemory, AHostBufferRefusesGpuKvAndSaysWhatToSet) {
  testing::TempDir dir;
  auto e = MakeEngine(SmallConfig(dir.str()));
  ASSERT_TRUE(e);
  const auto tokens = Tokens(kChunk, 1);
  auto kv = MakeKv(tokens, SmallGeometry());
  Status s = e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size()).OnGpu(0));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("nixl_buffer_device: cuda"));
  EXPECT_EQ(e->Stats().chunks_stored, 0u);
}

TEST(KvGpuMemory, ACudaBufferWithoutAGpuIsAClearError) {
  testing::TempDir dir;
  Config c = SmallConfig(dir.str());
  c.nixl_buffer_device = "cuda";
  std::unique_ptr<Engine> e;
  Status s = Engine::Create(c, testing::SmallOptions(), &e);
  if (s.ok()) GTEST_SKIP() << "this machine has a GPU: tests/gpu/kv_gpu_test.cc covers it";
  EXPECT_THAT(s.code(), ::testing::AnyOf(Code::kUnsupported, Code::kInvalidArgument));
  EXPECT_THAT(s.message(), HasSubstr("nixl_buffer_device 'cuda'"));
  EXPECT_THAT(s.message(), ::testing::AnyOf(HasSubstr("without CUDA"), HasSubstr("GPU 0")));
}

}  // namespace
}  // namespace ferry::kv
