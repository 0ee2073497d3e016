// Agent::PrepDescList + Agent::MakeTransfer: transfers picked by descriptor index.
#include <cstring>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using ::testing::AnyOf;
using ::testing::Eq;

constexpr uint32_t kSlots = 8;
constexpr uint64_t kSlot = 4096;

class PreppedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_ASSERT_OK(h_.Init({}));
    FERRY_ASSERT_OK(h_.RegisterDram(src_.data(), src_.size()));
    FERRY_ASSERT_OK(h_.RegisterDram(dst_.data(), dst_.size()));
    FERRY_ASSERT_OK(h_.RegisterFile("slots", 1, test::RwCreate(), &file_));
    XferDescList src, dst, file;
    src.kind = dst.kind = MemKind::kDram;
    file.kind = MemKind::kFile;
    for (uint32_t i = 0; i < kSlots; ++i) {
      src.descs.push_back(test::Dram(src_.data() + i * kSlot, kSlot));
      dst.descs.push_back(test::Dram(dst_.data() + i * kSlot, kSlot));
      file.descs.push_back({i * kSlot, kSlot, 1});
    }
    FERRY_ASSERT_OK(agent().PrepDescList(src, "", &src_list_));
    FERRY_ASSERT_OK(agent().PrepDescList(dst, "", &dst_list_));
    FERRY_ASSERT_OK(agent().PrepDescList(file, "", &file_list_));
    test::FillRandom(src_.data(), src_.size(), 5);
  }
  Agent& agent() { return h_.agent(); }
  Status Run(XferOp op, const PreppedList& local, std::vector<uint32_t> li,
             const PreppedList& target, std::vector<uint32_t> ti) {
    std::unique_ptr<Transfer> x;
    Status s = agent().MakeTransfer(op, local, li, target, ti, &x);
    if (!s.ok()) return s;
    s = x->Post();
    return s.ok() ? x->Wait(test::kWaitLimit) : s;
  }

  test::PosixHarness h_;
  test::AlignedBuffer src_{kSlots * kSlot}, dst_{kSlots * kSlot};
  RegHandle file_;
  std::shared_ptr<const PreppedList> src_list_, dst_list_, file_list_;
};

TEST_F(PreppedTest, IndexSpansMapSlots) {
  // src slot i -> file slot (i + 3) % 8 for i in {0, 2, 4, 6}; read back file slot -> dst slot.
  FERRY_ASSERT_OK(Run(XferOp::kWrite, *src_list_, {0, 2, 4, 6}, *file_list_, {3, 5, 7, 1}));
  FERRY_ASSERT_OK(Run(XferOp::kRead, *dst_list_, {0, 1, 2, 3}, *file_list_, {3, 5, 7, 1}));
  for (uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(std::memcmp(dst_.data() + i * kSlot, src_.data() + 2 * i * kSlot, kSlot), 0) << i;
  }
}

TEST_F(PreppedTest, SameIndexTwiceInOneRead) {
  FERRY_ASSERT_OK(Run(XferOp::kWrite, *src_list_, {0}, *file_list_, {0}));
  FERRY_ASSERT_OK(Run(XferOp::kRead, *dst_list_, {1, 5}, *file_list_, {0, 0}));
  EXPECT_EQ(std::memcmp(dst_.data() + kSlot, src_.data(), kSlot), 0);
  EXPECT_EQ(std::memcmp(dst_.data() + 5 * kSlot, src_.data(), kSlot), 0);
}

TEST_F(PreppedTest, RepostMadeTransfer) {
  std::unique_ptr<Transfer> x;
  std::vector<uint32_t> idx{0, 1, 2, 3, 4, 5, 6, 7};
  FERRY_ASSERT_OK(agent().MakeTransfer(XferOp::kWrite, *src_list_, idx, *file_list_, idx, &x));
  for (int i = 0; i < 3; ++i) {
    FERRY_ASSERT_OK(x->Post());
    FERRY_ASSERT_OK(x->Wait(test::kWaitLimit));
  }
  EXPECT_EQ(x->telemetry().posts, 3u);
  EXPECT_EQ(x->telemetry().descriptors, kSlots);
  EXPECT_EQ(x->telemetry().bytes, kSlots * kSlot);
}

TEST_F(PreppedTest, OutOfRangeIndex) {
  std::unique_ptr<Transfer> x;
  std::vector<uint32_t> ok{0}, bad{kSlots};
  Status s = agent().MakeTransfer(XferOp::kWrite, *src_list_, bad, *file_list_, ok, &x);
  EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOutOfRange), Eq(Code::kInvalidArgument))) << s.ToString();
  s = agent().MakeTransfer(XferOp::kWrite, *src_list_, ok, *file_list_, {&bad[0], 1}, &x);
  EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOutOfRange), Eq(Code::kInvalidArgument))) << s.ToString();
  std::vector<uint32_t> huge{0xffffffffu};
  s = agent().MakeTransfer(XferOp::kWrite, *src_list_, huge, *file_list_, ok, &x);
  EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOutOfRange), Eq(Code::kInvalidArgument))) << s.ToString();
  EXPECT_EQ(x, nullptr);
}

TEST_F(PreppedTest, MismatchedSpanLengths) {
  std::unique_ptr<Transfer> x;
  std::vector<uint32_t> two{0, 1}, one{0};
  Status s = agent().MakeTransfer(XferOp::kWrite, *src_list_, two, *file_list_, one, &x);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
}

TEST_F(PreppedTest, LocalMustBeDram) {
  std::unique_ptr<Transfer> x;
  std::vector<uint32_t> idx{0};
  Status s = agent().MakeTransfer(XferOp::kWrite, *file_list_, idx, *src_list_, idx, &x);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
}

TEST_F(PreppedTest, PrepUnregisteredFails) {
  test::AlignedBuffer other(4096);
  XferDescList l = test::DramList({test::Dram(other.data(), 4096)});
  std::shared_ptr<const PreppedList> p;
  Status s = agent().PrepDescList(l, "", &p);
  EXPECT_EQ(s.code(), Code::kNotRegistered) << s.ToString();
}

TEST_F(PreppedTest, PrepUnknownTarget) {
  XferDescList l = test::FileList({{0, kSlot, 1}});
  std::shared_ptr<const PreppedList> p;
  Status s = agent().PrepDescList(l, "elsewhere", &p);
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
}

TEST_F(PreppedTest, PreppedListKeepsRegistrationAlive) {
  FERRY_ASSERT_OK(agent().DeregisterMem(file_));
  FERRY_EXPECT_OK(Run(XferOp::kWrite, *src_list_, {0, 1}, *file_list_, {0, 1}));
}

}  // namespace
}  // namespace ferry
