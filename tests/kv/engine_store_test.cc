// Engine storage behaviour: eviction, pinning, restart persistence, corruption, removal,
// dynamic (one file per key) mode.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "ferry/kv/engine.h"
#include "kv_test_util.h"

namespace ferry::kv {
namespace {

using testing::kChunk;
using testing::MakeEngine;
using testing::MakeKv;
using testing::SmallConfig;
using testing::SmallGeometry;
using testing::SmallOptions;
using testing::Tokens;

// One-chunk prompts, each distinct.
std::vector<int32_t> Prompt(int i) {
  return Tokens(kChunk, 1000 * (i + 1));
}

Status StorePrompt(Engine& e, const std::vector<int32_t>& t) {
  auto kv = MakeKv(t, SmallGeometry());
  return e.Store(t, KvLayout::Contiguous(kv.data(), t.size()));
}

uint64_t RetrieveChecked(Engine& e, const std::vector<int32_t>& t) {
  std::vector<uint8_t> out(t.size() * SmallGeometry().BytesPerToken());
  uint64_t restored = 0;
  Status s = e.Retrieve(t, KvLayout::Contiguous(out.data(), t.size()), &restored);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(testing::PrefixMatches(out, t, SmallGeometry(), restored));
  return restored;
}

TEST(KvStore, EvictsLeastRecentlyUsed) {
  testing::TempDir dir;
  auto e = MakeEngine(SmallConfig(dir.str(), 4));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(StorePrompt(*e, Prompt(i)).ok());
  EXPECT_EQ(RetrieveChecked(*e, Prompt(0)), kChunk);  // 0 becomes most recent; 1 is LRU
  ASSERT_TRUE(StorePrompt(*e, Prompt(4)).ok());
  EXPECT_EQ(e->Lookup(Prompt(1)), 0u);
  for (int i : {0, 2, 3, 4}) EXPECT_EQ(e->Lookup(Prompt(i)), kChunk) << i;
  EXPECT_EQ(e->Stats().evictions, 1u);
  EXPECT_EQ(e->Stats().resident_chunks, 4u);
}

TEST(KvStore, PinnedChunksAreNeverEvictedAndFullPoolFailsVisibly) {
  testing::TempDir dir;
  auto e = MakeEngine(SmallConfig(dir.str(), 3));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(StorePrompt(*e, Prompt(i)).ok());
  ASSERT_TRUE(e->Pin(e->Keys(Prompt(0))[0]).ok());
  ASSERT_TRUE(e->Pin(e->Keys(Prompt(1))[0]).ok());
  ASSERT_TRUE(StorePrompt(*e, Prompt(3)).ok());  // evicts 2, the only unpinned chunk
  EXPECT_EQ(e->Lookup(Prompt(2)), 0u);
  ASSERT_TRUE(e->Pin(e->Keys(Prompt(3))[0]).ok());
  Status s = StorePrompt(*e, Prompt(4));
  EXPECT_EQ(s.code(), Code::kNoSpace);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("pinned"));
  EXPECT_EQ(e->Stats().store_failed_no_space, 1u);
  EXPECT_EQ(e->Lookup(Prompt(4)), 0u);
  EXPECT_EQ(e->Remove(e->Keys(Prompt(0))[0]).code(), Code::kBusy);
  ASSERT_TRUE(e->Unpin(e->Keys(Prompt(0))[0]).ok());
  EXPECT_EQ(e->Unpin(e->Keys(Prompt(0))[0]).code(), Code::kInvalidArgument);
  ASSERT_TRUE(StorePrompt(*e, Prompt(4)).ok());
  EXPECT_EQ(e->Lookup(Prompt(0)), 0u);  // the unpinned one went
  EXPECT_EQ(e->Lookup(Prompt(1)), kChunk);
  EXPECT_EQ(e->Pin(e->Keys(Prompt(9))[0]).code(), Code::kNotFound);
}

TEST(KvStore, RestartKeepsTheCache) {
  testing::TempDir dir;
  const auto tokens = Tokens(5 * kChunk, 21);
  {
    auto e = MakeEngine(SmallConfig(dir.str(), 8));
    ASSERT_TRUE(StorePrompt(*e, tokens).ok());
    ASSERT_TRUE(StorePrompt(*e, Prompt(1)).ok());
    ASSERT_TRUE(StorePrompt(*e, Prompt(2)).ok());
    ASSERT_TRUE(e->Remove(e->Keys(Prompt(2))[0]).ok());
  }
  auto e = MakeEngine(SmallConfig(dir.str(), 8));
  EXPECT_EQ(e->Stats().recovered_chunks, 6u);
  EXPECT_EQ(e->Lookup(tokens), tokens.size());
  EXPECT_EQ(e->Lookup(Prompt(1)), kChunk);
  EXPECT_EQ(e->Lookup(Prompt(2)), 0u);  // removed stays removed
  EXPECT_EQ(RetrieveChecked(*e, Prompt(1)), kChunk);
  // The recovered LRU order is the store order: the prompt's chunk 0 is the oldest.
  ASSERT_TRUE(StorePrompt(*e, Prompt(3)).ok());
  ASSERT_TRUE(StorePrompt(*e, Prompt(4)).ok());
  ASSERT_TRUE(StorePrompt(*e, Prompt(5)).ok());
  EXPECT_EQ(e->Stats().evictions, 1u);
  EXPECT_EQ(e->Lookup(tokens), 0u);
  EXPECT_EQ(e->Lookup(Prompt(1)), kChunk);
  e.reset();
  e = MakeEngine(SmallConfig(dir.str(), 8));
  EXPECT_EQ(e->Lookup(Prompt(5)), kChunk);
  EXPECT_EQ(RetrieveChecked(*e, Prompt(5)), kChunk);
}

TEST(KvStore, DynamicModeRestartAndCapacity) {
  testing::TempDir dir;
  Config c = SmallConfig(dir.str(), 0);
  c.nixl_max_storage_size = 3 * 8192;  // three chunks
  const auto tokens = Tokens(2 * kChunk, 5);
  {
    auto e = MakeEngine(c);
    ASSERT_TRUE(StorePrompt(*e, tokens).ok());
    EXPECT_EQ(RetrieveChecked(*e, tokens), tokens.size());
  }
  auto e = MakeEngine(c);
  EXPECT_EQ(e->Lookup(tokens), tokens.size());
  EXPECT_EQ(RetrieveChecked(*e, tokens), tokens.size());
  ASSERT_TRUE(StorePrompt(*e, Prompt(1)).ok());
  ASSERT_TRUE(StorePrompt(*e, Prompt(2)).ok());  // over capacity: evicts and deletes a file
  EXPECT_EQ(e->Stats().evictions, 1u);
  size_t files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir.str())) {
    files += f.path().string().find(".k") != std::string::npos;
  }
  EXPECT_EQ(files, 3u);
}

