// Backend choice under SDK v3: capabilities filter the candidates, a backend that refuses
// a request as unsupported passes it to the next, DestroyBackend takes one out of service.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using test::Dram;
using test::DramList;
using test::FileList;
using ::testing::HasSubstr;

constexpr char kDouble[] = "TESTDOUBLE";

class SdkChoiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    FERRY_ASSERT_OK(test::MakeAgent(&agent_));
  }
  void Make(const char* plugin, Params params, BackendId* id) {
    FERRY_ASSERT_OK(agent_->CreateBackend(plugin, params, id));
  }
  void RegisterBoth(const RegOptions& opt = {}) {
    RegHandle h;
    FERRY_ASSERT_OK(
        test::RegisterOne(*agent_, MemKind::kDram, DramDesc(buf_.data(), buf_.size()), &h, opt));
    FERRY_ASSERT_OK(test::RegisterOne(*agent_, MemKind::kFile,
                                      FileByPath(dir_.File("f"), 1, test::RwCreate()), &h, opt));
  }
  Status Create(XferOp op, uint64_t len, const XferOptions& opt = {}) {
    return agent_->CreateTransfer(op, DramList({Dram(buf_.data(), len)}), FileList({{0, len, 1}}),
                                  "", &x_, opt);
  }

  test::TempDir dir_;
  std::unique_ptr<Agent> agent_;
  test::AlignedBuffer buf_{16384};
  std::unique_ptr<Transfer> x_;
};

TEST_F(SdkChoiceTest, TestDoublePluginIsFoundWithItsCapabilities) {
  std::vector<PluginInfo> plugins = agent_->ListPlugins();
  auto it = std::find_if(plugins.begin(), plugins.end(),
                         [](const PluginInfo& p) { return p.name == kDouble; });
  ASSERT_NE(it, plugins.end()) << "the test double plugin was not found on FERRY_PLUGIN_DIR";
  ASSERT_TRUE(it->usable) << it->error;
  EXPECT_TRUE(AnyCovers(it->capabilities, MemKind::kDram, MemKind::kFile, XferOp::kWrite));
  EXPECT_FALSE(AnyCovers(it->capabilities, MemKind::kDram, MemKind::kFile, XferOp::kRead));
  EXPECT_TRUE(AnyCovers(it->capabilities, MemKind::kDram, MemKind::kObj, XferOp::kRead));
}

TEST_F(SdkChoiceTest, AnOperationOutsideTheFirstBackendsCapabilitiesGoesToTheNext) {
  BackendId dbl, posix;
  Make(kDouble, {}, &dbl);
  Make(test::kPosix, test::EngineParams("threads"), &posix);
  RegisterBoth();
  // The double was created first and holds both registrations, but it only writes FILEs.
  FERRY_ASSERT_OK(Create(XferOp::kWrite, 4096));
  EXPECT_TRUE(x_->backend() == dbl);
  XferOptions via_posix;
  via_posix.backend = posix;
  FERRY_ASSERT_OK(Create(XferOp::kWrite, 4096, via_posix));  // give the file its bytes
  FERRY_ASSERT_OK(x_->Post());
  FERRY_ASSERT_OK(x_->Wait(test::kWaitLimit));
  FERRY_ASSERT_OK(Create(XferOp::kRead, 4096));
  EXPECT_TRUE(x_->backend() == posix);
  FERRY_ASSERT_OK(x_->Post());
  FERRY_EXPECT_OK(x_->Wait(test::kWaitLimit));
}

TEST_F(SdkChoiceTest, MemoryIsRegisteredOnlyWithBackendsThatNameItsKind) {
  BackendId posix;
  Make(test::kPosix, test::EngineParams("threads"), &posix);
  RegHandle h;
  Status s = test::RegisterOne(*agent_, MemKind::kObj, ObjectKey("bucket/a"), &h);
  EXPECT_EQ(s.code(), Code::kUnsupported) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("OBJ"));
  RegOptions forced;
  forced.backends = {posix};
  s = test::RegisterOne(*agent_, MemKind::kObj, ObjectKey("bucket/a"), &h, forced);
  EXPECT_EQ(s.code(), Code::kUnsupported) << s.ToString();
}

TEST_F(SdkChoiceTest, RefusedAsUnsupportedFallsThroughInCreationOrder) {
  BackendId dbl, posix;
  Make(kDouble, {{"refuse_over", "4096"}}, &dbl);
  Make(test::kPosix, test::EngineParams("threads"), &posix);
  RegisterBoth();
  FERRY_ASSERT_OK(Create(XferOp::kWrite, 4096));
  EXPECT_TRUE(x_->backend() == dbl) << "the first candidate takes what it accepts";
  FERRY_ASSERT_OK(Create(XferOp::kWrite, 8192));
  EXPECT_TRUE(x_->backend() == posix) << "a refusal passes the request on";
  test::FillRandom(buf_.data(), 8192, 7);
  FERRY_ASSERT_OK(x_->Post());
  FERRY_EXPECT_OK(x_->Wait(test::kWaitLimit));
}

