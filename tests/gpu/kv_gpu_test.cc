// The KV engine's GPU path (nixl_buffer_device: cuda) over GDS, GDS_MT and POSIX: vLLM
// paged KV in GPU memory stored and loaded back into another cache, every byte compared
// on the host; chunks the GPU checksummed read by a host-buffer engine (so the GPU's
// checksum is the CPU's definition) and the other way round; a corrupt file is a miss;
// bad slots and bad pointers are refused; threads share one engine. Skipped without a GPU.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <tuple>

#include "gpu/gpu_test_util.h"
#include "kv/kv_test_util.h"

namespace ferry::kv {
namespace {

using ::testing::HasSubstr;
using testing::PagedCache;

// A chunk's page: the 4 KiB header and the payload padded to 4 KiB.
uint64_t PageBytes(uint64_t payload) {
  return 4096 + (payload + 4095) / 4096 * 4096;
}

// A PagedCache's tensors and slot mapping copied to GPU 0.
class GpuPagedCache {
 public:
  explicit GpuPagedCache(PagedCache& host) : host_(host) {
    for (auto& t : host.layers) {
      layers_.push_back(std::make_unique<test::DeviceBuffer>(t.size()));
      ok_ = ok_ && layers_.back()->data() != nullptr &&
            test::ToDevice(layers_.back()->data(), t.data(), t.size());
    }
    slots_ = std::make_unique<test::DeviceBuffer>(host.slots.size() * 8);
    ok_ = ok_ && test::ToDevice(slots_->data(), host.slots.data(), host.slots.size() * 8);
  }
  bool ok() const { return ok_; }
  KvLayout Layout(uint64_t first_token = 0, void* stream = nullptr) const {
    std::vector<uint8_t*> bases;
    for (const auto& b : layers_) bases.push_back(b->data());
    return host_.Layout(bases, reinterpret_cast<const int64_t*>(slots_->data()), first_token)
        .OnGpu(0, stream);
  }
  // Brings the tensors back into the host cache (for PagedCache::Matches).
  bool Fetch() {
    for (size_t l = 0; l < layers_.size(); ++l) {
      auto back = test::FromDevice(layers_[l]->data(), host_.layers[l].size());
      if (back.size() != host_.layers[l].size()) return false;
      host_.layers[l] = std::move(back);
    }
    return true;
  }

