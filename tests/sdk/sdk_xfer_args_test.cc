// Per-transfer backend arguments (XferOptions::args) reach the backend's Prepare.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using ::testing::HasSubstr;

class XferArgsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_ASSERT_OK(test::MakeAgent(&agent_));
    FERRY_ASSERT_OK(agent_->CreateBackend("TESTDOUBLE", {}, &dbl_));
    RegHandle h;
    FERRY_ASSERT_OK(test::RegisterOne(*agent_, MemKind::kDram, DramDesc(buf_, sizeof buf_), &h));
    FERRY_ASSERT_OK(test::RegisterOne(*agent_, MemKind::kObj, ObjectKey("b/k"), &h));
  }
  Status Run(const XferOptions& opt) {
    XferDescList local{MemKind::kDram, {test::Dram(buf_, sizeof buf_)}};
    XferDescList target{MemKind::kObj, {{0, sizeof buf_, 0}}};
    return test::RunXfer(*agent_, XferOp::kWrite, local, target, opt);
  }

  std::unique_ptr<Agent> agent_;
  BackendId dbl_;
  char buf_[64] = {};
};

TEST_F(XferArgsTest, ArgumentsAndStreamReachTheBackend) {
  XferOptions opt;
  int fake_stream = 0;
  opt.args.stream = &fake_stream;
  opt.args.params = {{"fail_with", "TRY_AGAIN"}};
  Status s = Run(opt);
  EXPECT_EQ(s.code(), Code::kTryAgain) << s.ToString();
  char want[32];
  std::snprintf(want, sizeof want, "%p", static_cast<void*>(&fake_stream));
  EXPECT_THAT(s.message(), HasSubstr(want));
  FERRY_EXPECT_OK(Run({}));
}

TEST_F(XferArgsTest, UnknownArgumentIsRefusedByName) {
  XferOptions opt;
  opt.args.params = {{"colour", "blue"}};
  Status s = Run(opt);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("colour"));
}

TEST(PosixXferArgsTest, PosixRefusesParametersItDoesNotTake) {
  test::PosixHarness h(false);
  FERRY_ASSERT_OK(h.Init(test::EngineParams("threads")));
  test::AlignedBuffer buf(4096);
  FERRY_ASSERT_OK(h.RegisterDram(buf.data(), 4096));
  FERRY_ASSERT_OK(h.RegisterFile("f", 1, test::RwCreate()));
  XferOptions opt;
  opt.args.params = {{"priority", "high"}};
  std::unique_ptr<Transfer> x;
  Status s =
      h.agent().CreateTransfer(XferOp::kWrite, test::DramList({test::Dram(buf.data(), 4096)}),
                               test::FileList({{0, 4096, 1}}), "", &x, opt);
  EXPECT_EQ(s.code(), Code::kUnsupported) << "not this backend: another may take it";
  EXPECT_THAT(s.message(), HasSubstr("priority"));
}

}  // namespace
}  // namespace ferry
