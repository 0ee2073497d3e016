// POSIX backend, inline path (src/backends/posix/inline_io.h): small buffered requests on
// tmpfs complete inside Post, move the right bytes for any descriptor layout, and fail in
// the same words as the asynchronous path.
#include <fcntl.h>
#include <sys/vfs.h>
#include <unistd.h>

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

using test::kShm;
using test::ShmIsTmpfs;
constexpr char kInlineKey[] = "inline_max";

// Replaces every occurrence of `what` in `s` (paths differ between two harnesses).
std::string Without(std::string s, const std::string& what, const std::string& with) {
  for (size_t at; (at = s.find(what)) != std::string::npos;) s.replace(at, what.size(), with);
  return s;
}

class InlineTest : public ::testing::TestWithParam<std::string> {
 protected:
  // A POSIX backend in a fresh directory on /dev/shm; `inline_max` empty = the default.
  std::unique_ptr<test::PosixHarness> Harness(const std::string& inline_max = "") {
    auto h = std::make_unique<test::PosixHarness>(test::TempDir::Under{kShm});
    Params p = test::EngineParams(GetParam());
    if (!inline_max.empty()) p[kInlineKey] = inline_max;
    Status s = h->Init(p);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return s.ok() ? std::move(h) : nullptr;
  }

  void SetUp() override {
    if (!ShmIsTmpfs()) GTEST_SKIP() << kShm << " is not a writable tmpfs here";
    if (GetParam() == "uring" && !test::KernelHasIoUring()) GTEST_SKIP() << "io_uring disabled";
  }

  // Posts `op` and returns its state right after Post, without waiting; then waits.
  static Status PostAndCheck(Agent& agent, XferOp op, const XferDescList& local,
                             const XferDescList& target, Status* at_post) {
    std::unique_ptr<Transfer> x;
    Status s = agent.CreateTransfer(op, local, target, "", &x);
    if (!s.ok()) return s;
    s = x->Post();
    if (!s.ok()) return s;
    *at_post = x->Check();
    return x->Wait(test::kWaitLimit);
  }
};

