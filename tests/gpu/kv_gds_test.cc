// The KV engine over GDS and GDS_MT with a host staging buffer (`nixl_buffer_device: cpu`,
// the seed's GDS configuration): store, retrieve byte-equal, and a restart that finds
// every chunk again, in static and dynamic mode, buffered and O_DIRECT. Skipped without a
// GPU. (The GPU staging buffer, `nixl_buffer_device: cuda`: kv_gpu_test.cc.)
#include <gtest/gtest.h>

#include <tuple>

#include "gpu/gpu_test_util.h"
#include "kv/kv_test_util.h"

namespace ferry::kv {
namespace {

using Param = std::tuple<std::string, int64_t, bool>;  // backend, pool size, O_DIRECT

class KvOverCufile : public ::testing::TestWithParam<Param> {};

TEST_P(KvOverCufile, StoreRetrieveAndRestart) {
  FERRY_REQUIRE_GPU();
  const auto& [backend, pool, direct] = GetParam();
  test::TempDir dir = test::GdsTempDir();
  ASSERT_TRUE(dir.ok());
  Config c = testing::SmallConfig(dir.path(), pool);
  c.nixl_backend = backend;
  c.use_direct_io = direct;
  const auto tokens = testing::Tokens(5 * testing::kChunk, 3);
  auto kv = testing::MakeKv(tokens, testing::SmallGeometry());
  {
    auto e = testing::MakeEngine(c);
    ASSERT_TRUE(e);
    StoreResult r;
    FERRY_ASSERT_OK(e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size()), &r));
    EXPECT_EQ(r.chunks_written, 5u);
    std::vector<uint8_t> out(kv.size(), 0);
    uint64_t restored = 0;
    FERRY_ASSERT_OK(
        e->Retrieve(tokens, KvLayout::Contiguous(out.data(), tokens.size()), &restored));
    EXPECT_EQ(restored, tokens.size());
    EXPECT_EQ(out, kv);
  }
  // A new engine on the same directory finds every chunk, every byte checked on load.
  auto e = testing::MakeEngine(c);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->Lookup(tokens), tokens.size());
  std::vector<uint8_t> out(kv.size(), 0);
  uint64_t restored = 0;
  FERRY_ASSERT_OK(e->Retrieve(tokens, KvLayout::Contiguous(out.data(), tokens.size()), &restored));
  EXPECT_EQ(restored, tokens.size());
  EXPECT_EQ(out, kv);
  EXPECT_EQ(e->Stats().corrupt_chunks, 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, KvOverCufile,
                         ::testing::Combine(::testing::Values("GDS", "GDS_MT"),
                                            ::testing::Values(int64_t{16}, int64_t{0}),
                                            ::testing::Bool()));

}  // namespace
}  // namespace ferry::kv
