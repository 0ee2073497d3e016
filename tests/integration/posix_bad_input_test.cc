// POSIX backend, every engine: reads past end of file and writes to read-only files fail
// with a status and a message; never hang; never disturb other requests.
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

constexpr uint64_t kFileLen = 4096;

class BadInputTest : public ::testing::TestWithParam<std::string> {
 protected:
  void Start(bool direct) {
    if (GetParam() == "uring" && !test::KernelHasIoUring()) GTEST_SKIP() << "io_uring disabled";
    h_ = std::make_unique<test::PosixHarness>(direct);
    FERRY_ASSERT_OK(h_->Init(test::EngineParams(GetParam())));
    test::FillRandom(buf_.data(), buf_.size(), 4);
    FERRY_ASSERT_OK(h_->RegisterDram(buf_.data(), buf_.size()));
    FERRY_ASSERT_OK(h_->RegisterDram(in_.data(), in_.size()));
    FERRY_ASSERT_OK(h_->RegisterFile("f", 1, test::RwCreate(direct)));
    // The file holds exactly kFileLen bytes.
    FERRY_ASSERT_OK(test::RunXfer(agent(), XferOp::kWrite, DramList({Dram(buf_.data(), kFileLen)}),
                                  FileList({{0, kFileLen, 1}})));
  }
  Agent& agent() { return h_->agent(); }
  void ExpectEofError(uint64_t off, uint64_t len) {
    Status s = test::RunXfer(agent(), XferOp::kRead, DramList({Dram(in_.data(), len)}),
                             FileList({{off, len, 1}}));
    EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOutOfRange), Eq(Code::kIoError)))
        << "read [" << off << ", " << off + len << ") of a " << kFileLen
        << "-byte file: " << s.ToString();
    EXPECT_FALSE(s.message().empty());
  }

  std::unique_ptr<test::PosixHarness> h_;
  AlignedBuffer buf_{1 << 20}, in_{1 << 20};
  RegHandle ro_;
};

TEST_P(BadInputTest, ReadPastEndOfFile) {
  Start(false);
  ExpectEofError(0, 2 * kFileLen);
  ExpectEofError(kFileLen - 1, 2);
  ExpectEofError(1 << 20, 4096);
  ExpectEofError(kFileLen, 1);
}

TEST_P(BadInputTest, ReadPastEndOfFileDirect) {
  Start(true);
  ExpectEofError(0, 2 * kFileLen);
  ExpectEofError(1 << 20, 4096);
}

TEST_P(BadInputTest, ReadUpToEndOfFileIsFine) {
  Start(false);
  FERRY_ASSERT_OK(test::RunXfer(agent(), XferOp::kRead, DramList({Dram(in_.data(), kFileLen)}),
                                FileList({{0, kFileLen, 1}})));
  EXPECT_EQ(test::FirstDiff(in_.data(), buf_.data(), kFileLen), -1);
}

TEST_P(BadInputTest, FailedReadCanBeRepostedOnceTheDataExists) {
  Start(false);
  std::unique_ptr<Transfer> r;
  FERRY_ASSERT_OK(agent().CreateTransfer(XferOp::kRead, DramList({Dram(in_.data(), 3 * kFileLen)}),
                                         FileList({{0, 3 * kFileLen, 1}}), "", &r));
  FERRY_ASSERT_OK(r->Post());
  Status s = r->Wait(test::kWaitLimit);
  EXPECT_THAT(s.code(), AnyOf(Eq(Code::kOutOfRange), Eq(Code::kIoError))) << s.ToString();
  FERRY_ASSERT_OK(test::RunXfer(agent(), XferOp::kWrite,
                                DramList({Dram(buf_.data() + kFileLen, 2 * kFileLen)}),
                                FileList({{kFileLen, 2 * kFileLen, 1}})));
  FERRY_ASSERT_OK(r->Post());
  FERRY_ASSERT_OK(r->Wait(test::kWaitLimit));
  EXPECT_EQ(test::FirstDiff(in_.data(), buf_.data(), 3 * kFileLen), -1);
}

TEST_P(BadInputTest, FailingRequestDoesNotDisturbAnother) {
  Start(false);
  std::unique_ptr<Transfer> bad, good;
  FERRY_ASSERT_OK(agent().CreateTransfer(XferOp::kRead, DramList({Dram(in_.data(), 8 * kFileLen)}),
                                         FileList({{0, 8 * kFileLen, 1}}), "", &bad));
  FERRY_ASSERT_OK(h_->RegisterFile("g", 2, test::RwCreate()));
  FERRY_ASSERT_OK(agent().CreateTransfer(XferOp::kWrite, DramList({Dram(buf_.data(), 1 << 20)}),
                                         FileList({{0, 1 << 20, 2}}), "", &good));
  for (int i = 0; i < 10; ++i) {
    FERRY_ASSERT_OK(bad->Post());
    FERRY_ASSERT_OK(good->Post());
    EXPECT_FALSE(bad->Wait(test::kWaitLimit).ok());
    FERRY_EXPECT_OK(good->Wait(test::kWaitLimit));
  }
}

TEST_P(BadInputTest, WriteToReadOnlyFile) {
  Start(false);
  FERRY_ASSERT_OK(test::RegisterOne(agent(), MemKind::kFile,
                                    FileByPath(h_->dir().File("f"), 5, FileOpenFlags{}), &ro_));
  Status s = test::RunXfer(agent(), XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}),
                           FileList({{0, 4096, 5}}));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.code(), Code::kTimedOut);
  EXPECT_FALSE(s.message().empty());
  // Reading through the read-only registration works.
  FERRY_EXPECT_OK(test::RunXfer(agent(), XferOp::kRead, DramList({Dram(in_.data(), 4096)}),
                                FileList({{0, 4096, 5}})));
}

INSTANTIATE_TEST_SUITE_P(AllEngines, BadInputTest, ::testing::ValuesIn(test::kEngines));

}  // namespace
}  // namespace ferry
