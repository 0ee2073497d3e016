// Engine round trips: layouts, partial prefixes, unfull chunks, async stores, file safety.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "ferry/kv/engine.h"
#include "kv_test_util.h"

namespace ferry::kv {
namespace {

using testing::kChunk;
using testing::MakeEngine;
using testing::MakeKv;
using testing::PrefixMatches;
using testing::SmallConfig;
using testing::SmallGeometry;
using testing::SmallOptions;
using testing::Tokens;

TEST(KvEngine, RoundTripContiguous) {
  testing::TempDir dir;
  auto e = MakeEngine(SmallConfig(dir.str()));
  ASSERT_TRUE(e);
  const auto tokens = Tokens(5 * kChunk, 1);
  auto kv = MakeKv(tokens, SmallGeometry());
  EXPECT_EQ(e->Lookup(tokens), 0u);
  StoreResult r;
  ASSERT_TRUE(e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size()), &r).ok());
  EXPECT_EQ(r.chunks_written, 5u);
  EXPECT_EQ(r.tokens_covered, tokens.size());
  EXPECT_EQ(e->Lookup(tokens), tokens.size());
  for (const ChunkKey& k : e->Keys(tokens)) EXPECT_TRUE(e->Contains(k));

  std::vector<uint8_t> out(kv.size(), 0);
  uint64_t restored = 0;
  ASSERT_TRUE(e->Retrieve(tokens, KvLayout::Contiguous(out.data(), tokens.size()), &restored).ok());
  EXPECT_EQ(restored, tokens.size());
  EXPECT_EQ(out, kv);
  // Storing again writes nothing new.
  ASSERT_TRUE(e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size()), &r).ok());
  EXPECT_EQ(r.chunks_written, 0u);
  EXPECT_EQ(r.chunks_present, 5u);
  EngineStats st = e->Stats();
  EXPECT_EQ(st.chunks_stored, 5u);
  EXPECT_EQ(st.chunks_loaded, 5u);
  EXPECT_EQ(st.bytes_loaded, kv.size());
}

TEST(KvEngine, RoundTripPerLayerAndMla) {
  testing::TempDir dir;
  const KvGeometry g = SmallGeometry();
  auto e = MakeEngine(SmallConfig(dir.str()));
  const auto tokens = Tokens(2 * kChunk, 40);
  auto kv = MakeKv(tokens, g);
  // Per-layer views into the same contiguous block.
  const uint64_t plane = g.RowBytes() * tokens.size();
  std::vector<void*> k, v;
  for (uint32_t l = 0; l < g.layers; ++l) {
    k.push_back(kv.data() + l * plane);
    v.push_back(kv.data() + (g.layers + l) * plane);
  }
  ASSERT_TRUE(e->Store(tokens, KvLayout::PerLayer(k, v, tokens.size())).ok());
  std::vector<uint8_t> out(kv.size());
  uint64_t restored = 0;
  ASSERT_TRUE(e->Retrieve(tokens, KvLayout::Contiguous(out.data(), tokens.size()), &restored).ok());
  EXPECT_EQ(restored, tokens.size());
  EXPECT_EQ(out, kv);
  EXPECT_EQ(e->Store(tokens, KvLayout::PerLayer({k[0]}, {}, tokens.size())).code(),
            Code::kInvalidArgument);

  testing::TempDir dir2;
  EngineOptions mo = SmallOptions("deepseek-mla");
  mo.geometry = KvGeometry{3, 1, 64, DType::kFp16, true};
  auto m = MakeEngine(SmallConfig(dir2.str()), mo);
  auto mkv = MakeKv(tokens, mo.geometry);
  ASSERT_TRUE(m->Store(tokens, KvLayout::Contiguous(mkv.data(), tokens.size())).ok());
  std::vector<uint8_t> mout(mkv.size());
  ASSERT_TRUE(
      m->Retrieve(tokens, KvLayout::Contiguous(mout.data(), tokens.size()), &restored).ok());
  EXPECT_EQ(restored, tokens.size());
  EXPECT_EQ(mout, mkv);
}

TEST(KvEngine, PartialPrefixHit) {
  testing::TempDir dir;
  auto e = MakeEngine(SmallConfig(dir.str()));
  const auto a = Tokens(4 * kChunk, 1);
  auto b = a;
  b[2 * kChunk + 3] = 7777;  // diverges in chunk 2
  auto kva = MakeKv(a, SmallGeometry());
  ASSERT_TRUE(e->Store(a, KvLayout::Contiguous(kva.data(), a.size())).ok());
  EXPECT_EQ(e->Lookup(b), 2u * kChunk);
  std::vector<uint8_t> out(kva.size());
  uint64_t restored = 0;
  ASSERT_TRUE(e->Retrieve(b, KvLayout::Contiguous(out.data(), b.size()), &restored).ok());
  EXPECT_EQ(restored, 2u * kChunk);
  EXPECT_TRUE(PrefixMatches(out, b, SmallGeometry(), restored));
  // A prompt longer than what is stored hits the stored prefix only.
  auto longer = Tokens(6 * kChunk, 1);
  EXPECT_EQ(e->Lookup(longer), 4u * kChunk);
  std::vector<std::span<const int32_t>> prompts = {a, b, longer};
  EXPECT_EQ(e->BatchedLookup(prompts), (std::vector<uint64_t>{4 * kChunk, 2 * kChunk, 4 * kChunk}));
  // Another model with the same tokens never matches.
  testing::TempDir dir2;
  auto other = MakeEngine(SmallConfig(dir.str()), SmallOptions("other-model"));
  EXPECT_EQ(other->Lookup(a), 0u);
}

