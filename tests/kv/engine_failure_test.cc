// The engine when storage fails or is tampered with: failed stores leave nothing behind
// and no header over a failed payload; a bad file at start is a counted skip; files
// planted under Ferry's names are never written through; configuration bounds.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/kv/engine.h"
#include "kv/kv_test_util.h"

namespace ferry::kv {
namespace {

using ::testing::HasSubstr;
using testing::kChunk;
using testing::MakeEngine;
using testing::MakeKv;
using testing::SmallConfig;
using testing::SmallGeometry;
using testing::SmallOptions;
using testing::TempDir;
using testing::Tokens;

std::vector<std::string> FilesIn(const std::string& dir, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    const std::string n = f.path().filename().string();
    if (n.find(needle) != std::string::npos) out.push_back(n);
  }
  return out;
}

Status Store(Engine& e, const std::vector<int32_t>& t) {
  const auto kv = MakeKv(t, SmallGeometry());
  return e.Store(t, KvLayout::Contiguous(const_cast<uint8_t*>(kv.data()), t.size()));
}

// Writes past RLIMIT_FSIZE fail with EFBIG (SIGXFSZ ignored): a disk that fills up at a
// chosen offset, without a filesystem of our own.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t bytes) {
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &old_);
    rlimit l = old_;
    l.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &l);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  sighandler_t old_handler_;
};

TEST(KvFailure, AFailedDynamicStoreLeavesNoFileBehind) {
  TempDir dir;
  Config c = SmallConfig(dir.str(), 0);
  c.nixl_backend_params = {{"engine", "threads"}};
  auto e = MakeEngine(c);
  ASSERT_NE(e, nullptr);
  {
    FileSizeLimit full(4096);  // a chunk file needs 8 KiB
    Status s = Store(*e, Tokens(2 * kChunk, 5));
    EXPECT_FALSE(s.ok());
  }
  EXPECT_THAT(FilesIn(dir.str(), ".k"), ::testing::IsEmpty());
  EXPECT_GE(e->Stats().store_failed_io, 1u);
  EXPECT_EQ(e->Lookup(Tokens(2 * kChunk, 5)), 0u);
  EXPECT_TRUE(Store(*e, Tokens(2 * kChunk, 5)).ok()) << "the disk has room again";
  EXPECT_EQ(e->Lookup(Tokens(2 * kChunk, 5)), 2 * kChunk);
}

// Review finding H3: a chunk whose first piece failed got its header written anyway, so a
// restart recovered it as a hit.
TEST(KvFailure, AChunkWhoseFirstPieceFailedIsNotRecoveredAsAHit) {
  TempDir dir;
  Config c = SmallConfig(dir.str(), 4);
  c.chunk_size = 64;
  c.nixl_backend_params = {{"engine", "threads"}};
  EngineOptions o = SmallOptions();
  o.geometry = {32, 8, 128, DType::kBf16, false};  // 128 KiB a token: 8 MiB chunks, in pieces
  c.nixl_buffer_size = 4 * (4096 + (8ull << 20));
  const auto t = Tokens(3 * 64, 9);
  const auto kv = MakeKv(t, o.geometry);
  {
    auto e = MakeEngine(c, o);
    ASSERT_NE(e, nullptr);
    FileSizeLimit full(2 << 20);  // inside every slot's first piece
    Status s = e->Store(t, KvLayout::Contiguous(const_cast<uint8_t*>(kv.data()), t.size()));
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(e->Lookup(t), 0u);
  }
  auto e = MakeEngine(c, o);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Stats().recovered_chunks, 0u);
  EXPECT_EQ(e->Lookup(t), 0u);
}

// Review finding H4: one unreadable chunk file stopped the engine from starting.
TEST(KvFailure, AnUnreadableChunkFileIsACountedSkipAtStart) {
  TempDir dir;
  Config c = SmallConfig(dir.str(), 0);
  {
    auto e = MakeEngine(c);
    ASSERT_TRUE(Store(*e, Tokens(3 * kChunk, 1)).ok());
  }
  auto files = FilesIn(dir.str(), ".k");
  ASSERT_EQ(files.size(), 3u);
  // Unopenable for the engine: mode 000 stops a user; root reads through modes, but the
  // engine opens its files owned_only, so a file given to another user stops it too.
  if (::geteuid() == 0)
    ASSERT_EQ(::chown(dir.sub(files[1]).c_str(), 65534, 65534), 0);
  else
    ASSERT_EQ(::chmod(dir.sub(files[1]).c_str(), 0), 0);
  auto e = MakeEngine(c);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Stats().recovered_chunks, 2u);
  EXPECT_EQ(e->Stats().recovery_skipped, 1u);
}

