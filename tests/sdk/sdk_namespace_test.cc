// Storage namespace operations through the agent: QueryMem, RemoveMem, ListMem, for FILE
// (POSIX) and OBJ (the test double's in-memory objects).
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> Names(const std::vector<ListEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.name);
  return out;
}

class PosixNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override { FERRY_ASSERT_OK(h_.Init(test::EngineParams("threads"))); }
  std::string Make(const std::string& name, size_t bytes) {
    std::string p = h_.dir().File(name);
    std::ofstream(p) << std::string(bytes, 'x');
    return p;
  }
  test::PosixHarness h_{false};
};

TEST_F(PosixNamespaceTest, QueryGivesSizeTypeMtimeAndFreeSpace) {
  const std::string a = Make("pool.a", 100);
  ASSERT_EQ(::mkdir(h_.dir().File("pool.dir").c_str(), 0700), 0);
  ASSERT_EQ(::symlink(a.c_str(), h_.dir().File("pool.link").c_str()), 0);
  std::vector<QueryResult> r;
  FERRY_ASSERT_OK(h_.agent().QueryMem(
      {MemKind::kFile,
       {FileName(a), FileName(h_.dir().File("pool.dir")), FileName(h_.dir().File("pool.link")),
        FileName(h_.dir().File("absent"))}},
      &r));
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(r[0].exists);
  EXPECT_EQ(r[0].size, 100u);
  EXPECT_EQ(r[0].type, EntryType::kRegular);
  EXPECT_GT(r[0].mtime_ns, int64_t{1600000000} * 1000000000);
  EXPECT_GT(r[0].available, 0u);
  EXPECT_EQ(r[1].type, EntryType::kDirectory);
  EXPECT_EQ(r[2].type, EntryType::kSymlink) << "a link at the name is reported, not followed";
  EXPECT_FALSE(r[3].exists);
}

TEST_F(PosixNamespaceTest, ListByNamePrefixIsSortedAndDoesNotRecurse) {
  Make("pool.b", 1);
  Make("pool.a", 2);
  Make("other", 3);
  ASSERT_EQ(::mkdir(h_.dir().File("pool.sub").c_str(), 0700), 0);
  std::vector<ListEntry> out;
  FERRY_ASSERT_OK(h_.agent().ListMem(MemKind::kFile, h_.dir().File("pool."), &out));
  EXPECT_THAT(Names(out), ::testing::ElementsAre(h_.dir().File("pool.a"), h_.dir().File("pool.b"),
                                                 h_.dir().File("pool.sub")));
  EXPECT_EQ(out[0].info.size, 2u);
  EXPECT_EQ(out[2].info.type, EntryType::kDirectory);
  Status s = h_.agent().ListMem(MemKind::kFile, h_.dir().File("missing/x"), &out);
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
}

TEST_F(PosixNamespaceTest, RemoveIsIdempotentNeverFollowsLinksAndRefusesDirectories) {
  const std::string a = Make("a", 10);
  const std::string target = Make("target", 10);
  const std::string link = h_.dir().File("link");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  FERRY_ASSERT_OK(h_.agent().RemoveMem({MemKind::kFile, {FileName(a), FileName(link)}}));
  EXPECT_NE(::access(a.c_str(), F_OK), 0);
  EXPECT_NE(::access(link.c_str(), F_OK), 0);
  EXPECT_EQ(::access(target.c_str(), F_OK), 0) << "the link's target must survive";
  FERRY_EXPECT_OK(h_.agent().RemoveMem({MemKind::kFile, {FileName(a)}}));  // already gone
  ASSERT_EQ(::mkdir(h_.dir().File("d").c_str(), 0700), 0);
  Status s = h_.agent().RemoveMem({MemKind::kFile, {FileName(h_.dir().File("d"))}});
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("directory"));
}

TEST_F(PosixNamespaceTest, NamespaceOperationsNeedANamespaceKind) {
  std::vector<ListEntry> out;
  EXPECT_EQ(h_.agent().ListMem(MemKind::kDram, "x", &out).code(), Code::kInvalidArgument);
  EXPECT_EQ(h_.agent().ListMem(MemKind::kObj, "x", &out).code(), Code::kUnsupported)
      << "POSIX names no OBJ memory";
}

TEST(ObjNamespaceTest, ObjectsAreQueriedListedAndRemovedWithAnEtag) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  BackendId dbl;
  FERRY_ASSERT_OK(agent->CreateBackend("TESTDOUBLE", {}, &dbl));
  char data[32] = "object bytes";
  RegHandle h;
  FERRY_ASSERT_OK(test::RegisterOne(*agent, MemKind::kDram, DramDesc(data, sizeof data), &h));
  // Object registrations are told apart by key id (dev_id).
  RegHandle h2;
  MemDescList objs{MemKind::kObj, {}};
  for (uint64_t i = 0; i < 3; ++i) {
    MemDesc d = ObjectKey(std::string("obj/") + char('a' + i));
    d.dev_id = 10 + i;
    d.len = sizeof data;
    objs.descs.push_back(d);
  }
  FERRY_ASSERT_OK(agent->RegisterMem(objs, &h2));
  for (uint64_t i = 0; i < 3; ++i) {
    FERRY_ASSERT_OK(test::RunXfer(*agent, XferOp::kWrite,
                                  {MemKind::kDram, {test::Dram(data, sizeof data)}},
                                  {MemKind::kObj, {{0, sizeof data, 10 + i}}}));
  }
  std::vector<ListEntry> out;
  FERRY_ASSERT_OK(agent->ListMem(MemKind::kObj, "obj/", &out));
  EXPECT_THAT(Names(out), ::testing::ElementsAre("obj/a", "obj/b", "obj/c"));
  std::vector<QueryResult> q;
  FERRY_ASSERT_OK(agent->QueryMem({MemKind::kObj, {ObjectKey("obj/b"), ObjectKey("obj/z")}}, &q));
  ASSERT_EQ(q.size(), 2u);
  EXPECT_TRUE(q[0].exists);
  EXPECT_EQ(q[0].size, sizeof data);
  EXPECT_FALSE(q[0].etag.empty());
  EXPECT_FALSE(q[1].exists);
  FERRY_ASSERT_OK(agent->RemoveMem({MemKind::kObj, {ObjectKey("obj/b")}}));
  FERRY_ASSERT_OK(agent->ListMem(MemKind::kObj, "obj/", &out));
  EXPECT_THAT(Names(out), ::testing::ElementsAre("obj/a", "obj/c"));
}

}  // namespace
}  // namespace ferry
