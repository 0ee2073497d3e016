// Thread safety of the agent and transfer calls themselves: racing registrations of one
// range, racing posts of one transfer, deregistration while a transfer is in flight.
#include <atomic>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/slow_write.h"
#include "integration/test_util.h"

namespace ferry {
namespace {

using ::testing::AnyOf;
using ::testing::Eq;

constexpr int kThreads = 8;

TEST(ApiConcurrencyTest, RacingRegistrationsOfOneRangeExactlyOneWins) {
  test::PosixHarness h(false);
  FERRY_ASSERT_OK(h.Init({}));
  test::AlignedBuffer buf(1 << 16);
  for (int round = 0; round < 20; ++round) {
    std::vector<Status> st(kThreads);
    std::vector<RegHandle> hs(kThreads);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&, t] {
        // Overlapping but not identical ranges.
        st[t] = h.RegisterDram(buf.data() + t * 64, 4096, &hs[t]);
      });
    }
    for (auto& th : ts) th.join();
    int won = 0;
    for (int t = 0; t < kThreads; ++t) {
      if (st[t].ok()) {
        ++won;
        FERRY_EXPECT_OK(h.agent().DeregisterMem(hs[t]));
      } else {
        EXPECT_EQ(st[t].code(), Code::kAlreadyExists) << st[t].ToString();
      }
    }
    ASSERT_EQ(won, 1) << "round " << round;
  }
}

TEST(ApiConcurrencyTest, RacingDeregistrationsExactlyOneSucceeds) {
  test::PosixHarness h(false);
  FERRY_ASSERT_OK(h.Init({}));
  test::AlignedBuffer buf(4096);
  for (int round = 0; round < 20; ++round) {
    RegHandle reg;
    FERRY_ASSERT_OK(h.RegisterDram(buf.data(), 4096, &reg));
    std::atomic<int> ok{0}, released{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&] {
        Status s = h.agent().DeregisterMem(reg);
        if (s.ok()) ++ok;
        if (s.code() == Code::kReleased) ++released;
      });
    }
    for (auto& th : ts) th.join();
    EXPECT_EQ(ok.load(), 1);
    EXPECT_EQ(released.load(), kThreads - 1);
  }
}

TEST(ApiConcurrencyTest, RacingPostsOfOneTransferExactlyOneSubmits) {
  test::SlowWrite slow;
  FERRY_ASSERT_OK(slow.Init());
  std::unique_ptr<Transfer> x;
  FERRY_ASSERT_OK(slow.Create(&x));
  std::vector<Status> st(kThreads);
  std::atomic<bool> go{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      st[t] = x->Post();
    });
  }
  go = true;
  for (auto& th : ts) th.join();
  int posted = 0;
  for (const Status& s : st) {
    if (s.ok()) {
      ++posted;
    } else {
      EXPECT_EQ(s.code(), Code::kBusy) << s.ToString();
    }
  }
  EXPECT_GE(posted, 1);
  EXPECT_EQ(x->telemetry().posts, static_cast<uint64_t>(posted));
  if (posted == 1) FERRY_EXPECT_OK(x->Cancel());
  Status s = x->Wait(test::kWaitLimit);
  EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOk), Eq(Code::kCancelled))) << s.ToString();
}

TEST(ApiConcurrencyTest, TelemetryWhileInFlight) {
  test::SlowWrite slow;
  FERRY_ASSERT_OK(slow.Init());
  std::unique_ptr<Transfer> x;
  FERRY_ASSERT_OK(slow.Create(&x));
  FERRY_ASSERT_OK(x->Post());
  TransferTelemetry t = x->telemetry();
  if (x->Check().code() != Code::kInProgress) GTEST_SKIP() << "finished before observed";
  EXPECT_EQ(t.posts, 1u);
  EXPECT_EQ(t.descriptors, test::SlowWrite::kBlocks);
  EXPECT_EQ(t.bytes, test::SlowWrite::kBlocks * test::SlowWrite::kBlock);
  EXPECT_EQ(t.transfer_time.count(), 0) << "documented as 0 while in flight";
  FERRY_EXPECT_OK(x->Cancel());
  (void)x->Wait(test::kWaitLimit);
}

TEST(ApiConcurrencyTest, DeregisterWhileInFlight) {
  test::PosixHarness h(false);
  FERRY_ASSERT_OK(h.Init({}));
  const uint64_t size = 32 << 20;
  test::AlignedBuffer src(size), dst(size);
  test::FillRandom(src.data(), size, 12);
  RegHandle hs, hf;
  FERRY_ASSERT_OK(h.RegisterDram(src.data(), size, &hs));
  FERRY_ASSERT_OK(h.RegisterDram(dst.data(), size));
  FERRY_ASSERT_OK(h.RegisterFile("f", 1, test::RwCreate(), &hf));
  std::unique_ptr<Transfer> w;
  FERRY_ASSERT_OK(h.agent().CreateTransfer(XferOp::kWrite,
                                           test::DramList({test::Dram(src.data(), size)}),
                                           test::FileList({{0, size, 1}}), "", &w));
  FERRY_ASSERT_OK(w->Post());
  FERRY_EXPECT_OK(h.agent().DeregisterMem(hs));
  FERRY_EXPECT_OK(h.agent().DeregisterMem(hf));
  FERRY_ASSERT_OK(w->Wait(test::kWaitLimit));
  // The file was kept open for the transfer; register it again and check the data.
  FERRY_ASSERT_OK(h.RegisterFile("f", 1, FileOpenFlags{}));
  FERRY_ASSERT_OK(test::RunXfer(h.agent(), XferOp::kRead,
                                test::DramList({test::Dram(dst.data(), size)}),
                                test::FileList({{0, size, 1}})));
  EXPECT_EQ(test::FirstDiff(src.data(), dst.data(), size), -1);
}

}  // namespace
}  // namespace ferry
