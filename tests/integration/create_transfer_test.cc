// Agent::CreateTransfer: validation of lists, kinds, registrations and targets.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using test::Dram;
using test::DramList;
using test::FileList;
using ::testing::AnyOf;
using ::testing::Eq;

constexpr uint64_t kBuf = 64 * 1024;
constexpr uint64_t kFileId = 1;      // registered [0, 64K)
constexpr uint64_t kOpenFileId = 2;  // registered from 0 to any end

class CreateTransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_ASSERT_OK(h_.Init({}));
    FERRY_ASSERT_OK(h_.RegisterDram(buf_.data(), kBuf, &dram_));
    FERRY_ASSERT_OK(test::RegisterOne(
        agent(), MemKind::kFile, FileByPath(h_.dir().File("a"), kFileId, test::RwCreate(), 0, kBuf),
        &file_));
    FERRY_ASSERT_OK(h_.RegisterFile("b", kOpenFileId, test::RwCreate()));
  }
  Agent& agent() { return h_.agent(); }
  Status Create(XferOp op, const XferDescList& local, const XferDescList& target,
                std::string_view target_agent = "") {
    x_.reset();
    return agent().CreateTransfer(op, local, target, target_agent, &x_);
  }

  test::PosixHarness h_;
  test::AlignedBuffer buf_{kBuf};
  RegHandle dram_, file_;
  std::unique_ptr<Transfer> x_;
};

TEST_F(CreateTransferTest, ValidTransferToSelf) {
  FERRY_ASSERT_OK(
      Create(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}), FileList({{0, 4096, kFileId}})));
  ASSERT_NE(x_, nullptr);
  EXPECT_EQ(x_->op(), XferOp::kWrite);
  EXPECT_TRUE(x_->backend() == h_.backend());
}

TEST_F(CreateTransferTest, TargetMayBeOwnName) {
  FERRY_EXPECT_OK(Create(XferOp::kRead, DramList({Dram(buf_.data(), 4096)}),
                         FileList({{0, 4096, kFileId}}), agent().name()));
}

TEST_F(CreateTransferTest, UnknownTargetAgent) {
  Status s = Create(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}),
                    FileList({{0, 4096, kFileId}}), "no-such-agent");
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_THAT(s.message(), ::testing::HasSubstr("no-such-agent"));
  EXPECT_EQ(x_, nullptr);
}

TEST_F(CreateTransferTest, MismatchedListLengths) {
  Status s =
      Create(XferOp::kWrite, DramList({Dram(buf_.data(), 4096), Dram(buf_.data() + 4096, 4096)}),
             FileList({{0, 4096, kFileId}}));
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
}

TEST_F(CreateTransferTest, MismatchedDescriptorLengths) {
  Status s =
      Create(XferOp::kWrite, DramList({Dram(buf_.data(), 4096), Dram(buf_.data() + 4096, 100)}),
             FileList({{0, 4096, kFileId}, {8192, 200, kFileId}}));
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), ::testing::HasSubstr("1")) << "should name descriptor 1";
}

TEST_F(CreateTransferTest, EmptyListsDoNotHang) {
  Status s = Create(XferOp::kWrite, DramList({}), FileList({}));
  if (s.ok()) {
    FERRY_ASSERT_OK(x_->Post());
    FERRY_EXPECT_OK(x_->Wait(test::kWaitLimit));
  } else {
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  }
}

TEST_F(CreateTransferTest, ZeroLengthDescriptor) {
  Status s = Create(XferOp::kWrite, DramList({Dram(buf_.data(), 0)}), FileList({{0, 0, kFileId}}));
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
}

TEST_F(CreateTransferTest, UnregisteredDram) {
  test::AlignedBuffer other(4096);
  Status s =
      Create(XferOp::kWrite, DramList({Dram(other.data(), 4096)}), FileList({{0, 4096, kFileId}}));
  EXPECT_EQ(s.code(), Code::kNotRegistered) << s.ToString();
}

TEST_F(CreateTransferTest, UnregisteredFileId) {
  Status s = Create(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}), FileList({{0, 4096, 77}}));
  EXPECT_EQ(s.code(), Code::kNotRegistered) << s.ToString();
}

// The contract offers both kOutOfRange ("descriptor beyond its registration") and
// kNotRegistered ("not inside any registration"); either is a correct answer here.
TEST_F(CreateTransferTest, DramDescriptorRunsPastRegistration) {
  Status s = Create(XferOp::kWrite, DramList({Dram(buf_.data() + kBuf - 100, 200)}),
                    FileList({{0, 200, kFileId}}));
  EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOutOfRange), Eq(Code::kNotRegistered))) << s.ToString();
}