TEST(KvFailure, AForeignFileUnderAChunkNameIsACountedSkipAtStart) {
  TempDir dir;
  Config c = SmallConfig(dir.str(), 0);
  {
    auto e = MakeEngine(c);
    ASSERT_TRUE(Store(*e, Tokens(2 * kChunk, 1)).ok());
  }
  auto files = FilesIn(dir.str(), ".k");
  ASSERT_EQ(files.size(), 2u);
  // The same name, now a directory: the engine starts, skips it, serves the rest.
  std::filesystem::remove(dir.sub(files[1]));
  std::filesystem::create_directory(dir.sub(files[1]));
  auto e = MakeEngine(c);
  ASSERT_NE(e, nullptr);
  EXPECT_GE(e->Stats().recovered_chunks, 1u);
  EXPECT_EQ(e->Stats().recovery_skipped, 1u);
  ScanReport r;
  ASSERT_TRUE(ScanStore(c, true, &r).ok());
  bool reported = false;
  for (const auto& ch : r.chunks) reported |= ch.problem.find("directory") != std::string::npos;
  EXPECT_TRUE(reported) << "verify must name the directory at a chunk name";
}

// A dynamic file shorter than a header (a store that never finished) is a problem for
// verify, not an empty slot, and the engine removes it at start.
TEST(KvFailure, ATruncatedKeyFileIsReportedAndRemovedAtStart) {
  TempDir dir;
  Config c = SmallConfig(dir.str(), 0);
  {
    auto e = MakeEngine(c);
    ASSERT_TRUE(Store(*e, Tokens(kChunk, 1)).ok());
  }
  auto files = FilesIn(dir.str(), ".k");
  ASSERT_EQ(files.size(), 1u);
  std::filesystem::resize_file(dir.sub(files[0]), 100);
  ScanReport r;
  ASSERT_TRUE(ScanStore(c, true, &r).ok());
  ASSERT_EQ(r.chunks.size(), 1u);
  EXPECT_THAT(r.chunks[0].problem, HasSubstr("shorter than a chunk header"));
  EXPECT_EQ(r.empty_slots, 0u);
  auto e = MakeEngine(c);
  ASSERT_NE(e, nullptr);
  EXPECT_THAT(FilesIn(dir.str(), ".k"), ::testing::IsEmpty());
}

// Planted links and other users' files at slot names are never written through.
TEST(KvFailure, ASlotNameHardLinkedToAnotherFileIsRefused) {
  TempDir dir;
  Config c = SmallConfig(dir.str(), 2);
  { auto e = MakeEngine(c); }  // learn the slot names
  auto slots = FilesIn(dir.str(), ".slot");
  ASSERT_EQ(slots.size(), 2u);
  const std::string victim = dir.sub("victim.txt");
  std::ofstream(victim) << "precious";
  std::filesystem::remove(dir.sub(slots[0]));
  ASSERT_EQ(::link(victim.c_str(), dir.sub(slots[0]).c_str()), 0);
  std::unique_ptr<Engine> e;
  Status s = Engine::Create(c, SmallOptions(), &e);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("hard links"));
  std::ifstream in(victim);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST(KvFailure, ASlotPrecreatedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a file another user's";
  TempDir dir;
  Config c = SmallConfig(dir.str(), 2);
  { auto e = MakeEngine(c); }
  auto slots = FilesIn(dir.str(), ".slot");
  ASSERT_EQ(slots.size(), 2u);
  ASSERT_EQ(::chown(dir.sub(slots[1]).c_str(), 65534, 65534), 0);
  ASSERT_EQ(::chmod(dir.sub(slots[1]).c_str(), 0666), 0);
  std::unique_ptr<Engine> e;
  Status s = Engine::Create(c, SmallOptions(), &e);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
}

TEST(KvFailure, APoolLargerThanTheFreeSpaceIsRefusedBeforeAnyReservation) {
  TempDir dir;
  struct statvfs fs {};
  ASSERT_EQ(::statvfs(dir.str().c_str(), &fs), 0);
  const uint64_t free_bytes = uint64_t(fs.f_bavail) * fs.f_frsize;
  Config c = SmallConfig(dir.str(), 1);
  c.chunk_size = 1 << 20;  // 256 MiB chunks of the small model
  const uint64_t page = 4096 + (uint64_t{1} << 20) * SmallGeometry().BytesPerToken();
  c.nixl_buffer_size = page;
  c.nixl_pool_size = int64_t(std::min<uint64_t>(free_bytes / page * 2 + 2, 900));
  if (uint64_t(c.nixl_pool_size) * page <= free_bytes) GTEST_SKIP() << "this disk is too large";
  std::unique_ptr<Engine> e;
  Status s = Engine::Create(c, SmallOptions(), &e);
  EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("nixl_pool_size"));
  EXPECT_THAT(FilesIn(dir.str(), ".slot"), ::testing::IsEmpty()) << "nothing was reserved";
}

