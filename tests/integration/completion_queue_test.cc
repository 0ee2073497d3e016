// CompletionQueue: every completion of an attached transfer arrives once, with its tag,
// after Check() stopped saying kInProgress; failures, cancels and reposts included; many
// consumers share the tags; Wait sleeps and wakes.
#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/completion_queue.h"
#include "integration/test_util.h"

namespace ferry {
namespace {

using test::AlignedBuffer;
using test::Dram;
using namespace std::chrono_literals;

constexpr uint64_t kBlock = 4096;

class CompletionQueueTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && !test::KernelHasIoUring()) GTEST_SKIP() << "io_uring disabled";
    FERRY_ASSERT_OK(h_.Init(test::EngineParams(GetParam())));
    test::FillRandom(buf_.data(), buf_.size(), 21);
    FERRY_ASSERT_OK(h_.RegisterDram(buf_.data(), buf_.size()));
    FERRY_ASSERT_OK(h_.RegisterFile("f", 1, test::RwCreate()));
  }

  // A one-block transfer of block `i`, attached to `q_` with tag `tag`.
  std::unique_ptr<Transfer> Make(XferOp op, uint64_t i, uint64_t tag) {
    XferOptions o;
    o.completion_queue = q_;
    o.tag = tag;
    std::unique_ptr<Transfer> x;
    Status s =
        h_.agent().CreateTransfer(op, test::DramList({Dram(buf_.data() + i * kBlock, kBlock)}),
                                  test::FileList({{i * kBlock, kBlock, 1}}), "", &x, o);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return x;
  }

  // Takes tags until `n` arrived (or the test's wait limit passed).
  std::vector<uint64_t> Take(size_t n) {
    std::vector<uint64_t> tags;
    const auto deadline = std::chrono::steady_clock::now() + test::kWaitLimit;
    while (tags.size() < n && std::chrono::steady_clock::now() < deadline) q_->Wait(&tags, 1s);
    return tags;
  }

  test::PosixHarness h_{false};
  AlignedBuffer buf_{64 * kBlock};
  std::shared_ptr<CompletionQueue> q_ = CompletionQueue::Create();
};

TEST_P(CompletionQueueTest, EachCompletionArrivesOnceWithItsTagAfterTheState) {
  std::vector<std::unique_ptr<Transfer>> xs;
  for (uint64_t i = 0; i < 32; ++i) xs.push_back(Make(XferOp::kWrite, i, 1000 + i));
  for (auto& x : xs) FERRY_ASSERT_OK(x->Post());
  std::set<uint64_t> seen;
  for (uint64_t tag : Take(32)) {
    EXPECT_TRUE(seen.insert(tag).second) << "tag " << tag << " twice";
    ASSERT_GE(tag, 1000u);
    ASSERT_LT(tag, 1032u);
    EXPECT_TRUE(xs[tag - 1000]->Check().ok()) << "tag " << tag << " before its transfer finished";
  }
  EXPECT_EQ(seen.size(), 32u);
  std::vector<uint64_t> extra;
  EXPECT_EQ(q_->Poll(&extra), 0u);
  EXPECT_EQ(q_->size(), 0u);
}

TEST_P(CompletionQueueTest, EveryRepostReportsAgain) {
  auto x = Make(XferOp::kWrite, 0, 7);
  for (int i = 0; i < 5; ++i) {
    FERRY_ASSERT_OK(x->Post());
    EXPECT_EQ(Take(1), std::vector<uint64_t>{7}) << "post " << i;
  }
}

TEST_P(CompletionQueueTest, ErrorsAndCancelsReportAFailedPostDoesNot) {
  // The file is empty: reading block 40 is past its end, an error completion.
  auto bad = Make(XferOp::kRead, 40, 1);
  FERRY_ASSERT_OK(bad->Post());
  EXPECT_EQ(Take(1), std::vector<uint64_t>{1});
  EXPECT_EQ(bad->Check().code(), Code::kOutOfRange);

  auto x = Make(XferOp::kWrite, 0, 2);
  FERRY_ASSERT_OK(x->Post());
  (void)x->Cancel();
  EXPECT_EQ(Take(1), std::vector<uint64_t>{2});
  EXPECT_NE(x->Check().code(), Code::kInProgress);

  FERRY_ASSERT_OK(x->Release());
  EXPECT_EQ(x->Post().code(), Code::kReleased);
  std::vector<uint64_t> none;
  EXPECT_EQ(q_->Wait(&none, 50ms), 0u) << "a refused Post reported a completion";
}