 private:
  PagedCache& host_;
  std::vector<std::unique_ptr<test::DeviceBuffer>> layers_;
  std::unique_ptr<test::DeviceBuffer> slots_;
  bool ok_ = true;
};

// backend, pool size (0 = a file per chunk), O_DIRECT, geometry: 0 rows of 64 bytes and
// 4 KiB chunks (the fused gather+hash kernel), 1 rows of 30 bytes (gather then hash, byte
// copies), 2 rows of 64 bytes and 2 KiB chunks (the fused kernel writing the zero padding).
using Param = std::tuple<std::string, int64_t, bool, int>;

KvGeometry GeometryOf(int kind) {
  if (kind == 1) return KvGeometry{3, 3, 5, DType::kBf16, false};
  if (kind == 2) return KvGeometry{1, 1, 32, DType::kBf16, false};
  return testing::SmallGeometry();
}

Config GpuConfig(const std::string& dir, const std::string& backend, int64_t pool, bool direct,
                 const KvGeometry& g) {
  Config c = testing::SmallConfig(dir, pool);
  c.nixl_backend = backend;
  c.use_direct_io = direct;
  c.nixl_buffer_device = "cuda";
  c.nixl_buffer_size = 8 * PageBytes(g.BytesPerToken() * testing::kChunk);
  return c;
}

EngineOptions OptionsFor(const KvGeometry& g) {
  EngineOptions o = testing::SmallOptions();
  o.geometry = g;
  return o;
}

class KvOnGpu : public ::testing::TestWithParam<Param> {};

TEST_P(KvOnGpu, PagedRoundTripRestartAndInteropWithAHostBuffer) {
  FERRY_REQUIRE_GPU();
  const auto& [backend, pool, direct, geometry] = GetParam();
  const KvGeometry g = GeometryOf(geometry);
  test::TempDir dir = test::GdsTempDir();
  ASSERT_TRUE(dir.ok());
  const Config c = GpuConfig(dir.path(), backend, pool, direct, g);
  const auto tokens = testing::Tokens(5 * testing::kChunk + 3, 21);
  const uint64_t full = 5 * testing::kChunk;
  {
    auto e = testing::MakeEngine(c, OptionsFor(g));
    ASSERT_TRUE(e);
    PagedCache src(g, tokens.size(), 4, false, 1);
    src.Fill(tokens, 0);
    GpuPagedCache gsrc(src);
    ASSERT_TRUE(gsrc.ok());
    StoreResult r;
    FERRY_ASSERT_OK(e->Store(tokens, gsrc.Layout(), &r));
    EXPECT_EQ(r.chunks_written, 5u);
    for (bool interleaved : {false, true}) {
      PagedCache dst(g, tokens.size(), 8, interleaved, 99);
      GpuPagedCache gdst(dst);
      ASSERT_TRUE(gdst.ok());
      uint64_t restored = 0;
      FERRY_ASSERT_OK(e->Retrieve(tokens, gdst.Layout(), &restored));
      EXPECT_EQ(restored, full);
      ASSERT_TRUE(gdst.Fetch());
      EXPECT_TRUE(dst.Matches(tokens, 0, full)) << "interleaved " << interleaved;
    }
    EXPECT_GT(e->Stats().device_codec_ns, 0u);
  }
  {
    // A restarted GPU engine finds every chunk.
    auto e = testing::MakeEngine(c, OptionsFor(g));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->Lookup(tokens), full);
    PagedCache dst(g, tokens.size(), 4, true, 5);
    GpuPagedCache gdst(dst);
    uint64_t restored = 0;
    FERRY_ASSERT_OK(e->Retrieve(tokens, gdst.Layout(), &restored));
    EXPECT_EQ(restored, full);
    ASSERT_TRUE(gdst.Fetch());
    EXPECT_TRUE(dst.Matches(tokens, 0, full));
  }
  // A host-buffer engine on the same files checks the GPU's checksums with the CPU's
  // definition, and stores a chunk of its own (XXH3) that the GPU engine then reads.
  const auto longer = testing::Tokens(7 * testing::kChunk, 21);
  ASSERT_TRUE(std::equal(tokens.begin(), tokens.begin() + full, longer.begin()));
  {
    Config host = c;
    host.nixl_buffer_device = "cpu";
    auto e = testing::MakeEngine(host, OptionsFor(g));
    ASSERT_TRUE(e);
    auto kv = testing::MakeKv(longer, g);
    uint64_t restored = 0;
    std::vector<uint8_t> out(kv.size(), 0);
    FERRY_ASSERT_OK(
        e->Retrieve(longer, KvLayout::Contiguous(out.data(), longer.size()), &restored));
    EXPECT_EQ(restored, full);
    EXPECT_TRUE(testing::PrefixMatches(out, longer, g, full));
    EXPECT_EQ(e->Stats().corrupt_chunks, 0u);
    StoreResult r;
    FERRY_ASSERT_OK(e->Store(longer, KvLayout::Contiguous(kv.data(), longer.size()), &r));
    EXPECT_EQ(r.chunks_written, 2u);
  }
  auto e = testing::MakeEngine(c, OptionsFor(g));
  ASSERT_TRUE(e);
  PagedCache dst(g, longer.size(), 4, false, 8);
  GpuPagedCache gdst(dst);
  uint64_t restored = 0;
  FERRY_ASSERT_OK(e->Retrieve(longer, gdst.Layout(), &restored));
  EXPECT_EQ(restored, longer.size());
  ASSERT_TRUE(gdst.Fetch());
  EXPECT_TRUE(dst.Matches(longer, 0, longer.size()));
  EXPECT_EQ(e->Stats().corrupt_chunks, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, KvOnGpu,
                         ::testing::Combine(::testing::Values("GDS", "GDS_MT", "POSIX"),
                                            ::testing::Values(int64_t{16}, int64_t{0}),
                                            ::testing::Bool(), ::testing::Values(0, 1, 2)));

class KvOnGpuChecks : public ::testing::TestWithParam<std::string> {};

TEST_P(KvOnGpuChecks, ACorruptChunkIsAMissAndBadInputIsRefused) {
  FERRY_REQUIRE_GPU();
  const KvGeometry g = testing::SmallGeometry();
  test::TempDir dir = test::GdsTempDir();
  ASSERT_TRUE(dir.ok());
  const Config c = GpuConfig(dir.path(), GetParam(), 0, false, g);
  auto e = testing::MakeEngine(c, OptionsFor(g));
  ASSERT_TRUE(e);
  const auto tokens = testing::Tokens(3 * testing::kChunk, 4);
  PagedCache src(g, tokens.size(), 4, false, 2);
  src.Fill(tokens, 0);
  GpuPagedCache gsrc(src);
  ASSERT_TRUE(gsrc.ok());
  FERRY_ASSERT_OK(e->Store(tokens, gsrc.Layout()));

  // Flip one payload byte of the second chunk's file: the prefix ends before it.
  const auto keys = e->Keys(tokens);
  std::string victim;
  for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
    if (f.path().filename().string().find(".k" + keys[1].Hex()) != std::string::npos)
      victim = f.path().string();
  }
  ASSERT_FALSE(victim.empty());
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(4096 + 1000);
    char b = 0;
    f.read(&b, 1);
    b ^= 0x40;
    f.seekp(4096 + 1000);
    f.write(&b, 1);
  }
  PagedCache dst(g, tokens.size(), 4, false, 3);
  GpuPagedCache gdst(dst);
  uint64_t restored = 0;
  FERRY_ASSERT_OK(e->Retrieve(tokens, gdst.Layout(), &restored));
  EXPECT_EQ(restored, testing::kChunk);
  EXPECT_EQ(e->Stats().corrupt_chunks, 1u);
  ASSERT_TRUE(gdst.Fetch());
  EXPECT_TRUE(dst.Matches(tokens, 0, testing::kChunk));

