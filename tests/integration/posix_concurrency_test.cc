// POSIX backend, every engine: 8 threads, each posting its own transfers on one shared
// agent and backend, verifying its data; and registrations racing with transfers.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using test::AlignedBuffer;
using test::Dram;

constexpr int kThreads = 8;
constexpr int kRounds = 12;
constexpr uint64_t kChunk = 64 * 1024;
constexpr int kDescs = 4;

class ConcurrencyTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && !test::KernelHasIoUring()) GTEST_SKIP() << "io_uring disabled";
    FERRY_ASSERT_OK(h_.Init(test::EngineParams(GetParam(), {{test::kQueueDepthKey, "16"}})));
  }

  // One thread's work: its own buffers, its own transfers; file `file_id` at `base`.
  // Returns "" or what went wrong.
  std::string Worker(int t, uint64_t file_id, uint64_t base) {
    AlignedBuffer src(kDescs * kChunk), dst(kDescs * kChunk);
    RegHandle hs, hd;
    Status s = h_.RegisterDram(src.data(), src.size(), &hs);
    if (s.ok()) s = h_.RegisterDram(dst.data(), dst.size(), &hd);
    if (!s.ok()) return "register: " + s.ToString();
    XferDescList ls, ld, f;
    ls.kind = ld.kind = MemKind::kDram;
    f.kind = MemKind::kFile;
    for (int i = 0; i < kDescs; ++i) {
      ls.descs.push_back(Dram(src.data() + i * kChunk, kChunk));
      ld.descs.push_back(Dram(dst.data() + i * kChunk, kChunk));
      // Reverse order on the file side.
      f.descs.push_back({base + (kDescs - 1 - i) * kChunk, kChunk, file_id});
    }
    std::unique_ptr<Transfer> w, r;
    s = h_.agent().CreateTransfer(XferOp::kWrite, ls, f, "", &w);
    if (s.ok()) s = h_.agent().CreateTransfer(XferOp::kRead, ld, f, "", &r);
    if (!s.ok()) return "create: " + s.ToString();
    for (int round = 0; round < kRounds; ++round) {
      test::FillRandom(src.data(), src.size(), uint64_t(t) * 1000 + round);
      std::memset(dst.data(), 0, dst.size());
      s = w->Post();
      if (s.ok()) s = w->Wait(test::kWaitLimit);
      if (!s.ok()) return "write round " + std::to_string(round) + ": " + s.ToString();
      s = r->Post();
      if (s.ok()) s = r->Wait(test::kWaitLimit);
      if (!s.ok()) return "read round " + std::to_string(round) + ": " + s.ToString();
      if (test::FirstDiff(src.data(), dst.data(), src.size()) != -1) {
        return "data mismatch in round " + std::to_string(round);
      }
    }
    r.reset();
    w.reset();
    s = h_.agent().DeregisterMem(hs);
    if (s.ok()) s = h_.agent().DeregisterMem(hd);
    return s.ok() ? "" : "deregister: " + s.ToString();
  }

  void RunAll(bool own_files) {
    if (!own_files) FERRY_ASSERT_OK(h_.RegisterFile("shared", 1, test::RwCreate()));
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        uint64_t id = 1;
        if (own_files) {
          id = 10 + t;
          Status s = h_.RegisterFile("own" + std::to_string(t), id, test::RwCreate());
          if (!s.ok()) {
            errors[t] = "register file: " + s.ToString();
            return;
          }
        }
        errors[t] = Worker(t, id, own_files ? 0 : t * kDescs * kChunk);
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  }

  test::PosixHarness h_{false};
};

TEST_P(ConcurrencyTest, EightThreadsOneSharedFile) {
  RunAll(false);
}

TEST_P(ConcurrencyTest, EightThreadsOwnFiles) {
  RunAll(true);
}

INSTANTIATE_TEST_SUITE_P(AllEngines, ConcurrencyTest, ::testing::ValuesIn(test::kEngines));

// Many threads creating transfers from one prepared list at once.
TEST(ConcurrencyPreppedTest, MakeTransferFromManyThreads) {
  test::PosixHarness h(false);
  FERRY_ASSERT_OK(h.Init({}));
  AlignedBuffer buf(kThreads * kChunk);
  test::FillRandom(buf.data(), buf.size(), 8);
  FERRY_ASSERT_OK(h.RegisterDram(buf.data(), buf.size()));
  FERRY_ASSERT_OK(h.RegisterFile("p", 1, test::RwCreate()));
  XferDescList l, f;
  l.kind = MemKind::kDram;
  f.kind = MemKind::kFile;
  for (int i = 0; i < kThreads; ++i) {
    l.descs.push_back(Dram(buf.data() + i * kChunk, kChunk));
    f.descs.push_back({i * kChunk, kChunk, 1});
  }
  std::shared_ptr<const PreppedList> pl, pf;
  FERRY_ASSERT_OK(h.agent().PrepDescList(l, "", &pl));
  FERRY_ASSERT_OK(h.agent().PrepDescList(f, "", &pf));
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (uint32_t t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        std::unique_ptr<Transfer> x;
        uint32_t idx[] = {t};
        if (!h.agent().MakeTransfer(XferOp::kWrite, *pl, idx, *pf, idx, &x).ok()) return;
        if (!x->Post().ok() || !x->Wait(test::kWaitLimit).ok()) return;
      }
      ++ok;
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(ok.load(), kThreads);
}

}  // namespace
}  // namespace ferry
