// The OBJ backend against a real S3 server (SeaweedFS): round trips, multipart, ranges,
// namespace operations, odd keys, conditional writes, many requests in flight.
#include <thread>

#include "obj/obj_test_util.h"

namespace ferry::test {
namespace {

TEST_F(ObjTest, PutThenGetWholeAndRanges) {
  auto data = Random(1 << 20, 1);
  FERRY_ASSERT_OK(Put(prefix_ + "one", data));
  std::vector<uint8_t> back;
  FERRY_ASSERT_OK(Get(prefix_ + "one", &back, 0, data.size()));
  EXPECT_EQ(back, data);
  FERRY_ASSERT_OK(Get(prefix_ + "one", &back, 12345, 1000));
  EXPECT_TRUE(std::equal(back.begin(), back.end(), data.begin() + 12345));
  FERRY_ASSERT_OK(Get(prefix_ + "one", &back, data.size() - 1, 1));
  EXPECT_EQ(back[0], data.back());
  const QueryResult q = Head(prefix_ + "one");
  EXPECT_TRUE(q.exists);
  EXPECT_EQ(q.size, data.size());
  EXPECT_FALSE(q.etag.empty());
  EXPECT_GT(q.mtime_ns, 0);
}

TEST_F(ObjTest, OverwriteReplacesTheWholeObject) {
  auto big = Random(100000, 2), small = Random(10, 3);
  FERRY_ASSERT_OK(Put(prefix_ + "k", big));
  FERRY_ASSERT_OK(Put(prefix_ + "k", small));
  EXPECT_EQ(Head(prefix_ + "k").size, 10u);
  std::vector<uint8_t> back;
  FERRY_ASSERT_OK(Get(prefix_ + "k", &back, 0, 10));
  EXPECT_EQ(back, small);
}

class ObjMultipartTest : public ObjTest {
  Params Extra() const override { return {{"multipart_threshold", "5M"}, {"part_size", "5M"}}; }
};

TEST_F(ObjMultipartTest, LargeObjectsGoInPartsAndComeBackInRanges) {
  // 4 full parts and a short one; read back as parallel ranges, also from an odd offset.
  auto data = Random((21 << 20) + 4321, 4);
  FERRY_ASSERT_OK(Put(prefix_ + "big", data));
  const QueryResult q = Head(prefix_ + "big");
  EXPECT_EQ(q.size, data.size());
  EXPECT_NE(q.etag.find('-'), std::string::npos) << "a multipart ETag ends in -<parts>: " << q.etag;
  std::vector<uint8_t> back;
  FERRY_ASSERT_OK(Get(prefix_ + "big", &back, 0, data.size()));
  EXPECT_TRUE(back == data);
  FERRY_ASSERT_OK(Get(prefix_ + "big", &back, 777, 11 << 20));
  EXPECT_TRUE(std::equal(back.begin(), back.end(), data.begin() + 777));
  // A multipart upload leaves no parts behind: nothing else under the prefix.
  std::vector<ListEntry> all;
  FERRY_ASSERT_OK(agent_->ListMem(MemKind::kObj, prefix_, &all, obj_));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, prefix_ + "big");
}

TEST_F(ObjTest, KeysWithSpacesUnicodeSlashesPlusAndPercent) {
  const std::vector<std::string> keys = {"sp ace",  "ünï/cödé",           "a+b",    "100%",
                                         "x=y&z?w", "deep/er/still/leaf", "t~ilde", "(p)!*'"};
  for (size_t i = 0; i < keys.size(); ++i) {
    auto data = Random(100 + i, 10 + i);
    Status s = Put(prefix_ + keys[i], data);
    ASSERT_TRUE(s.ok()) << keys[i] << ": " << s.ToString();
    std::vector<uint8_t> back;
    s = Get(prefix_ + keys[i], &back, 0, data.size());
    ASSERT_TRUE(s.ok()) << keys[i] << ": " << s.ToString();
    EXPECT_EQ(back, data) << keys[i];
  }
  std::vector<ListEntry> all;
  FERRY_ASSERT_OK(agent_->ListMem(MemKind::kObj, prefix_, &all, obj_));
  std::vector<std::string> names, want;
  for (const auto& e : all) names.push_back(e.name);
  for (const auto& k : keys) want.push_back(prefix_ + k);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(names, want);
}

class ObjSmallPagesTest : public ObjTest {
  Params Extra() const override { return {{"list_page_size", "2"}}; }
};

TEST_F(ObjSmallPagesTest, ListFollowsContinuationTokens) {
  for (int i = 0; i < 7; ++i) {
    auto d = Random(i + 1, i);
    FERRY_ASSERT_OK(Put(prefix_ + "k" + std::to_string(i), d));
  }
  auto other = Random(3, 99);
  FERRY_ASSERT_OK(Put(prefix_.substr(0, prefix_.size() - 1) + "-not-under", other));
  std::vector<ListEntry> all;
  FERRY_ASSERT_OK(agent_->ListMem(MemKind::kObj, prefix_, &all, obj_));
  ASSERT_EQ(all.size(), 7u);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(all[i].name, prefix_ + "k" + std::to_string(i));
    EXPECT_EQ(all[i].info.size, uint64_t(i + 1));
  }
}

