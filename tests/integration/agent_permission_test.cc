// RegisterMem of a file the process may not open as asked: kPermissionDenied.
//
// Tests run as root in CI, and root bypasses mode bits (chmod 000 does not stop it). As
// root the test uses an immutable file (chattr +i), which root cannot open for writing
// either; when the immutable flag cannot be set (no CAP_LINUX_IMMUTABLE, or a file system
// without it) the root case is skipped with that reason.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using ::testing::HasSubstr;

bool SetImmutable(const std::string& path, bool on) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  close(fd);
  return ok;
}

class PermissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    path_ = dir_.File("locked");
    int fd = open(path_.c_str(), O_RDWR | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "data", 4), 4);
    close(fd);
    FERRY_ASSERT_OK(test::MakeAgent(&agent_));
    BackendId id;
    FERRY_ASSERT_OK(agent_->CreateBackend(test::kPosix, {}, &id));
  }
  void TearDown() override {
    if (immutable_) SetImmutable(path_, false);  // or the temp dir cannot be removed
  }

  // Makes the file unopenable for writing by this process; false (with `why`) if impossible.
  bool LockFile(std::string* why) {
    if (geteuid() != 0) {
      if (chmod(path_.c_str(), 0) != 0) {
        *why = "chmod failed";
        return false;
      }
      return true;
    }
    immutable_ = SetImmutable(path_, true);
    if (!immutable_) *why = "running as root and cannot set the immutable flag";
    return immutable_;
  }

  test::TempDir dir_;
  std::string path_;
  bool immutable_ = false;
  std::unique_ptr<Agent> agent_;
};

TEST_F(PermissionTest, OpenForWriteDenied) {
  std::string why;
  if (!LockFile(&why)) GTEST_SKIP() << why;
  FileOpenFlags rw;
  rw.write = true;
  RegHandle h;
  Status s = test::RegisterOne(*agent_, MemKind::kFile, FileByPath(path_, 1, rw), &h);
  EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(path_));
  EXPECT_FALSE(h.valid());
}

TEST_F(PermissionTest, ReadOnlyOpenOfLockedFile) {
  std::string why;
  if (!LockFile(&why)) GTEST_SKIP() << why;
  RegHandle h;
  Status s = test::RegisterOne(*agent_, MemKind::kFile, FileByPath(path_, 1, FileOpenFlags{}), &h);
  if (geteuid() == 0) {
    // An immutable file can still be read.
    EXPECT_TRUE(s.ok()) << s.ToString();
  } else {
    EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  }
}

}  // namespace
}  // namespace ferry