TEST_P(CompletionQueueTest, WaitReturnsAtMostMaxAndLeavesTheRest) {
  std::vector<std::unique_ptr<Transfer>> xs;
  for (uint64_t i = 0; i < 6; ++i) xs.push_back(Make(XferOp::kWrite, i, i));
  for (auto& x : xs) {
    FERRY_ASSERT_OK(x->Post());
    FERRY_ASSERT_OK(x->Wait(test::kWaitLimit));
  }
  std::vector<uint64_t> tags;
  EXPECT_EQ(q_->Wait(&tags, 1s, 4), 4u);
  EXPECT_EQ(q_->size(), 2u);
  EXPECT_EQ(q_->Poll(&tags), 2u);
  std::sort(tags.begin(), tags.end());
  EXPECT_EQ(tags, (std::vector<uint64_t>{0, 1, 2, 3, 4, 5}));
}

INSTANTIATE_TEST_SUITE_P(Engines, CompletionQueueTest, ::testing::ValuesIn(test::kEngines),
                         [](const auto& info) { return info.param; });

TEST(CompletionQueue, WaitTimesOutEmptyAndWakesOnAPush) {
  auto q = CompletionQueue::Create();
  std::vector<uint64_t> tags;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(q->Wait(&tags, 30ms), 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  EXPECT_TRUE(tags.empty());

  // A thread asleep in Wait is woken by a transfer completing in another thread.
  test::PosixHarness h(false);
  FERRY_ASSERT_OK(h.Init({}));
  AlignedBuffer buf(kBlock);
  FERRY_ASSERT_OK(h.RegisterDram(buf.data(), buf.size()));
  FERRY_ASSERT_OK(h.RegisterFile("f", 1, test::RwCreate()));
  XferOptions o;
  o.completion_queue = q;
  o.tag = 42;
  std::unique_ptr<Transfer> x;
  FERRY_ASSERT_OK(h.agent().CreateTransfer(XferOp::kWrite,
                                           test::DramList({Dram(buf.data(), kBlock)}),
                                           test::FileList({{0, kBlock, 1}}), "", &x, o));
  std::thread poster([&] {
    std::this_thread::sleep_for(50ms);
    (void)x->Post();
  });
  EXPECT_EQ(q->Wait(&tags, test::kWaitLimit), 1u);
  poster.join();
  EXPECT_EQ(tags, std::vector<uint64_t>{42});
}

// Four consumers share one queue fed by 400 completions: each tag reaches exactly one.
TEST(CompletionQueue, ManyConsumersEachTagOnce) {
  test::PosixHarness h(false);
  FERRY_ASSERT_OK(h.Init({}));
  constexpr int kTransfers = 400;
  AlignedBuffer buf(kTransfers * 512);
  FERRY_ASSERT_OK(h.RegisterDram(buf.data(), buf.size()));
  FERRY_ASSERT_OK(h.RegisterFile("f", 1, test::RwCreate()));
  auto q = CompletionQueue::Create();
  std::vector<std::unique_ptr<Transfer>> xs(kTransfers);
  for (int i = 0; i < kTransfers; ++i) {
    XferOptions o;
    o.completion_queue = q;
    o.tag = uint64_t(i);
    FERRY_ASSERT_OK(
        h.agent().CreateTransfer(XferOp::kWrite, test::DramList({Dram(buf.data() + i * 512, 512)}),
                                 test::FileList({{uint64_t(i) * 512, 512, 1}}), "", &xs[i], o));
  }
  std::atomic<int> taken{0};
  std::vector<std::vector<uint64_t>> got(4);
  std::vector<std::thread> consumers;
  for (int c = 0; c < 4; ++c) {
    consumers.emplace_back([&, c] {
      const auto deadline = std::chrono::steady_clock::now() + test::kWaitLimit;
      while (taken.load() < kTransfers && std::chrono::steady_clock::now() < deadline)
        taken += int(q->Wait(&got[c], 20ms, 7));
    });
  }
  for (auto& x : xs) FERRY_ASSERT_OK(x->Post());
  for (auto& t : consumers) t.join();
  std::vector<uint64_t> all;
  for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), size_t(kTransfers));
  for (int i = 0; i < kTransfers; ++i) EXPECT_EQ(all[i], uint64_t(i));
}

}  // namespace
}  // namespace ferry
