// Agent::QueryMem on FILE descriptors through the POSIX backend.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

class QueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_ASSERT_OK(h_.Init({}));
    std::ofstream(h_.dir().File("five")) << "12345";
  }
  test::PosixHarness h_{false};
};

TEST_F(QueryTest, ExistingAndMissingFilesByPath) {
  MemDescList l;
  l.kind = MemKind::kFile;
  l.descs = {FileByPath(h_.dir().File("five"), 1, FileOpenFlags{}),
             FileByPath(h_.dir().File("absent"), 2, FileOpenFlags{})};
  std::vector<QueryResult> r;
  FERRY_ASSERT_OK(h_.agent().QueryMem(l, &r));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].exists);
  EXPECT_EQ(r[0].size, 5u);
  EXPECT_FALSE(r[1].exists) << "a missing file is an answer, not an error";
}

TEST_F(QueryTest, ByFdNeedNotBeRegistered) {
  int fd = open(h_.dir().File("five").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  MemDescList l;
  l.kind = MemKind::kFile;
  l.descs = {FileByFd(fd)};
  std::vector<QueryResult> r;
  FERRY_EXPECT_OK(h_.agent().QueryMem(l, &r));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].exists);
  EXPECT_EQ(r[0].size, 5u);
  close(fd);
}

TEST_F(QueryTest, SizeFollowsWrites) {
  test::AlignedBuffer buf(10000);
  FERRY_ASSERT_OK(h_.RegisterDram(buf.data(), buf.size()));
  FERRY_ASSERT_OK(h_.RegisterFile("grow", 1, test::RwCreate()));
  FERRY_ASSERT_OK(test::RunXfer(h_.agent(), XferOp::kWrite,
                                test::DramList({test::Dram(buf.data(), 10000)}),
                                test::FileList({{100, 10000, 1}})));
  MemDescList l;
  l.kind = MemKind::kFile;
  l.descs = {FileByPath(h_.dir().File("grow"), 9, FileOpenFlags{})};
  std::vector<QueryResult> r;
  FERRY_ASSERT_OK(h_.agent().QueryMem(l, &r));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].size, 10100u);
}

TEST_F(QueryTest, UnsupportedKind) {
  MemDescList l;
  l.kind = MemKind::kDram;
  char b[8] = {};
  l.descs = {DramDesc(b, sizeof b)};
  std::vector<QueryResult> r;
  // Memory has no namespace to ask about.
  EXPECT_EQ(h_.agent().QueryMem(l, &r).code(), Code::kInvalidArgument);
  l.kind = MemKind::kObj;
  l.descs = {MemDesc{0, 0, 1, "bucket/key"}};
  EXPECT_EQ(h_.agent().QueryMem(l, &r).code(), Code::kUnsupported);
}

TEST_F(QueryTest, UnknownBackend) {
  MemDescList l;
  l.kind = MemKind::kFile;
  l.descs = {FileByPath(h_.dir().File("five"), 1, FileOpenFlags{})};
  std::vector<QueryResult> r;
  Status s = h_.agent().QueryMem(l, &r, BackendId{h_.backend().value + 50});
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
}

TEST(QueryNoBackendTest, NoBackendAnswers) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  MemDescList l;
  l.kind = MemKind::kFile;
  l.descs = {FileByPath("/etc/hostname", 1, FileOpenFlags{})};
  std::vector<QueryResult> r;
  EXPECT_EQ(agent->QueryMem(l, &r).code(), Code::kUnsupported);
}

}  // namespace
}  // namespace ferry