// Flips one byte of the first chunk file found.
void FlipByte(const std::string& dir, uint64_t offset) {
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().string().find(".slot0") == std::string::npos) continue;
    std::fstream io(f.path(), std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    io.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    io.seekp(static_cast<std::streamoff>(offset));
    io.write(&c, 1);
    return;
  }
  FAIL() << "no slot file";
}

TEST(KvStore, CorruptionIsAMissAndCounted) {
  testing::TempDir dir;
  Config c = SmallConfig(dir.str(), 4);
  const auto tokens = Tokens(2 * kChunk, 77);
  auto e = MakeEngine(c);
  ASSERT_TRUE(StorePrompt(*e, tokens).ok());
  FlipByte(dir.str(), 4096 + 100);  // payload of chunk 0

  ScanReport report;
  ASSERT_TRUE(ScanStore(c, /*verify=*/true, &report).ok());
  ASSERT_EQ(report.chunks.size(), 2u);
  int bad = 0;
  for (const auto& ch : report.chunks) {
    if (!ch.payload_ok) {
      ++bad;
      EXPECT_THAT(ch.problem, ::testing::HasSubstr("checksum"));
      EXPECT_THAT(ch.file, ::testing::HasSubstr(".slot0"));
    }
  }
  EXPECT_EQ(bad, 1);
  EXPECT_EQ(report.empty_slots, 2u);

  std::vector<uint8_t> out(tokens.size() * SmallGeometry().BytesPerToken(), 0xEE);
  uint64_t restored = 99;
  ASSERT_TRUE(e->Retrieve(tokens, KvLayout::Contiguous(out.data(), tokens.size()), &restored).ok());
  EXPECT_EQ(restored, 0u);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0xEE; }));
  EXPECT_EQ(e->Stats().corrupt_chunks, 1u);
  EXPECT_EQ(e->Lookup(tokens), 0u);  // dropped from the index
  // Storing again repairs it.
  ASSERT_TRUE(StorePrompt(*e, tokens).ok());
  EXPECT_EQ(RetrieveChecked(*e, tokens), tokens.size());
}