TEST(KvFailure, APoolNeedingMoreFilesThanTheProcessMayOpenIsRefusedUpFront) {
  TempDir dir;
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = 256;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  // liburing raises the soft limit by its fixed-file table (4096) when it registers it, so
  // the pool is made larger than that too.
  Config c = SmallConfig(dir.str(), 5000);
  std::unique_ptr<Engine> e;
  Status s = Engine::Create(c, SmallOptions(), &e);
  ::setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("open files"));
  EXPECT_THAT(FilesIn(dir.str(), ".slot"), ::testing::IsEmpty());
}

// Review finding H2: dynamic mode removed an evicted key's file after the index let go of
// it, so a store of the same key in between lost its file (a ghost entry). Threads thrash
// a pool a little smaller than their working set; every chunk the index serves must load.
TEST(KvFailure, EvictionRacingWithAStoreOfTheSameKeyLeavesNoGhost) {
  TempDir dir;
  Config c = SmallConfig(dir.str(), 0);
  c.nixl_max_storage_size = 5 * 8192;  // five chunks
  EngineOptions o = SmallOptions();
  o.lookup_key_memo = false;
  auto e = MakeEngine(c, o);
  ASSERT_NE(e, nullptr);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 6; ++i) prompts.push_back(Tokens(kChunk, 1000 * (i + 1)));
  std::atomic<int> bad_loads{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 400; ++i) {
        const auto& p = prompts[rng() % prompts.size()];
        (void)Store(*e, p);
        std::vector<uint8_t> out(p.size() * SmallGeometry().BytesPerToken());
        uint64_t restored = 0;
        if (!e->Retrieve(p, KvLayout::Contiguous(out.data(), p.size()), &restored).ok())
          bad_loads.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad_loads.load(), 0);
  EXPECT_EQ(e->Stats().load_failed_io, 0u);
  // Every chunk the index holds is on storage.
  for (const auto& p : prompts) {
    if (e->Lookup(p) == 0) continue;
    std::vector<uint8_t> out(p.size() * SmallGeometry().BytesPerToken());
    uint64_t restored = 0;
    ASSERT_TRUE(e->Retrieve(p, KvLayout::Contiguous(out.data(), p.size()), &restored).ok());
  }
}

}  // namespace
}  // namespace ferry::kv

namespace ferry::kv {
namespace {

// A crash after a dynamic file was reserved but before its header landed leaves a full-size
// file of zeros: never a chunk, so the next start removes it instead of leaving it
// uncounted forever.
TEST(KvFailureRecovery, ADynamicFileWithNoHeaderIsRemovedAtStart) {
  testing::TempDir dir;
  Config c = testing::SmallConfig(dir.str(), 0);
  {
    auto e = testing::MakeEngine(c);
    ASSERT_TRUE(Store(*e, testing::Tokens(2 * testing::kChunk, 3)).ok());
  }
  auto files = FilesIn(dir.str(), ".k");
  ASSERT_EQ(files.size(), 2u);
  {
    std::fstream f(dir.sub(files[0]), std::ios::in | std::ios::out | std::ios::binary);
    const std::string zeros(4096, '\0');
    f.write(zeros.data(), std::streamsize(zeros.size()));
  }
  auto e = testing::MakeEngine(c);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Stats().recovered_chunks, 1u);
  EXPECT_EQ(FilesIn(dir.str(), ".k").size(), 1u) << "the headerless file stayed";
}

}  // namespace
}  // namespace ferry::kv

namespace ferry::kv {
namespace {

// Review finding H2, deterministically: the removal of an evicted copy may land after a new
// store of the same key (the race). It must remove only the evicted copy's own file.
TEST(KvFailureRecovery, RemovingAnEvictedCopyLateNeverRemovesANewerStoreOfTheKey) {
  testing::TempDir dir;
  Config c = testing::SmallConfig(dir.str(), 0);
  c.nixl_max_storage_size = 8192;  // one chunk
  EngineOptions o = testing::SmallOptions();
  o.lookup_key_memo = false;
  auto e = testing::MakeEngine(c, o);
  ASSERT_NE(e, nullptr);
  const auto a = testing::Tokens(testing::kChunk, 100);
  const auto b = testing::Tokens(testing::kChunk, 200);
  ASSERT_TRUE(Store(*e, a).ok());
  const auto first = FilesIn(dir.str(), ".k");
  ASSERT_EQ(first.size(), 1u);
  const std::string evicted_name = first[0];
  ASSERT_TRUE(Store(*e, b).ok());  // evicts a
  ASSERT_TRUE(Store(*e, a).ok());  // evicts b, stores a again
  // What the racing eviction would do last: remove the name the evicted copy had.
  std::filesystem::remove(dir.sub(evicted_name));
  ASSERT_EQ(e->Lookup(a), a.size());
  std::vector<uint8_t> out(a.size() * SmallGeometry().BytesPerToken());
  uint64_t restored = 0;
  Status s = e->Retrieve(a, KvLayout::Contiguous(out.data(), a.size()), &restored);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(restored, a.size()) << "the index serves a chunk whose file is gone";
}

}  // namespace
}  // namespace ferry::kv
