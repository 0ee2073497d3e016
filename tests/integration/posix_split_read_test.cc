// POSIX backend, split inline requests (src/backends/posix/copy_pool.h): a buffered read
// on tmpfs of at least parallel_read_min bytes, or a write of as much to two files or more
// (the second layout below), is copied by the posting thread and helper threads together. Every
// byte lands where it belongs for any layout and any number of helpers, the request is complete
// when Post returns, failures read as the asynchronous path words them, and many posting threads
// may split reads at once.
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using test::AlignedBuffer;
using test::Dram;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1 << 20;

class SplitReadTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!test::ShmIsTmpfs()) GTEST_SKIP() << test::kShm << " is not a writable tmpfs here";
  }
  // Reads of 1 MiB and more are split, over `copy_threads` helpers.
  std::unique_ptr<test::PosixHarness> Harness(Params extra = {}) {
    auto h = std::make_unique<test::PosixHarness>(test::TempDir::Under{test::kShm});
    extra["parallel_read_min"] = "1M";
    if (!extra.count("copy_threads")) extra["copy_threads"] = GetParam();
    Status s = h->Init(extra);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return s.ok() ? std::move(h) : nullptr;
  }
};

// One large descriptor (not a multiple of the 1 MiB piece), then many of odd sizes over two
// files with gaps between them in memory: done inside Post, every byte in place.
TEST_P(SplitReadTest, EveryLayoutRoundTripsAndIsDoneWhenPostReturns) {
  auto h = Harness();
  ASSERT_NE(h, nullptr);
  constexpr uint64_t kLen = 9 * kMiB + 12345;
  AlignedBuffer src(kLen + 64), dst(kLen + 64);
  test::FillRandom(src.data(), src.size(), 31);
  FERRY_ASSERT_OK(h->RegisterDram(src.data(), src.size()));
  FERRY_ASSERT_OK(h->RegisterDram(dst.data(), dst.size()));
  FERRY_ASSERT_OK(h->RegisterFile("a", 1, test::RwCreate()));
  FERRY_ASSERT_OK(h->RegisterFile("b", 2, test::RwCreate()));
  std::vector<std::pair<XferDescList, XferDescList>> layouts;  // (memory, file)
  layouts.push_back({test::DramList({Dram(src.data(), kLen)}), test::FileList({{0, kLen, 1}})});
  XferDescList mem{MemKind::kDram, {}}, file{MemKind::kFile, {}};
  uint64_t m = 0, off[3] = {0, 0, 0};
  for (uint64_t i = 0; m + 700000 < kLen; ++i) {
    const uint64_t len = 1 + (i * 7919 + 4096) % 600000;
    const uint64_t id = 1 + i % 2;
    mem.descs.push_back(Dram(src.data() + m, len));
    file.descs.push_back({off[id], len, id});
    off[id] += len + (i % 3) * 100;  // gaps in the file, now and then
    m += len + 3;
  }
  layouts.push_back({mem, file});
  for (size_t l = 0; l < layouts.size(); ++l) {
    const auto& [from, to] = layouts[l];
    SCOPED_TRACE("layout " + std::to_string(l));
    FERRY_ASSERT_OK(test::RunXfer(h->agent(), XferOp::kWrite, from, to));
    XferDescList into = from;
    for (auto& d : into.descs) d.addr = d.addr - uintptr_t(src.data()) + uintptr_t(dst.data());
    std::memset(dst.data(), 0, dst.size());
    std::unique_ptr<Transfer> x;
    FERRY_ASSERT_OK(h->agent().CreateTransfer(XferOp::kRead, into, to, "", &x));
    FERRY_ASSERT_OK(x->Post());
    const Status at_post = x->Check();
    EXPECT_TRUE(at_post.ok()) << "not done when Post returned: " << at_post.ToString();
    FERRY_ASSERT_OK(x->Wait(test::kWaitLimit));
    for (size_t i = 0; i < from.descs.size(); ++i) {
      ASSERT_EQ(test::FirstDiff(reinterpret_cast<void*>(from.descs[i].addr),
                                reinterpret_cast<void*>(into.descs[i].addr), from.descs[i].len),
                -1)
          << "layout " << l << ", descriptor " << i;
    }
  }
}

// The last descriptor of a split read crosses the end of the file (its second piece lies
// wholly past it): the same status as the asynchronous path's (inline_max=0), naming the
// descriptor and the offset where the file ends.
TEST_P(SplitReadTest, ReadPastEndFailsInTheSameWordsAsTheAsyncPath) {
  auto split = Harness();
  auto async = Harness({{"inline_max", "0"}});
  ASSERT_NE(split, nullptr);
  ASSERT_NE(async, nullptr);
  constexpr uint64_t kPart = 3 * kMiB / 2, kFileLen = 2 * kPart + 10000;
  AlignedBuffer buf(3 * kPart);
  test::FillRandom(buf.data(), buf.size(), 32);
  std::vector<std::string> got;
  for (auto* h : {split.get(), async.get()}) {
    FERRY_ASSERT_OK(h->RegisterDram(buf.data(), buf.size()));
    FERRY_ASSERT_OK(h->RegisterFile("f", 1, test::RwCreate()));
    FERRY_ASSERT_OK(test::RunXfer(h->agent(), XferOp::kWrite,
                                  test::DramList({Dram(buf.data(), kFileLen)}),
                                  test::FileList({{0, kFileLen, 1}})));
    Status s =
        test::RunXfer(h->agent(), XferOp::kRead,
                      test::DramList({Dram(buf.data(), kPart), Dram(buf.data() + kPart, kPart),
                                      Dram(buf.data() + 2 * kPart, kPart)}),
                      test::FileList({{0, kPart, 1}, {kPart, kPart, 1}, {2 * kPart, kPart, 1}}));
    EXPECT_EQ(s.code(), Code::kOutOfRange) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("descriptor 2"));
    EXPECT_THAT(s.message(), HasSubstr("offset " + std::to_string(kFileLen)));
    std::string text = s.ToString();
    for (size_t at; (at = text.find(h->dir().path())) != std::string::npos;)
      text.replace(at, h->dir().path().size(), "<dir>");
    got.push_back(text);
  }
  EXPECT_EQ(got[0], got[1]) << "split read vs asynchronous path";
}

// Four threads each split reads of their own part of one file, again and again.
TEST_P(SplitReadTest, ConcurrentPostersEachGetTheirBytes) {
  auto h = Harness();
  ASSERT_NE(h, nullptr);
  const auto errors = test::ConcurrentRoundTrips(*h, 4, 12, 3 * kMiB + 4096);
  for (size_t t = 0; t < errors.size(); ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
}

INSTANTIATE_TEST_SUITE_P(Helpers, SplitReadTest, ::testing::Values("0", "1", "3"),
                         [](const auto& info) { return "copy_threads_" + info.param; });

TEST(SplitReadParams, OutOfRangeIsRefusedByName) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  BackendId id;
  for (const auto& [key, bad] : std::vector<std::pair<std::string, std::string>>{
           {"copy_threads", "65"}, {"copy_threads", "-1"}, {"parallel_read_min", "2G"}}) {
    Status s = agent->CreateBackend(test::kPosix, {{key, bad}}, &id);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << key << "=" << bad << ": " << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(key)) << key << "=" << bad;
  }
}

}  // namespace
}  // namespace ferry