TEST(KvStore, CorruptHeaderIsDroppedAtRestart) {
  testing::TempDir dir;
  Config c = SmallConfig(dir.str(), 4);
  const auto tokens = Tokens(kChunk, 8);
  {
    auto e = MakeEngine(c);
    ASSERT_TRUE(StorePrompt(*e, tokens).ok());
  }
  FlipByte(dir.str(), 20);  // inside the header's key
  auto e = MakeEngine(c);
  EXPECT_EQ(e->Lookup(tokens), 0u);
  EXPECT_EQ(e->Stats().corrupt_chunks, 1u);
  ScanReport report;
  ASSERT_TRUE(ScanStore(c, true, &report).ok());
  EXPECT_TRUE(report.chunks.empty());  // wiped at recovery
}

TEST(KvStore, ClearRemovesOnlyFerryFiles) {
  testing::TempDir dir;
  Config c = SmallConfig(dir.str(), 2);
  std::ofstream(dir.sub("keep.txt")) << "mine";
  {
    auto e = MakeEngine(c);
    ASSERT_TRUE(StorePrompt(*e, Prompt(0)).ok());
    uint64_t removed = 0;
    EXPECT_EQ(ClearStore(c, &removed).code(), Code::kBusy);  // engine holds the pool
  }
  uint64_t removed = 0;
  ASSERT_TRUE(ClearStore(c, &removed).ok());
  EXPECT_EQ(removed, 3u) << "the two slots and the pool's lock file";
  EXPECT_TRUE(std::filesystem::exists(dir.sub("keep.txt")));
  auto e = MakeEngine(c);
  EXPECT_EQ(e->Lookup(Prompt(0)), 0u);
}

// Chunks above 4 MiB are written in pieces with the header last (engine_io.cc). Rows of
// 1600 bytes make the (plane, layer) runs end off 4 KiB boundaries; a pool of 2 slots makes
// later chunks reuse slots that hold an older chunk's header.
TEST(KvStore, LargeChunksWrittenInPiecesRoundTripAndSurviveRestart) {
  for (const bool direct : {false, true}) {
    for (const int64_t pool : {int64_t{2}, int64_t{0}}) {
      testing::TempDir dir;
      const KvGeometry g{8, 8, 50, DType::kBf16, false};  // 12.5 KiB per token
      Config c = testing::SmallConfig(dir.str(), pool);
      c.chunk_size = 600;  // 7.3 MiB chunks
      c.use_direct_io = direct;
      c.save_unfull_chunk = true;
      c.nixl_buffer_size = 2 * (4096 + 7680000);
      EngineOptions o = SmallOptions();
      o.geometry = g;
      auto check = [&](Engine& e, const std::vector<int32_t>& t) {
        std::vector<uint8_t> out(t.size() * g.BytesPerToken());
        uint64_t restored = 0;
        ASSERT_TRUE(e.Retrieve(t, KvLayout::Contiguous(out.data(), t.size()), &restored).ok());
        EXPECT_EQ(restored, t.size());
        EXPECT_TRUE(testing::PrefixMatches(out, t, g, restored));
      };
      const auto a = Tokens(1000, 5), b = Tokens(600, 70000);  // a: one full + one partial
      {
        auto e = MakeEngine(c, o);
        for (const auto* t : {&a, &b, &a}) {
          auto kv = MakeKv(*t, g);
          ASSERT_TRUE(e->Store(*t, KvLayout::Contiguous(kv.data(), t->size())).ok());
        }
        check(*e, a);
      }
      auto e = MakeEngine(c, o);
      EXPECT_EQ(e->Stats().corrupt_chunks, 0u) << "direct " << direct << " pool " << pool;
      EXPECT_EQ(e->Lookup(a), a.size());
      check(*e, a);
      ScanReport report;
      ASSERT_TRUE(ScanStore(c, /*verify=*/true, &report).ok());
      for (const auto& chunk : report.chunks) EXPECT_TRUE(chunk.payload_ok) << chunk.problem;
    }
  }
}