TEST_F(CreateTransferTest, FileDescriptorRunsPastRegistration) {
  Status s = Create(XferOp::kWrite, DramList({Dram(buf_.data(), 200)}),
                    FileList({{kBuf - 100, 200, kFileId}}));
  EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOutOfRange), Eq(Code::kNotRegistered))) << s.ToString();
  s = Create(XferOp::kWrite, DramList({Dram(buf_.data(), 200)}), FileList({{kBuf, 200, kFileId}}));
  EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOutOfRange), Eq(Code::kNotRegistered))) << s.ToString();
}

// A descriptor must lie inside one registration, even when two registrations are adjacent.
TEST_F(CreateTransferTest, DescriptorSpanningTwoRegistrations) {
  test::AlignedBuffer two(8192);
  FERRY_ASSERT_OK(h_.RegisterDram(two.data(), 4096));
  FERRY_ASSERT_OK(h_.RegisterDram(two.data() + 4096, 4096));
  Status s = Create(XferOp::kWrite, DramList({Dram(two.data() + 2048, 4096)}),
                    FileList({{0, 4096, kOpenFileId}}));
  EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOutOfRange), Eq(Code::kNotRegistered))) << s.ToString();
}

TEST_F(CreateTransferTest, FileOffsetBeforeRegisteredRange) {
  FERRY_ASSERT_OK(test::RegisterOne(agent(), MemKind::kFile,
                                    FileByPath(h_.dir().File("c"), 4, test::RwCreate(), 8192, 4096),
                                    &file_));
  Status s = Create(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}), FileList({{0, 4096, 4}}));
  EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOutOfRange), Eq(Code::kNotRegistered))) << s.ToString();
  FERRY_EXPECT_OK(
      Create(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}), FileList({{8192, 4096, 4}})));
}

TEST_F(CreateTransferTest, AddressOverflowIsRejected) {
  Status s = Create(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}),
                    FileList({{~0ull - 10, 4096, kOpenFileId}}));
  EXPECT_FALSE(s.ok());
  s = Create(XferOp::kWrite, DramList({{buf_.addr() + 8, ~0ull - 4, 0}}),
             FileList({{0, ~0ull - 4, kOpenFileId}}));
  EXPECT_FALSE(s.ok());
}

TEST_F(CreateTransferTest, LocalListMustBeDramOrVram) {
  Status s =
      Create(XferOp::kWrite, FileList({{0, 4096, kFileId}}), DramList({Dram(buf_.data(), 4096)}));
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  s = Create(XferOp::kWrite, FileList({{0, 4096, kFileId}}), FileList({{0, 4096, kOpenFileId}}));
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
}

TEST_F(CreateTransferTest, DramToDramHasNoBackend) {
  Status s = Create(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}),
                    DramList({Dram(buf_.data() + 8192, 4096)}));
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.message().empty());
}

TEST_F(CreateTransferTest, DeregisteredMemoryIsNotUsable) {
  FERRY_ASSERT_OK(agent().DeregisterMem(dram_));
  Status s =
      Create(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}), FileList({{0, 4096, kFileId}}));
  EXPECT_EQ(s.code(), Code::kNotRegistered) << s.ToString();
  FERRY_ASSERT_OK(agent().DeregisterMem(file_));
  FERRY_ASSERT_OK(h_.RegisterDram(buf_.data(), kBuf, &dram_));
  s = Create(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}), FileList({{0, 4096, kFileId}}));
  EXPECT_EQ(s.code(), Code::kNotRegistered) << s.ToString();
}

TEST_F(CreateTransferTest, TransferKeepsRegistrationAlive) {
  test::FillRandom(buf_.data(), 4096, 11);
  FERRY_ASSERT_OK(
      Create(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}), FileList({{0, 4096, kFileId}})));
  FERRY_ASSERT_OK(agent().DeregisterMem(dram_));
  FERRY_ASSERT_OK(agent().DeregisterMem(file_));
  FERRY_ASSERT_OK(x_->Post());
  FERRY_EXPECT_OK(x_->Wait(test::kWaitLimit));
}

TEST_F(CreateTransferTest, ForcedBackendMustHoldTheMemory) {
  BackendId other;
  FERRY_ASSERT_OK(agent().CreateBackend(test::kPosix, {}, &other));
  XferOptions opt;
  opt.backend = other;
  Status s = agent().CreateTransfer(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}),
                                    FileList({{0, 4096, kFileId}}), "", &x_, opt);
  EXPECT_FALSE(s.ok()) << "memory was registered before `other` existed";
  opt.backend = BackendId{other.value + 100};
  s = agent().CreateTransfer(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}),
                             FileList({{0, 4096, kFileId}}), "", &x_, opt);
  EXPECT_FALSE(s.ok());
}

TEST_F(CreateTransferTest, ReadOnlyFileRejectsWrite) {
  FERRY_ASSERT_OK(h_.RegisterFile("b", 3, FileOpenFlags{}));
  Status s = test::RunXfer(agent(), XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}),
                           FileList({{0, 4096, 3}}));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.code(), Code::kTimedOut);
  EXPECT_FALSE(s.message().empty());
}

}  // namespace
}  // namespace ferry