TEST_F(ObjTest, RemoveDeletesAndAbsentCountsAsRemoved) {
  auto d = Random(10, 5);
  FERRY_ASSERT_OK(Put(prefix_ + "gone", d));
  FERRY_ASSERT_OK(agent_->RemoveMem({MemKind::kObj, {ObjectKey(prefix_ + "gone")}}, obj_));
  EXPECT_FALSE(Head(prefix_ + "gone").exists);
  FERRY_EXPECT_OK(agent_->RemoveMem({MemKind::kObj, {ObjectKey(prefix_ + "never")}}, obj_));
}

TEST_F(ObjTest, MissingObjectsAndShortObjectsAreNamedErrors) {
  std::vector<uint8_t> back;
  Status s = Get(prefix_ + "nope", &back, 0, 10);
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("NoSuchKey"), std::string::npos) << s.ToString();
  auto d = Random(100, 6);
  FERRY_ASSERT_OK(Put(prefix_ + "short", d));
  s = Get(prefix_ + "short", &back, 50, 100);  // ends 50 bytes past the object
  EXPECT_EQ(s.code(), Code::kOutOfRange) << s.ToString();
  std::vector<uint8_t> guard(200, 0xAB);
  s = Move(XferOp::kRead, prefix_ + "short", guard.data(), 100, 200);  // starts past the end
  EXPECT_EQ(s.code(), Code::kOutOfRange) << s.ToString();
  EXPECT_EQ(guard[150], 0xAB) << "nothing is written past what the object had";
}

TEST_F(ObjTest, WritesPutWholeObjectsOnly) {
  std::vector<uint8_t> d(100, 1);
  Status s = Move(XferOp::kWrite, prefix_ + "x", d.data(), d.size(), 4096);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("offset must be 0"), std::string::npos) << s.ToString();
  EXPECT_FALSE(Head(prefix_ + "x").exists);
}

TEST_F(ObjTest, ConditionalWrites) {
  auto a = Random(10, 7), b = Random(10, 8);
  FERRY_ASSERT_OK(Put(prefix_ + "lease", a, {{"if_none_match", "*"}}));
  Status s = Put(prefix_ + "lease", b, {{"if_none_match", "*"}});
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  EXPECT_NE(s.message().find("PreconditionFailed"), std::string::npos) << s.ToString();
  s = Put(prefix_ + "lease", b, {{"if_match", "\"0123456789abcdef0123456789abcdef\""}});
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  FERRY_ASSERT_OK(Put(prefix_ + "lease", b, {{"if_match", Head(prefix_ + "lease").etag}}));
  std::vector<uint8_t> back;
  FERRY_ASSERT_OK(Get(prefix_ + "lease", &back, 0, 10));
  EXPECT_EQ(back, b);
  s = Put(prefix_ + "lease", b, {{"if_none_match", "etag"}});
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  s = Put(prefix_ + "lease", b, {{"no_such_arg", "1"}});
  EXPECT_EQ(s.code(), Code::kUnsupported) << s.ToString();
}

