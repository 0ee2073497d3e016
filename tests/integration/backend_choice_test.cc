// Deterministic backend choice: creation order, registration options, forced backend.
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using test::Dram;
using test::DramList;
using test::FileList;

class BackendChoiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    FERRY_ASSERT_OK(test::MakeAgent(&agent_));
    FERRY_ASSERT_OK(agent_->CreateBackend(test::kPosix, test::EngineParams("threads"), &first_));
    FERRY_ASSERT_OK(agent_->CreateBackend(test::kPosix, test::EngineParams("aio"), &second_));
  }
  Status Register(const RegOptions& opt) {
    RegHandle h;
    Status s = test::RegisterOne(*agent_, MemKind::kDram, DramDesc(buf_.data(), 4096), &h, opt);
    if (!s.ok()) return s;
    return test::RegisterOne(*agent_, MemKind::kFile,
                             FileByPath(dir_.File("f"), 1, test::RwCreate()), &h, opt);
  }
  Status Create(const XferOptions& opt = {}) {
    return agent_->CreateTransfer(XferOp::kWrite, DramList({Dram(buf_.data(), 4096)}),
                                  FileList({{0, 4096, 1}}), "", &x_, opt);
  }

  test::TempDir dir_;
  std::unique_ptr<Agent> agent_;
  BackendId first_, second_;
  test::AlignedBuffer buf_{4096};
  std::unique_ptr<Transfer> x_;
};

TEST_F(BackendChoiceTest, FirstCreatedWins) {
  FERRY_ASSERT_OK(Register({}));
  for (int i = 0; i < 20; ++i) {
    FERRY_ASSERT_OK(Create());
    EXPECT_TRUE(x_->backend() == first_) << "iteration " << i;
  }
}

TEST_F(BackendChoiceTest, OnlyTheBackendHoldingTheMemory) {
  RegOptions opt;
  opt.backends.assign(1, second_);
  FERRY_ASSERT_OK(Register(opt));
  FERRY_ASSERT_OK(Create());
  EXPECT_TRUE(x_->backend() == second_);
  FERRY_ASSERT_OK(x_->Post());
  FERRY_EXPECT_OK(x_->Wait(test::kWaitLimit));
}

TEST_F(BackendChoiceTest, ForcedBackend) {
  FERRY_ASSERT_OK(Register({}));
  XferOptions opt;
  opt.backend = second_;
  FERRY_ASSERT_OK(Create(opt));
  EXPECT_TRUE(x_->backend() == second_);
  FERRY_ASSERT_OK(x_->Post());
  FERRY_EXPECT_OK(x_->Wait(test::kWaitLimit));
}

}  // namespace
}  // namespace ferry
