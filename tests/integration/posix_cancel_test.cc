// POSIX backend, every engine: cancelling big requests never hangs, leaves the transfer
// reusable and does not disturb other requests.
#include <chrono>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using test::AlignedBuffer;
using test::Dram;
using test::DramList;
using test::FileList;
using ::testing::AnyOf;
using ::testing::Eq;

constexpr uint64_t kBig = 64 << 20;

class CancelTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && !test::KernelHasIoUring()) GTEST_SKIP() << "io_uring disabled";
    // 4 KiB pieces so that a 64 MiB descriptor is 16384 I/Os: long enough to cancel.
    FERRY_ASSERT_OK(h_.Init(test::EngineParams(GetParam(), {{test::kMaxRequestKey, "4K"}})));
    test::FillRandom(src_.data(), kBig, 42);
    FERRY_ASSERT_OK(h_.RegisterDram(src_.data(), kBig));
    FERRY_ASSERT_OK(h_.RegisterDram(dst_.data(), kBig));
    FERRY_ASSERT_OK(h_.RegisterFile("big", 1, test::RwCreate(/*direct=*/true)));
  }
  Status Make(XferOp op, AlignedBuffer& buf, std::unique_ptr<Transfer>* x) {
    return h_.agent().CreateTransfer(op, DramList({Dram(buf.data(), kBig)}),
                                     FileList({{0, kBig, 1}}), "", x);
  }
  // Posts, cancels at once, waits: the outcome is kOk or kCancelled, quickly.
  Code PostAndCancel(Transfer& x) {
    Status s = x.Post();
    EXPECT_TRUE(s.ok()) << s.ToString();
    FERRY_EXPECT_OK(x.Cancel());
    s = x.Wait(test::kWaitLimit);
    EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOk), Eq(Code::kCancelled))) << s.ToString();
    EXPECT_EQ(x.Check().code(), s.code());
    return s.code();
  }

  test::PosixHarness h_{/*need_direct=*/true};
  AlignedBuffer src_{kBig}, dst_{kBig};
};

TEST_P(CancelTest, CancelBigWriteThenRepost) {
  std::unique_ptr<Transfer> w, r;
  FERRY_ASSERT_OK(Make(XferOp::kWrite, src_, &w));
  PostAndCancel(*w);
  // The transfer is reusable and the data written by the repost is complete.
  FERRY_ASSERT_OK(w->Post());
  FERRY_ASSERT_OK(w->Wait(test::kWaitLimit));
  FERRY_ASSERT_OK(Make(XferOp::kRead, dst_, &r));
  FERRY_ASSERT_OK(r->Post());
  FERRY_ASSERT_OK(r->Wait(test::kWaitLimit));
  EXPECT_EQ(test::FirstDiff(src_.data(), dst_.data(), kBig), -1);
}

TEST_P(CancelTest, CancelBigRead) {
  std::unique_ptr<Transfer> w, r;
  FERRY_ASSERT_OK(Make(XferOp::kWrite, src_, &w));
  FERRY_ASSERT_OK(w->Post());
  FERRY_ASSERT_OK(w->Wait(test::kWaitLimit));
  FERRY_ASSERT_OK(Make(XferOp::kRead, dst_, &r));
  if (PostAndCancel(*r) == Code::kOk) {
    EXPECT_EQ(test::FirstDiff(src_.data(), dst_.data(), kBig), -1) << "OK but data incomplete";
  }
  FERRY_ASSERT_OK(r->Post());
  FERRY_ASSERT_OK(r->Wait(test::kWaitLimit));
  EXPECT_EQ(test::FirstDiff(src_.data(), dst_.data(), kBig), -1);
}

TEST_P(CancelTest, OtherRequestsAreNotDisturbed) {
  AlignedBuffer small(64 * 1024), back(64 * 1024);
  test::FillRandom(small.data(), small.size(), 3);
  FERRY_ASSERT_OK(h_.RegisterDram(small.data(), small.size()));
  FERRY_ASSERT_OK(h_.RegisterDram(back.data(), back.size()));
  FERRY_ASSERT_OK(h_.RegisterFile("other", 2, test::RwCreate()));
  std::unique_ptr<Transfer> big, other;
  FERRY_ASSERT_OK(Make(XferOp::kWrite, src_, &big));
  FERRY_ASSERT_OK(h_.agent().CreateTransfer(XferOp::kWrite,
                                            DramList({Dram(small.data(), small.size())}),
                                            FileList({{0, small.size(), 2}}), "", &other));
  FERRY_ASSERT_OK(big->Post());
  FERRY_ASSERT_OK(other->Post());
  FERRY_ASSERT_OK(big->Cancel());
  FERRY_EXPECT_OK(other->Wait(test::kWaitLimit));
  Status s = big->Wait(test::kWaitLimit);
  EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOk), Eq(Code::kCancelled))) << s.ToString();
  FERRY_ASSERT_OK(test::RunXfer(h_.agent(), XferOp::kRead,
                                DramList({Dram(back.data(), back.size())}),
                                FileList({{0, back.size(), 2}})));
  EXPECT_EQ(test::FirstDiff(small.data(), back.data(), small.size()), -1);
}

TEST_P(CancelTest, CancelRaceManyTimes) {
  AlignedBuffer buf(256 * 1024);
  FERRY_ASSERT_OK(h_.RegisterDram(buf.data(), buf.size()));
  std::unique_ptr<Transfer> x;
  FERRY_ASSERT_OK(h_.agent().CreateTransfer(XferOp::kWrite,
                                            DramList({Dram(buf.data(), buf.size())}),
                                            FileList({{0, buf.size(), 1}}), "", &x));
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) PostAndCancel(*x);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
}

TEST_P(CancelTest, DestroyBigTransferInFlight) {
  std::unique_ptr<Transfer> w;
  FERRY_ASSERT_OK(Make(XferOp::kWrite, src_, &w));
  FERRY_ASSERT_OK(w->Post());
  w.reset();  // cancels and waits for the backend to let go of src_
  // The backend still works afterwards.
  std::unique_ptr<Transfer> r;
  FERRY_ASSERT_OK(Make(XferOp::kRead, dst_, &r));
  Status s = r->Post();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(r->Wait(test::kWaitLimit).code(), Code::kTimedOut);
}

INSTANTIATE_TEST_SUITE_P(AllEngines, CancelTest, ::testing::ValuesIn(test::kEngines));

}  // namespace
}  // namespace ferry
