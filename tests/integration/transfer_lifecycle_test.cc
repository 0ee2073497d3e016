// Transfer lifecycle on quick transfers: check before post, post/wait, repost, cancel when
// idle, release, telemetry, outliving the agent.
#include <cstring>
#include <memory>

#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using test::Dram;
using test::DramList;
using test::FileList;

constexpr uint64_t kLen = 256 * 1024;

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_ASSERT_OK(h_.Init({}));
    FERRY_ASSERT_OK(h_.RegisterDram(out_.data(), kLen));
    FERRY_ASSERT_OK(h_.RegisterDram(in_.data(), kLen));
    FERRY_ASSERT_OK(h_.RegisterFile("f", 1, test::RwCreate()));
    test::FillRandom(out_.data(), kLen, 1);
  }
  Status Create(XferOp op, test::AlignedBuffer& buf, std::unique_ptr<Transfer>* x) {
    // Two descriptors, the halves swapped on the file side.
    XferDescList local =
        DramList({Dram(buf.data(), kLen / 2), Dram(buf.data() + kLen / 2, kLen / 2)});
    XferDescList target = FileList({{kLen / 2, kLen / 2, 1}, {0, kLen / 2, 1}});
    return h_.agent().CreateTransfer(op, local, target, "", x);
  }

  test::PosixHarness h_;
  test::AlignedBuffer out_{kLen}, in_{kLen};
};

TEST_F(LifecycleTest, CheckAndWaitBeforePostAreBusy) {
  std::unique_ptr<Transfer> x;
  FERRY_ASSERT_OK(Create(XferOp::kWrite, out_, &x));
  EXPECT_EQ(x->Check().code(), Code::kBusy);
  Status s = x->Wait(std::chrono::milliseconds(50));
  EXPECT_EQ(s.code(), Code::kBusy) << s.ToString();
  TransferTelemetry t = x->telemetry();
  EXPECT_EQ(t.posts, 0u);
  EXPECT_EQ(t.transfer_time.count(), 0);
}

TEST_F(LifecycleTest, WriteThenReadRoundTrip) {
  std::unique_ptr<Transfer> w, r;
  FERRY_ASSERT_OK(Create(XferOp::kWrite, out_, &w));
  FERRY_ASSERT_OK(w->Post());
  FERRY_ASSERT_OK(w->Wait(test::kWaitLimit));
  FERRY_EXPECT_OK(w->Check());
  FERRY_ASSERT_OK(Create(XferOp::kRead, in_, &r));
  EXPECT_EQ(r->op(), XferOp::kRead);
  FERRY_ASSERT_OK(r->Post());
  FERRY_ASSERT_OK(r->Wait(test::kWaitLimit));
  EXPECT_EQ(test::FirstDiff(out_.data(), in_.data(), kLen), -1);
}

TEST_F(LifecycleTest, Telemetry) {
  std::unique_ptr<Transfer> x;
  FERRY_ASSERT_OK(Create(XferOp::kWrite, out_, &x));
  FERRY_ASSERT_OK(x->Post());
  FERRY_ASSERT_OK(x->Wait(test::kWaitLimit));
  TransferTelemetry t = x->telemetry();
  EXPECT_EQ(t.bytes, kLen);
  EXPECT_EQ(t.descriptors, 2u);
  EXPECT_EQ(t.posts, 1u);
  EXPECT_GT(t.post_time.count(), 0);
  EXPECT_GT(t.transfer_time.count(), 0);
  EXPECT_LT(t.transfer_time, std::chrono::seconds(60));
}

TEST_F(LifecycleTest, RepostAfterCompletionSendsCurrentBufferContents) {
  std::unique_ptr<Transfer> w, r;
  FERRY_ASSERT_OK(Create(XferOp::kWrite, out_, &w));
  FERRY_ASSERT_OK(Create(XferOp::kRead, in_, &r));
  for (uint64_t round = 0; round < 3; ++round) {
    test::FillRandom(out_.data(), kLen, 100 + round);
    FERRY_ASSERT_OK(w->Post());
    FERRY_ASSERT_OK(w->Wait(test::kWaitLimit));
    std::memset(in_.data(), 0, kLen);
    FERRY_ASSERT_OK(r->Post());
    FERRY_ASSERT_OK(r->Wait(test::kWaitLimit));
    ASSERT_EQ(test::FirstDiff(out_.data(), in_.data(), kLen), -1) << "round " << round;
  }
  EXPECT_EQ(w->telemetry().posts, 3u);
  EXPECT_EQ(r->telemetry().posts, 3u);
}