// Eight contiguous 4 KiB file blocks from memory blocks in reverse order: done when Post
// returns, for the write and for the read, with every byte where it belongs.
TEST_P(InlineTest, SmallRequestCompletesInsidePost) {
  auto h = Harness();
  ASSERT_NE(h, nullptr);
  constexpr uint64_t kBlock = 4096, kCount = 8;
  AlignedBuffer src(kBlock * kCount), dst(kBlock * kCount);
  test::FillRandom(src.data(), src.size(), 11);
  FERRY_ASSERT_OK(h->RegisterDram(src.data(), src.size()));
  FERRY_ASSERT_OK(h->RegisterDram(dst.data(), dst.size()));
  FERRY_ASSERT_OK(h->RegisterFile("f", 1, test::RwCreate()));
  XferDescList mem_src{MemKind::kDram, {}}, mem_dst{MemKind::kDram, {}}, file{MemKind::kFile, {}};
  for (uint64_t i = 0; i < kCount; ++i) {
    const uint64_t m = (kCount - 1 - i) * kBlock;
    mem_src.descs.push_back(Dram(src.data() + m, kBlock));
    mem_dst.descs.push_back(Dram(dst.data() + m, kBlock));
    file.descs.push_back({i * kBlock, kBlock, 1});
  }
  Status at_post;
  FERRY_ASSERT_OK(PostAndCheck(h->agent(), XferOp::kWrite, mem_src, file, &at_post));
  EXPECT_TRUE(at_post.ok()) << "write still " << at_post.ToString() << " after Post";

  std::vector<uint8_t> onfile(kBlock * kCount);
  int fd = open(h->dir().File("f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pread(fd, onfile.data(), onfile.size(), 0), ssize_t(onfile.size()));
  close(fd);
  for (uint64_t i = 0; i < kCount; ++i) {
    const uint64_t m = (kCount - 1 - i) * kBlock;
    ASSERT_EQ(test::FirstDiff(onfile.data() + i * kBlock, src.data() + m, kBlock), -1)
        << "file block " << i;
  }

  FERRY_ASSERT_OK(PostAndCheck(h->agent(), XferOp::kRead, mem_dst, file, &at_post));
  EXPECT_TRUE(at_post.ok()) << "read still " << at_post.ToString() << " after Post";
  EXPECT_EQ(test::FirstDiff(dst.data(), src.data(), src.size()), -1);
}

// Unaligned sizes, two files, gaps, and a run longer than one vectored call takes.
TEST_P(InlineTest, AnyLayoutRoundTrips) {
  auto h = Harness();
  ASSERT_NE(h, nullptr);
  AlignedBuffer src(256 << 10), dst(256 << 10);
  test::FillRandom(src.data(), src.size(), 12);
  FERRY_ASSERT_OK(h->RegisterDram(src.data(), src.size()));
  FERRY_ASSERT_OK(h->RegisterDram(dst.data(), dst.size()));
  FERRY_ASSERT_OK(h->RegisterFile("a", 1, test::RwCreate()));
  FERRY_ASSERT_OK(h->RegisterFile("b", 2, test::RwCreate()));
  XferDescList ms{MemKind::kDram, {}}, md{MemKind::kDram, {}}, file{MemKind::kFile, {}};
  uint64_t m = 0;
  auto add = [&](uint64_t off, uint64_t len, uint64_t id) {
    ms.descs.push_back(Dram(src.data() + m, len));
    md.descs.push_back(Dram(dst.data() + m, len));
    file.descs.push_back({off, len, id});
    m += len + 1;  // never contiguous in memory
  };
  add(1, 1, 1);
  add(2, 4095, 1);  // continues the previous one in the file
  add(10000, 3, 2);
  add(70000, 5000, 1);
  for (uint64_t i = 0; i < 150; ++i) add(100000 + i * 1000, 1000, 2);  // > 64 contiguous
  Status at_post;
  FERRY_ASSERT_OK(PostAndCheck(h->agent(), XferOp::kWrite, ms, file, &at_post));
  EXPECT_TRUE(at_post.ok()) << at_post.ToString();
  FERRY_ASSERT_OK(PostAndCheck(h->agent(), XferOp::kRead, md, file, &at_post));
  EXPECT_TRUE(at_post.ok()) << at_post.ToString();
  for (size_t i = 0; i < ms.descs.size(); ++i) {
    const XferDesc& a = ms.descs[i];
    const XferDesc& b = md.descs[i];
    ASSERT_EQ(
        test::FirstDiff(reinterpret_cast<void*>(a.addr), reinterpret_cast<void*>(b.addr), a.len),
        -1)
        << "descriptor " << i;
  }
}

// Reading past the end (in the middle of a contiguous run) and writing a read-only file:
// the inline path and the asynchronous path (inline_max=0) give the same status.
TEST_P(InlineTest, FailsInTheSameWordsAsTheAsyncPath) {
  auto fast = Harness();
  auto slow = Harness("0");
  ASSERT_NE(fast, nullptr);
  ASSERT_NE(slow, nullptr);
  AlignedBuffer buf(64 << 10);
  test::FillRandom(buf.data(), buf.size(), 13);
  std::vector<Status> got;
  for (auto* h : {fast.get(), slow.get()}) {
    FERRY_ASSERT_OK(h->RegisterDram(buf.data(), buf.size()));
    FERRY_ASSERT_OK(h->RegisterFile("f", 1, test::RwCreate()));
    FileOpenFlags ro;  // read-only
    FERRY_ASSERT_OK(h->RegisterFile("f", 2, ro));
    // The file holds 10000 bytes.
    FERRY_ASSERT_OK(test::RunXfer(h->agent(), XferOp::kWrite,
                                  test::DramList({Dram(buf.data(), 10000)}),
                                  test::FileList({{0, 10000, 1}})));
    // Descriptor 2 of three contiguous 4 KiB reads crosses the end of the file.
    Status eof =
        test::RunXfer(h->agent(), XferOp::kRead,
                      test::DramList({Dram(buf.data(), 4096), Dram(buf.data() + 8192, 4096),
                                      Dram(buf.data() + 16384, 4096)}),
                      test::FileList({{0, 4096, 1}, {4096, 4096, 1}, {8192, 4096, 1}}));
    Status ro_write =
        test::RunXfer(h->agent(), XferOp::kWrite, test::DramList({Dram(buf.data(), 100)}),
                      test::FileList({{0, 100, 2}}));
    const std::string dir = h->dir().path();
    got.emplace_back(eof.code(), Without(eof.message(), dir, "<dir>"));
    got.emplace_back(ro_write.code(), Without(ro_write.message(), dir, "<dir>"));
  }
  EXPECT_EQ(got[0].code(), Code::kOutOfRange) << got[0].ToString();
  EXPECT_THAT(got[0].message(), HasSubstr("descriptor 2"));
  EXPECT_THAT(got[0].message(), HasSubstr("offset 10000"));
  EXPECT_FALSE(got[1].ok());
  EXPECT_THAT(got[1].message(), HasSubstr("write descriptor 0"));
  EXPECT_EQ(got[0].ToString(), got[2].ToString()) << "inline vs async, read past end";
  EXPECT_EQ(got[1].ToString(), got[3].ToString()) << "inline vs async, read-only write";
}

// Over the limit, and with the inline path off, the same requests still move the right
// bytes (through the engine).
TEST_P(InlineTest, OverTheLimitAndOffStillRoundTrip) {
  for (const char* limit : {"0", "4K"}) {
    auto h = Harness(limit);
    ASSERT_NE(h, nullptr);
    AlignedBuffer src(1 << 20), dst(1 << 20);
    test::FillRandom(src.data(), src.size(), 14);
    FERRY_ASSERT_OK(h->RegisterDram(src.data(), src.size()));
    FERRY_ASSERT_OK(h->RegisterDram(dst.data(), dst.size()));
    FERRY_ASSERT_OK(h->RegisterFile("f", 1, test::RwCreate()));
    for (uint64_t len : {uint64_t(4096), uint64_t(8192), uint64_t(1) << 20}) {
      FERRY_ASSERT_OK(test::RunXfer(h->agent(), XferOp::kWrite,
                                    test::DramList({Dram(src.data(), len)}),
                                    test::FileList({{0, len, 1}})));
      FERRY_ASSERT_OK(test::RunXfer(h->agent(), XferOp::kRead,
                                    test::DramList({Dram(dst.data(), len)}),
                                    test::FileList({{0, len, 1}})));
      ASSERT_EQ(test::FirstDiff(dst.data(), src.data(), len), -1)
          << "inline_max=" << limit << ", " << len << " bytes";
    }
  }
}

// Four threads post small requests to their own parts of one file at once.
TEST_P(InlineTest, ConcurrentPosters) {
  auto h = Harness();
  ASSERT_NE(h, nullptr);
  const auto errors = test::ConcurrentRoundTrips(*h, 4, 200, 8192);
  for (size_t t = 0; t < errors.size(); ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
}

INSTANTIATE_TEST_SUITE_P(Engines, InlineTest, ::testing::ValuesIn(test::kEngines),
                         [](const auto& info) { return info.param; });

TEST(InlineParam, OutOfRangeOrIllTypedIsRefusedByName) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  BackendId id;
  for (const char* bad : {"2G", "lots"}) {
    Status s = agent->CreateBackend(test::kPosix, {{kInlineKey, bad}}, &id);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad << ": " << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(kInlineKey)) << bad;
  }
}

}  // namespace
}  // namespace ferry
