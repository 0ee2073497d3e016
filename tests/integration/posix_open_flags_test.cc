// FILE registration flags that keep writes where the caller meant them: create never
// follows a link and cleans up after itself, owned_only refuses links and other users'
// files, reserve claims the disk up front.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using ::testing::HasSubstr;

class PosixOpenFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override { FERRY_ASSERT_OK(h_.Init(test::EngineParams("threads"))); }
  Status Register(const std::string& path, FileOpenFlags f, uint64_t len = 0) {
    RegHandle h;
    return test::RegisterOne(h_.agent(), MemKind::kFile, FileByPath(path, next_id_++, f, 0, len),
                             &h);
  }
  static FileOpenFlags Owned(bool create = true) {
    FileOpenFlags f = test::RwCreate();
    f.create = create;
    f.owned_only = true;
    return f;
  }
  test::PosixHarness h_{false};
  uint64_t next_id_ = 1;
};

TEST_F(PosixOpenFlagsTest, CreateNeverWritesThroughASymlink) {
  const std::string outside = h_.dir().File("outside");
  const std::string name = h_.dir().File("slot");
  ASSERT_EQ(::symlink(outside.c_str(), name.c_str()), 0);
  Status s = Register(name, test::RwCreate());
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("symbolic link"));
  EXPECT_NE(::access(outside.c_str(), F_OK), 0) << "the link's target was created";
}

TEST_F(PosixOpenFlagsTest, OwnedOnlyRefusesHardLinks) {
  const std::string victim = h_.dir().File("victim");
  std::ofstream(victim) << "precious";
  const std::string name = h_.dir().File("slot");
  ASSERT_EQ(::link(victim.c_str(), name.c_str()), 0);
  Status s = Register(name, Owned());
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("hard links"));
  FERRY_EXPECT_OK(Register(victim + "-new", Owned()));  // a fresh file is fine
}

TEST_F(PosixOpenFlagsTest, OwnedOnlyRefusesAnotherUsersFile) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  const std::string name = h_.dir().File("planted");
  std::ofstream(name) << "";
  ASSERT_EQ(::chmod(name.c_str(), 0666), 0);
  ASSERT_EQ(::chown(name.c_str(), 65534, 65534), 0);
  Status s = Register(name, Owned());
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("belongs to user 65534"));
}

TEST_F(PosixOpenFlagsTest, ReserveClaimsTheRangeAndAFailedCreateLeavesNoFile) {
  const std::string ok = h_.dir().File("reserved");
  FileOpenFlags f = Owned();
  f.reserve = true;
  FERRY_ASSERT_OK(Register(ok, f, 1 << 20));
  struct stat st {};
  ASSERT_EQ(::stat(ok.c_str(), &st), 0);
  EXPECT_GE(uint64_t(st.st_size), uint64_t{1} << 20);
  // More than any test disk holds: refused, and the file it created is gone again.
  const std::string big = h_.dir().File("too-big");
  Status s = Register(big, f, uint64_t{1} << 52);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("reserving"));
  EXPECT_NE(::access(big.c_str(), F_OK), 0) << "a failed registration left its file behind";
  EXPECT_EQ(Register(ok, FileOpenFlags{.reserve = true}, 4096).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace ferry