  // A slot past the cache: refused, nothing stored, nothing written out of bounds.
  const auto other = testing::Tokens(testing::kChunk, 900);
  PagedCache bad(g, other.size(), 4, false, 4);
  bad.slots[5] = static_cast<int64_t>(bad.blocks * bad.block_size);
  GpuPagedCache gbad(bad);
  Status s = e->Store(other, gbad.Layout());
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("slot_mapping"));
  EXPECT_EQ(e->Lookup(other), 0u);

  // Host memory passed as GPU KV, and host KV for a GPU buffer.
  auto host = testing::MakeKv(other, g);
  s = e->Store(other, KvLayout::Contiguous(host.data(), other.size()).OnGpu(0));
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  s = e->Store(other, KvLayout::Contiguous(host.data(), other.size()));
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("GPU memory"));
  s = e->Store(other, gsrc.Layout().OnGpu(7));
  EXPECT_THAT(s.message(), HasSubstr("GPU 7"));
}

TEST_P(KvOnGpuChecks, EightThreadsShareOneEngine) {
  FERRY_REQUIRE_GPU();
  // Rows of 2 KiB, 2 MiB chunks: the size class of a real model's.
  const KvGeometry g{8, 8, 128, DType::kBf16, false};
  test::TempDir dir = test::GdsTempDir();
  ASSERT_TRUE(dir.ok());
  Config c = GpuConfig(dir.path(), GetParam(), 64, false, g);
  c.chunk_size = 64;
  c.nixl_buffer_size = 16 * PageBytes(g.BytesPerToken() * 64);
  auto e = testing::MakeEngine(c, OptionsFor(g));
  ASSERT_TRUE(e);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      cudaStream_t stream = nullptr;
      if (cudaStreamCreate(&stream) != cudaSuccess) return;
      const auto tokens = testing::Tokens(3 * 64, 5000 * (t + 1));
      PagedCache src(g, tokens.size(), 16, t % 2 == 1, t + 1);
      src.Fill(tokens, 0);
      GpuPagedCache gsrc(src);
      PagedCache dst(g, tokens.size(), 16, t % 2 == 0, t + 100);
      GpuPagedCache gdst(dst);
      uint64_t restored = 0;
      if (gsrc.ok() && gdst.ok() && e->Store(tokens, gsrc.Layout(0, stream)).ok() &&
          e->Retrieve(tokens, gdst.Layout(0, stream), &restored).ok() &&
          restored == tokens.size() && gdst.Fetch() && dst.Matches(tokens, 0, tokens.size()))
        good++;
      cudaStreamDestroy(stream);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 8);
  EXPECT_EQ(e->Stats().corrupt_chunks, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, KvOnGpuChecks, ::testing::Values("GDS", "GDS_MT", "POSIX"));

}  // namespace
}  // namespace ferry::kv
