// Agent::RegisterMem / DeregisterMem: DRAM and FILE success and error paths.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using test::AlignedBuffer;
using test::RegisterOne;
using ::testing::HasSubstr;

class RegisterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    FERRY_ASSERT_OK(test::MakeAgent(&agent_));
    FERRY_ASSERT_OK(agent_->CreateBackend(test::kPosix, {}, &backend_));
  }
  Status RegDram(const void* p, uint64_t len, RegHandle* h) {
    return RegisterOne(*agent_, MemKind::kDram, DramDesc(p, len), h);
  }

  test::TempDir dir_;
  std::unique_ptr<Agent> agent_;
  BackendId backend_;
  AlignedBuffer buf_{64 * 1024};
};

TEST_F(RegisterTest, DramThenDeregister) {
  RegHandle h;
  FERRY_ASSERT_OK(RegDram(buf_.data(), buf_.size(), &h));
  EXPECT_TRUE(h.valid());
  FERRY_EXPECT_OK(agent_->DeregisterMem(h));
}

TEST_F(RegisterTest, DeregisterTwiceIsReleased) {
  RegHandle h;
  FERRY_ASSERT_OK(RegDram(buf_.data(), buf_.size(), &h));
  FERRY_ASSERT_OK(agent_->DeregisterMem(h));
  Status s = agent_->DeregisterMem(h);
  EXPECT_EQ(s.code(), Code::kReleased) << s.ToString();
}

TEST_F(RegisterTest, DeregisterUnknownHandleIsReleased) {
  EXPECT_EQ(agent_->DeregisterMem(RegHandle{}).code(), Code::kReleased);
  EXPECT_EQ(agent_->DeregisterMem(RegHandle{987654321}).code(), Code::kReleased);
}

TEST_F(RegisterTest, ZeroLengthDramFails) {
  RegHandle h;
  Status s = RegDram(buf_.data(), 0, &h);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(h.valid());
}

TEST_F(RegisterTest, OverlapIsAlreadyExists) {
  RegHandle h, h2;
  FERRY_ASSERT_OK(RegDram(buf_.data(), 8192, &h));
  Status s = RegDram(buf_.data() + 100, 100, &h2);
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  s = RegDram(buf_.data(), 8192, &h2);
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << "exact duplicate: " << s.ToString();
  s = RegDram(buf_.data() + 8191, 10, &h2);
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << "tail overlap: " << s.ToString();
}

TEST_F(RegisterTest, AdjacentRangesDoNotOverlap) {
  RegHandle a, b;
  FERRY_ASSERT_OK(RegDram(buf_.data(), 4096, &a));
  FERRY_EXPECT_OK(RegDram(buf_.data() + 4096, 4096, &b));
}

TEST_F(RegisterTest, SameRangeAgainAfterDeregister) {
  RegHandle h;
  FERRY_ASSERT_OK(RegDram(buf_.data(), 4096, &h));
  FERRY_ASSERT_OK(agent_->DeregisterMem(h));
  FERRY_EXPECT_OK(RegDram(buf_.data(), 4096, &h));
}

TEST_F(RegisterTest, ListIsAllOrNothing) {
  RegHandle taken;
  FERRY_ASSERT_OK(RegDram(buf_.data() + 32768, 4096, &taken));
  MemDescList l;
  l.kind = MemKind::kDram;
  l.descs = {DramDesc(buf_.data(), 4096), DramDesc(buf_.data() + 32768 + 16, 16)};
  RegHandle h;
  Status s = agent_->RegisterMem(l, &h);
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  // The first descriptor must not have stayed registered.
  FERRY_EXPECT_OK(RegDram(buf_.data(), 4096, &h));
}

TEST_F(RegisterTest, KindWithoutBackendIsUnsupported) {
  // Built with CUDA, POSIX takes VRAM (tests/gpu checks that a host pointer is refused).
#ifdef FERRY_HAVE_CUDA
  for (MemKind kind : {MemKind::kObj, MemKind::kBlk}) {
#else
  for (MemKind kind : {MemKind::kVram, MemKind::kObj, MemKind::kBlk}) {
#endif
    MemDesc d{buf_.addr(), 4096, 0, "key"};
    RegHandle h;
    Status s = RegisterOne(*agent_, kind, d, &h);
    EXPECT_EQ(s.code(), Code::kUnsupported) << MemKindName(kind) << ": " << s.ToString();
    EXPECT_FALSE(s.message().empty());
  }
}

TEST(RegisterNoBackendTest, DramWithNoBackendIsUnsupported) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  char b[64];
  RegHandle h;
  Status s = RegisterOne(*agent, MemKind::kDram, DramDesc(b, sizeof b), &h);
  EXPECT_EQ(s.code(), Code::kUnsupported) << s.ToString();
}