// Batches of multi-piece chunks as deep as the queue, the second one over slots that hold
// the first one's chunks: every chunk verifies after restart and the newest are all there.
TEST(KvStore, BatchOfPieceWrittenChunksOverReusedSlotsVerifiesAfterRestart) {
  for (const bool direct : {false, true}) {
    testing::TempDir dir;
    const KvGeometry g{8, 8, 50, DType::kBf16, false};  // 12.5 KiB per token
    Config c = testing::SmallConfig(dir.str(), /*pool=*/3);
    c.chunk_size = 600;  // 7.3 MiB chunks: a 4 MiB piece and a tail each
    c.use_direct_io = direct;
    c.nixl_buffer_size = 3 * (4096 + 7680000);
    EngineOptions o = SmallOptions();
    o.geometry = g;
    o.queue_depth = 3;
    auto prompt = [](int i) { return Tokens(600, 100000 * (i + 1)); };
    {
      auto e = MakeEngine(c, o);
      ASSERT_NE(e, nullptr);
      for (int first : {0, 3}) {  // prompts 0-2, then 3-5 into the same three slots
        std::vector<std::vector<int32_t>> t;
        std::vector<std::vector<uint8_t>> kv;
        std::vector<StoreRequest> reqs;
        for (int i = first; i < first + 3; ++i) t.push_back(prompt(i));
        for (const auto& x : t) kv.push_back(MakeKv(x, g));
        for (size_t i = 0; i < t.size(); ++i)
          reqs.push_back({t[i], KvLayout::Contiguous(kv[i].data(), 600)});
        std::vector<StoreResult> results;
        Status s = e->BatchedStore(reqs, &results);
        ASSERT_TRUE(s.ok()) << s.ToString() << ", direct " << direct;
        for (const auto& r : results) EXPECT_EQ(r.chunks_written, 1u);
      }
    }
    auto e = MakeEngine(c, o);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->Stats().corrupt_chunks, 0u) << "direct " << direct;
    ScanReport report;
    ASSERT_TRUE(ScanStore(c, /*verify=*/true, &report).ok());
    EXPECT_EQ(report.chunks.size(), 3u);
    for (const auto& chunk : report.chunks) EXPECT_TRUE(chunk.payload_ok) << chunk.problem;
    for (int i = 0; i < 6; ++i) {
      const auto t = prompt(i);
      std::vector<uint8_t> out(t.size() * g.BytesPerToken());
      uint64_t restored = 0;
      ASSERT_TRUE(e->Retrieve(t, KvLayout::Contiguous(out.data(), t.size()), &restored).ok());
      EXPECT_EQ(restored, i < 3 ? 0u : t.size()) << "prompt " << i << ", direct " << direct;
      EXPECT_TRUE(testing::PrefixMatches(out, t, g, restored)) << "prompt " << i;
    }
  }
}

// The pool's disk space is reserved when the engine opens it, and a reservation the
// filesystem refuses stops the engine with an error naming the slot file.
TEST(KvStore, PoolSpaceIsReservedAtOpen) {
  testing::TempDir dir;
  Config c = SmallConfig(dir.str(), /*pool=*/4);
  {
    auto e = MakeEngine(c);
    ASSERT_NE(e, nullptr);
  }
  int slots = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir.str())) {
    if (f.path().string().find(".slot") == std::string::npos) continue;
    ++slots;
    EXPECT_GE(std::filesystem::file_size(f.path()), 8192u) << f.path();
  }
  EXPECT_EQ(slots, 4);

  // A file size limit below one page makes the reservation fail (EFBIG, SIGXFSZ ignored).
  testing::TempDir dir2;
  Config c2 = SmallConfig(dir2.str(), /*pool=*/4);
  struct rlimit old {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::unique_ptr<Engine> e;
  Status s = Engine::Create(c2, SmallOptions(), &e);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), ::testing::HasSubstr("reserving 8192 bytes"));
  EXPECT_THAT(s.message(), ::testing::HasSubstr(".slot0"));
}

}  // namespace
}  // namespace ferry::kv