TEST_F(ObjTest, ManyObjectsInOneTransferAndManyTransfersAtOnce) {
  constexpr int kObjects = 64, kThreads = 8;
  constexpr uint64_t kLen = 64 << 10;
  auto data = Random(kObjects * kLen, 9);
  RegOptions reg;
  reg.backends = {obj_};
  RegHandle local, remote;
  FERRY_ASSERT_OK(
      agent_->RegisterMem({MemKind::kDram, {DramDesc(data.data(), data.size())}}, &local, reg));
  MemDescList objs{MemKind::kObj, {}};
  XferDescList lo{MemKind::kDram, {}}, ro{MemKind::kObj, {}};
  for (int i = 0; i < kObjects; ++i) {
    objs.descs.push_back({0, 0, uint64_t(i), prefix_ + "o" + std::to_string(i)});
    lo.descs.push_back({reinterpret_cast<uint64_t>(data.data()) + i * kLen, kLen, 0});
    ro.descs.push_back({0, kLen, uint64_t(i)});
  }
  FERRY_ASSERT_OK(agent_->RegisterMem(objs, &remote, reg));
  std::unique_ptr<Transfer> w;
  FERRY_ASSERT_OK(agent_->CreateTransfer(XferOp::kWrite, lo, ro, "", &w));
  FERRY_ASSERT_OK(w->Post());
  FERRY_ASSERT_OK(w->Wait(kWaitLimit));
  // Readers in parallel, each reading every object into its own buffer, twice (repost).
  std::vector<std::thread> readers;
  std::vector<std::vector<uint8_t>> backs(kThreads, std::vector<uint8_t>(data.size()));
  std::vector<Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    readers.emplace_back([&, t] {
      RegHandle h;
      Status s = agent_->RegisterMem({MemKind::kDram, {DramDesc(backs[t].data(), backs[t].size())}},
                                     &h, reg);
      XferDescList mine{MemKind::kDram, {}};
      for (int i = 0; i < kObjects; ++i)
        mine.descs.push_back({reinterpret_cast<uint64_t>(backs[t].data()) + i * kLen, kLen, 0});
      std::unique_ptr<Transfer> r;
      if (s.ok()) s = agent_->CreateTransfer(XferOp::kRead, mine, ro, "", &r);
      for (int round = 0; s.ok() && round < 2; ++round) {
        s = r->Post();
        if (s.ok()) s = r->Wait(kWaitLimit);
      }
      r.reset();
      if (h.valid()) (void)agent_->DeregisterMem(h);
      results[t] = s;
    });
  }
  for (auto& th : readers) th.join();
  for (int t = 0; t < kThreads; ++t) {
    FERRY_EXPECT_OK(results[t]);
    EXPECT_TRUE(backs[t] == data) << "reader " << t;
  }
  w.reset();
  FERRY_EXPECT_OK(agent_->DeregisterMem(remote));
  FERRY_EXPECT_OK(agent_->DeregisterMem(local));
}

TEST_F(ObjTest, CancelledWriteLeavesTheOldObjectOrTheNewOneNeverAMix) {
  auto old_data = Random(1 << 20, 11);
  FERRY_ASSERT_OK(Put(prefix_ + "c", old_data));
  auto new_data = Random(24 << 20, 12);
  RegOptions reg;
  reg.backends = {obj_};
  RegHandle local, remote;
  FERRY_ASSERT_OK(agent_->RegisterMem(
      {MemKind::kDram, {DramDesc(new_data.data(), new_data.size())}}, &local, reg));
  FERRY_ASSERT_OK(agent_->RegisterMem({MemKind::kObj, {{0, 0, 1, prefix_ + "c"}}}, &remote, reg));
  std::unique_ptr<Transfer> w;
  FERRY_ASSERT_OK(agent_->CreateTransfer(
      XferOp::kWrite,
      {MemKind::kDram, {{reinterpret_cast<uint64_t>(new_data.data()), new_data.size(), 0}}},
      {MemKind::kObj, {{0, new_data.size(), 1}}}, "", &w));
  FERRY_ASSERT_OK(w->Post());
  FERRY_ASSERT_OK(w->Cancel());
  const Status s = w->Wait(kWaitLimit);
  EXPECT_TRUE(s.ok() || s.code() == Code::kCancelled) << s.ToString();
  const QueryResult q = Head(prefix_ + "c");
  ASSERT_TRUE(q.exists);
  std::vector<uint8_t> back;
  FERRY_ASSERT_OK(Get(prefix_ + "c", &back, 0, q.size));
  EXPECT_TRUE(back == old_data || back == new_data) << "size " << q.size;
  w.reset();
  FERRY_EXPECT_OK(agent_->DeregisterMem(remote));
  FERRY_EXPECT_OK(agent_->DeregisterMem(local));
}

}  // namespace
}  // namespace ferry::test