TEST_F(SdkChoiceTest, ForcedBackendThatRefusesIsAnErrorNotAFallThrough) {
  BackendId dbl, posix;
  Make(kDouble, {{"refuse_over", "4096"}}, &dbl);
  Make(test::kPosix, test::EngineParams("threads"), &posix);
  RegisterBoth();
  XferOptions opt;
  opt.backend = dbl;
  Status s = Create(XferOp::kWrite, 8192, opt);
  EXPECT_EQ(s.code(), Code::kUnsupported);
  EXPECT_THAT(s.message(), HasSubstr("refuse_over"));
  opt.backend = dbl;
  s = Create(XferOp::kRead, 4096, opt);
  EXPECT_EQ(s.code(), Code::kUnsupported);
  EXPECT_THAT(s.message(), HasSubstr("DRAM->FILE READ"));
}

TEST_F(SdkChoiceTest, EveryCandidateRefusingNamesEachReason) {
  BackendId a, b;
  Make(kDouble, {{"refuse_over", "4096"}}, &a);
  Make(kDouble, {{"refuse_over", "4096"}}, &b);
  RegisterBoth();
  Status s = Create(XferOp::kWrite, 8192);
  EXPECT_EQ(s.code(), Code::kUnsupported);
  EXPECT_THAT(s.message(), HasSubstr("TESTDOUBLE: TESTDOUBLE refuses 8192 bytes"));
  EXPECT_THAT(s.message(), HasSubstr("; TESTDOUBLE:"));
}

TEST_F(SdkChoiceTest, DestroyedBackendIsChosenForNothingNewWhileItsTransfersStillWork) {
  BackendId first, second;
  Make(test::kPosix, test::EngineParams("threads"), &first);
  Make(test::kPosix, test::EngineParams("threads"), &second);
  RegisterBoth();
  FERRY_ASSERT_OK(Create(XferOp::kWrite, 4096));
  ASSERT_TRUE(x_->backend() == first);
  std::unique_ptr<Transfer> old = std::move(x_);

  FERRY_ASSERT_OK(agent_->DestroyBackend(first));
  EXPECT_EQ(agent_->DestroyBackend(first).code(), Code::kNotFound);
  EXPECT_EQ(agent_->DestroyBackend(BackendId{99}).code(), Code::kNotFound);

  FERRY_ASSERT_OK(Create(XferOp::kWrite, 4096));
  EXPECT_TRUE(x_->backend() == second);
  XferOptions forced;
  forced.backend = first;
  EXPECT_EQ(Create(XferOp::kWrite, 4096, forced).code(), Code::kNotFound);
  RegHandle h;
  RegOptions reg;
  reg.backends = {first};
  EXPECT_EQ(test::RegisterOne(*agent_, MemKind::kDram, DramDesc(buf_.data() + 8192, 4096), &h, reg)
                .code(),
            Code::kNotFound);
  // The transfer made before still moves data through the destroyed backend.
  test::FillRandom(buf_.data(), 4096, 11);
  FERRY_ASSERT_OK(old->Post());
  FERRY_EXPECT_OK(old->Wait(test::kWaitLimit));
}

// A backend declining a registration (kUnsupported, as GDS declines a tmpfs file) is left
// out of it; the registration fails only when nobody takes the memory, and a transfer that
// then finds no backend says why.
TEST_F(SdkChoiceTest, ARegistrationOneBackendDeclinesGoesToTheOthers) {
  BackendId dbl, posix;
  Make(kDouble, {{"decline_files", "declined"}}, &dbl);
  RegHandle h;
  Status s = test::RegisterOne(*agent_, MemKind::kFile,
                               FileByPath(dir_.File("declined"), 1, test::RwCreate()), &h);
  EXPECT_EQ(s.code(), Code::kUnsupported) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("no backend takes this FILE"));
  EXPECT_THAT(s.message(), HasSubstr("TESTDOUBLE declines files named like 'declined'"));

  Make(test::kPosix, test::EngineParams("threads"), &posix);
  FERRY_ASSERT_OK(
      test::RegisterOne(*agent_, MemKind::kDram, DramDesc(buf_.data(), buf_.size()), &h));
  FERRY_ASSERT_OK(test::RegisterOne(*agent_, MemKind::kFile,
                                    FileByPath(dir_.File("declined"), 1, test::RwCreate()), &h));
  // TESTDOUBLE comes first and covers DRAM->FILE write, but does not hold the file: POSIX
  // moves it.
  FERRY_ASSERT_OK(Create(XferOp::kWrite, 4096));
  FERRY_ASSERT_OK(x_->Post());
  FERRY_ASSERT_OK(x_->Wait(test::kWaitLimit));
  XferOptions forced;
  forced.backend = dbl;
  s = Create(XferOp::kWrite, 4096, forced);
  EXPECT_EQ(s.code(), Code::kUnsupported) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("does not hold these registrations"));
  // With POSIX out of service, nothing can move it, and the error says why.
  FERRY_ASSERT_OK(agent_->DestroyBackend(posix));
  s = Create(XferOp::kWrite, 4096);
  EXPECT_EQ(s.code(), Code::kUnsupported) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("TESTDOUBLE declines files named like 'declined'"));
}

}  // namespace
}  // namespace ferry