TEST_F(LifecycleTest, CancelWhenIdleIsNoOp) {
  std::unique_ptr<Transfer> x;
  FERRY_ASSERT_OK(Create(XferOp::kWrite, out_, &x));
  FERRY_EXPECT_OK(x->Cancel());
  EXPECT_EQ(x->Check().code(), Code::kBusy);
  FERRY_ASSERT_OK(x->Post());
  FERRY_ASSERT_OK(x->Wait(test::kWaitLimit));
  FERRY_EXPECT_OK(x->Cancel());
  FERRY_EXPECT_OK(x->Check());
}

TEST_F(LifecycleTest, ReleaseThenEveryCallIsReleased) {
  std::unique_ptr<Transfer> x;
  FERRY_ASSERT_OK(Create(XferOp::kWrite, out_, &x));
  FERRY_ASSERT_OK(x->Post());
  FERRY_ASSERT_OK(x->Wait(test::kWaitLimit));
  FERRY_ASSERT_OK(x->Release());
  EXPECT_EQ(x->Post().code(), Code::kReleased);
  EXPECT_EQ(x->Check().code(), Code::kReleased);
  EXPECT_EQ(x->Wait(std::chrono::milliseconds(10)).code(), Code::kReleased);
  int fd = -1;
  EXPECT_EQ(x->CompletionFd(&fd).code(), Code::kReleased);
  EXPECT_EQ(x->Cancel().code(), Code::kReleased);
  FERRY_EXPECT_OK(x->Release());  // idempotent
  EXPECT_EQ(x->op(), XferOp::kWrite);
  (void)x->telemetry();
}

TEST_F(LifecycleTest, ReleaseBeforePost) {
  std::unique_ptr<Transfer> x;
  FERRY_ASSERT_OK(Create(XferOp::kWrite, out_, &x));
  FERRY_EXPECT_OK(x->Release());
  EXPECT_EQ(x->Post().code(), Code::kReleased);
}

TEST_F(LifecycleTest, DestroyWithoutPost) {
  std::unique_ptr<Transfer> x;
  FERRY_ASSERT_OK(Create(XferOp::kRead, in_, &x));
  x.reset();
  SUCCEED();
}

TEST(TransferOutlivesAgentTest, PostAfterAgentIsGone) {
  test::PosixHarness h;
  FERRY_ASSERT_OK(h.Init({}));
  test::AlignedBuffer buf(8192);
  test::FillRandom(buf.data(), 4096, 3);
  FERRY_ASSERT_OK(h.RegisterDram(buf.data(), 8192));
  FERRY_ASSERT_OK(h.RegisterFile("f", 1, test::RwCreate()));
  std::unique_ptr<Transfer> w, r;
  FERRY_ASSERT_OK(h.agent().CreateTransfer(XferOp::kWrite, DramList({Dram(buf.data(), 4096)}),
                                           FileList({{0, 4096, 1}}), "", &w));
  FERRY_ASSERT_OK(h.agent().CreateTransfer(XferOp::kRead, DramList({Dram(buf.data() + 4096, 4096)}),
                                           FileList({{0, 4096, 1}}), "", &r));
  // The transfers keep the agent's internals alive.
  h.DestroyAgent();
  FERRY_ASSERT_OK(w->Post());
  FERRY_ASSERT_OK(w->Wait(test::kWaitLimit));
  FERRY_ASSERT_OK(r->Post());
  FERRY_ASSERT_OK(r->Wait(test::kWaitLimit));
  EXPECT_EQ(std::memcmp(buf.data(), buf.data() + 4096, 4096), 0);
}

}  // namespace
}  // namespace ferry