TEST_F(RegisterTest, UnknownBackendInOptions) {
  RegOptions opt;
  opt.backends.assign(1, BackendId{backend_.value + 1000});
  RegHandle h;
  Status s = RegisterOne(*agent_, MemKind::kDram, DramDesc(buf_.data(), 4096), &h, opt);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
}

TEST_F(RegisterTest, FileByPathCreates) {
  RegHandle h;
  std::string path = dir_.File("new");
  FERRY_ASSERT_OK(RegisterOne(*agent_, MemKind::kFile, FileByPath(path, 1, test::RwCreate()), &h));
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "created files must not be world readable";
  FERRY_EXPECT_OK(agent_->DeregisterMem(h));
}

TEST_F(RegisterTest, MissingFileIsNotFound) {
  RegHandle h;
  std::string path = dir_.File("absent");
  FileOpenFlags ro;
  Status s = RegisterOne(*agent_, MemKind::kFile, FileByPath(path, 1, ro), &h);
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(path));
  FileOpenFlags rw;
  rw.write = true;
  s = RegisterOne(*agent_, MemKind::kFile, FileByPath(path, 1, rw), &h);
  EXPECT_EQ(s.code(), Code::kNotFound) << "write without create: " << s.ToString();
}

TEST_F(RegisterTest, MalformedFileMetaIsInvalid) {
  RegHandle h;
  MemDesc d{0, 0, 5, "qz:" + dir_.File("x")};
  Status s = RegisterOne(*agent_, MemKind::kFile, d, &h);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
}

TEST_F(RegisterTest, CreateWithoutWriteIsInvalid) {
  RegHandle h;
  MemDesc d{0, 0, 5, "c:" + dir_.File("x")};
  Status s = RegisterOne(*agent_, MemKind::kFile, d, &h);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
}

TEST_F(RegisterTest, DuplicateFileIdIsAlreadyExists) {
  RegHandle a, b;
  FERRY_ASSERT_OK(
      RegisterOne(*agent_, MemKind::kFile, FileByPath(dir_.File("f1"), 7, test::RwCreate()), &a));
  Status s =
      RegisterOne(*agent_, MemKind::kFile, FileByPath(dir_.File("f2"), 7, test::RwCreate()), &b);
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
}

TEST_F(RegisterTest, DisjointRangesOfOneFile) {
  RegHandle a, b;
  std::string path = dir_.File("ranges");
  FERRY_ASSERT_OK(
      RegisterOne(*agent_, MemKind::kFile, FileByPath(path, 9, test::RwCreate(), 0, 4096), &a));
  FERRY_EXPECT_OK(
      RegisterOne(*agent_, MemKind::kFile, FileByPath(path, 9, test::RwCreate(), 4096, 4096), &b));
  RegHandle c;
  Status s =
      RegisterOne(*agent_, MemKind::kFile, FileByPath(path, 9, test::RwCreate(), 100, 10), &c);
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
}

TEST_F(RegisterTest, FileByFd) {
  int fd = open(dir_.File("byfd").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  RegHandle h;
  FERRY_EXPECT_OK(RegisterOne(*agent_, MemKind::kFile, FileByFd(fd), &h));
  FERRY_EXPECT_OK(agent_->DeregisterMem(h));
  close(fd);
}

// A closed fd must be caught at registration, or at the latest by the transfer, with an
// error; never a crash or a hang.
TEST_F(RegisterTest, BadFdFailsSomewhere) {
  int fd = open(dir_.File("closed").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  RegHandle h;
  Status s = RegisterOne(*agent_, MemKind::kFile, FileByFd(fd), &h);
  if (s.ok()) {
    RegHandle hb;
    FERRY_ASSERT_OK(RegDram(buf_.data(), 4096, &hb));
    s = test::RunXfer(*agent_, XferOp::kWrite, test::DramList({test::Dram(buf_.data(), 4096)}),
                      test::FileList({{0, 4096, static_cast<uint64_t>(fd)}}));
  }
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.code(), Code::kTimedOut);
  EXPECT_FALSE(s.message().empty());
}

TEST_F(RegisterTest, DirectoryAsFileFails) {
  RegHandle h;
  FileOpenFlags rw;
  rw.write = true;
  Status s = RegisterOne(*agent_, MemKind::kFile, FileByPath(dir_.path(), 3, rw), &h);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(dir_.path()));
}

}  // namespace
}  // namespace ferry
