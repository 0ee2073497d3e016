// Transfer completion on slow transfers: kBusy while in flight, Wait timeout, the
// completion fd, Cancel, Release and destruction while in flight, calls from many threads.
#include <poll.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/slow_write.h"
#include "integration/test_util.h"

namespace ferry {
namespace {

using ::testing::AnyOf;
using ::testing::Eq;
using namespace std::chrono_literals;

bool Readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

class CompletionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_ASSERT_OK(slow_.Init());
    FERRY_ASSERT_OK(slow_.Create(&x_));
  }
  // Posts and checks the transfer is still running; false if the disk was too fast to see
  // it in flight (the caller then skips: nothing can be asserted about an in-flight state).
  bool PostAndSeeInFlight() {
    Status s = x_->Post();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return s.ok() && x_->Check().code() == Code::kInProgress;
  }
  void CancelAndFinish() {
    (void)x_->Cancel();
    Status s = x_->Wait(test::kWaitLimit);
    EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOk), Eq(Code::kCancelled))) << s.ToString();
  }

  test::SlowWrite slow_;
  std::unique_ptr<Transfer> x_;
};

TEST_F(CompletionTest, PostWhileInFlightIsBusy) {
  if (!PostAndSeeInFlight()) GTEST_SKIP() << "transfer finished before it could be observed";
  Status s = x_->Post();
  EXPECT_EQ(s.code(), Code::kBusy) << s.ToString();
  EXPECT_EQ(x_->telemetry().posts, 1u);
  CancelAndFinish();
}

TEST_F(CompletionTest, WaitTimesOutThenCompletes) {
  if (!PostAndSeeInFlight()) GTEST_SKIP() << "transfer finished before it could be observed";
  auto t0 = std::chrono::steady_clock::now();
  Status s = x_->Wait(20ms);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(s.code(), Code::kTimedOut) << s.ToString();
  EXPECT_GE(waited, 15ms);
  EXPECT_LT(waited, 5s);
  s = x_->Wait(test::kWaitLimit);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_GT(x_->telemetry().transfer_time.count(), 0);
}

TEST_F(CompletionTest, ZeroTimeoutWaitIsAPoll) {
  if (!PostAndSeeInFlight()) GTEST_SKIP() << "transfer finished before it could be observed";
  EXPECT_EQ(x_->Wait(0ns).code(), Code::kTimedOut);
  CancelAndFinish();
}

TEST_F(CompletionTest, CompletionFdBecomesReadable) {
  int fd = -1;
  FERRY_ASSERT_OK(x_->CompletionFd(&fd));
  ASSERT_GE(fd, 0);
  if (!PostAndSeeInFlight()) GTEST_SKIP() << "transfer finished before it could be observed";
  EXPECT_FALSE(Readable(fd, 0)) << "readable while in flight";
  ASSERT_TRUE(Readable(fd, 60000)) << "never became readable";
  FERRY_EXPECT_OK(x_->Check());
  // Stays readable until the next post.
  EXPECT_TRUE(Readable(fd, 0));
  EXPECT_TRUE(Readable(fd, 0));
  int fd2 = -1;
  FERRY_ASSERT_OK(x_->CompletionFd(&fd2));
  EXPECT_EQ(fd, fd2);
  if (!PostAndSeeInFlight()) GTEST_SKIP() << "repost finished before it could be observed";
  EXPECT_FALSE(Readable(fd, 0)) << "still readable after repost";
  CancelAndFinish();
  EXPECT_TRUE(Readable(fd, 0)) << "a cancelled transfer must also signal its fd";
}

TEST_F(CompletionTest, CancelInFlight) {
  if (!PostAndSeeInFlight()) GTEST_SKIP() << "transfer finished before it could be observed";
  auto t0 = std::chrono::steady_clock::now();
  FERRY_ASSERT_OK(x_->Cancel());
  Status s = x_->Wait(test::kWaitLimit);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOk), Eq(Code::kCancelled))) << s.ToString();
  EXPECT_EQ(x_->Check().code(), s.code());
  EXPECT_LT(took, 2s) << "cancel should stop queued I/O, not run it all";
  FERRY_EXPECT_OK(x_->Cancel());  // no-op once complete
}

TEST_F(CompletionTest, RepostAfterCancelWritesEverything) {
  if (!PostAndSeeInFlight()) GTEST_SKIP() << "transfer finished before it could be observed";
  CancelAndFinish();
  FERRY_ASSERT_OK(x_->Post());
  FERRY_ASSERT_OK(x_->Wait(test::kWaitLimit));
  // Read the file back and compare with what was written.
  test::AlignedBuffer back(slow_.buffer().size());
  RegHandle h;
  FERRY_ASSERT_OK(
      test::RegisterOne(slow_.agent(), MemKind::kDram, DramDesc(back.data(), back.size()), &h));
  FERRY_ASSERT_OK(test::RunXfer(slow_.agent(), XferOp::kRead,
                                test::DramList({test::Dram(back.data(), back.size())}),
                                test::FileList({{0, back.size(), 1}})));
  EXPECT_EQ(test::FirstDiff(back.data(), slow_.buffer().data(), back.size()), -1);
}

TEST_F(CompletionTest, ReleaseInFlight) {
  if (!PostAndSeeInFlight()) GTEST_SKIP() << "transfer finished before it could be observed";
  auto t0 = std::chrono::steady_clock::now();
  FERRY_ASSERT_OK(x_->Release());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(x_->Check().code(), Code::kReleased);
  EXPECT_EQ(x_->Post().code(), Code::kReleased);
}

TEST_F(CompletionTest, DestroyInFlight) {
  if (!PostAndSeeInFlight()) GTEST_SKIP() << "transfer finished before it could be observed";
  x_.reset();
  SUCCEED();
}

TEST_F(CompletionTest, WaitCancelAndCheckFromThreeThreads) {
  FERRY_ASSERT_OK(x_->Post());
  std::atomic<bool> done{false};
  Status waited;
  std::thread waiter([&] {
    waited = x_->Wait(test::kWaitLimit);
    done = true;
  });
  std::thread checker([&] {
    while (!done) {
      Code c = x_->Check().code();
      EXPECT_THAT(c, AnyOf(Eq(Code::kInProgress), Eq(Code::kOk), Eq(Code::kCancelled)));
      std::this_thread::sleep_for(1ms);
    }
  });
  std::this_thread::sleep_for(20ms);
  FERRY_EXPECT_OK(x_->Cancel());
  waiter.join();
  checker.join();
  EXPECT_THAT(waited.code(), AnyOf(Eq(Code::kOk), Eq(Code::kCancelled))) << waited.ToString();
}

TEST_F(CompletionTest, ManyWaitersAllWake) {
  FERRY_ASSERT_OK(x_->Post());
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&] {
      if (x_->Wait(test::kWaitLimit).ok()) ++ok;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 4);
}

}  // namespace
}  // namespace ferry