TEST(KvEngine, UnfullChunks) {
  testing::TempDir dir;
  const auto tokens = Tokens(2 * kChunk + 5, 3);
  auto kv = MakeKv(tokens, SmallGeometry());
  {
    auto e = MakeEngine(SmallConfig(dir.sub("a")));
    StoreResult r;
    ASSERT_TRUE(e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size()), &r).ok());
    EXPECT_EQ(r.chunks_written, 2u);  // the 5-token tail is not stored by default
    EXPECT_EQ(e->Lookup(tokens), 2u * kChunk);
  }
  Config c = SmallConfig(dir.sub("b"));
  c.save_unfull_chunk = true;
  auto e = MakeEngine(c);
  StoreResult r;
  ASSERT_TRUE(e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size()), &r).ok());
  EXPECT_EQ(r.chunks_written, 3u);
  EXPECT_EQ(e->Lookup(tokens), tokens.size());
  std::vector<uint8_t> out(kv.size());
  uint64_t restored = 0;
  ASSERT_TRUE(e->Retrieve(tokens, KvLayout::Contiguous(out.data(), tokens.size()), &restored).ok());
  EXPECT_EQ(restored, tokens.size());
  EXPECT_EQ(out, kv);
  // The same prefix continued past the tail does not match the partial chunk.
  auto more = Tokens(3 * kChunk, 3);
  EXPECT_EQ(e->Lookup(more), 2u * kChunk);
}

TEST(KvEngine, WindowedStoreAndRetrieve) {
  testing::TempDir dir;
  const KvGeometry g = SmallGeometry();
  auto e = MakeEngine(SmallConfig(dir.str()));
  const auto tokens = Tokens(4 * kChunk, 9);
  auto kv = MakeKv(tokens, g);
  // Two windows of two chunks each, as a caller with little memory would do.
  for (uint64_t w = 0; w < 2; ++w) {
    std::vector<int32_t> part(tokens.begin() + w * 2 * kChunk,
                              tokens.begin() + (w + 1) * 2 * kChunk);
    auto pkv = MakeKv(part, g);  // KvByte depends on position: rebuild with the offset
    for (uint64_t pl = 0; pl < 4; ++pl) {
      for (uint64_t t = 0; t < part.size(); ++t) {
        for (uint64_t i = 0; i < g.RowBytes(); ++i) {
          pkv[(pl * part.size() + t) * g.RowBytes() + i] =
              testing::KvByte(part[t], t + w * 2 * kChunk, pl, i);
        }
      }
    }
    ASSERT_TRUE(
        e->Store(tokens, KvLayout::Contiguous(pkv.data(), 2 * kChunk, w * 2 * kChunk)).ok());
    EXPECT_EQ(e->Lookup(tokens), (w + 1) * 2 * kChunk);
  }
  std::vector<uint8_t> out(kv.size());
  uint64_t restored = 0;
  ASSERT_TRUE(e->Retrieve(tokens, KvLayout::Contiguous(out.data(), tokens.size()), &restored).ok());
  EXPECT_EQ(restored, tokens.size());
  EXPECT_EQ(out, kv);
}

TEST(KvEngine, AsyncStoreCompletesBeforeVisible) {
  testing::TempDir dir;
  auto e = MakeEngine(SmallConfig(dir.str()));
  const auto tokens = Tokens(6 * kChunk, 11);
  auto kv = MakeKv(tokens, SmallGeometry());
  auto h = e->StoreAsync(tokens, KvLayout::Contiguous(kv.data(), tokens.size()));
  ASSERT_TRUE(h->Wait().ok());
  EXPECT_TRUE(h->Done());
  EXPECT_EQ(h->result().chunks_written, 6u);
  EXPECT_EQ(e->Lookup(tokens), tokens.size());
}

TEST(KvEngine, FilesArePrivateAndInsideNixlPath) {
  testing::TempDir dir;
  auto e = MakeEngine(SmallConfig(dir.sub("pool"), 4));
  const auto tokens = Tokens(2 * kChunk, 1);
  auto kv = MakeKv(tokens, SmallGeometry());
  ASSERT_TRUE(e->Store(tokens, KvLayout::Contiguous(kv.data(), tokens.size())).ok());
  size_t n = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir.str())) {
    EXPECT_EQ(f.path().filename(), "pool");  // nothing written beside nixl_path
  }
  for (const auto& f : std::filesystem::directory_iterator(dir.sub("pool"))) {
    struct stat st;
    ASSERT_EQ(::stat(f.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f.path();
    EXPECT_EQ(f.path().filename().string().rfind("ferry-kv.", 0), 0u);
    ++n;
  }
  EXPECT_EQ(n, 5u);  // 4 slots + the pool lock
  // A second engine on the same pool is refused instead of corrupting it.
  std::unique_ptr<Engine> second;
  EXPECT_EQ(Engine::Create(SmallConfig(dir.sub("pool"), 4), SmallOptions(), &second).code(),
            Code::kBusy);
}

TEST(KvEngine, SymlinkedSlotIsRefused) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.sub("pool"));
  { auto e = MakeEngine(SmallConfig(dir.sub("pool"), 2)); }
  // Replace a slot by a link pointing outside nixl_path.
  std::string slot;
  for (const auto& f : std::filesystem::directory_iterator(dir.sub("pool"))) {
    if (f.path().string().find(".slot1") != std::string::npos) slot = f.path().string();
  }
  ASSERT_FALSE(slot.empty());
  std::filesystem::remove(slot);
  std::filesystem::create_symlink(dir.sub("victim"), slot);
  std::unique_ptr<Engine> e;
  Status s = Engine::Create(SmallConfig(dir.sub("pool"), 2), SmallOptions(), &e);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(dir.sub("victim")));
}

}  // namespace
}  // namespace ferry::kv
