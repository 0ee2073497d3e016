// POSIX backend, every engine: random-data round trips from 1 byte to 64 MiB, aligned and
// unaligned, buffered and O_DIRECT; misaligned O_DIRECT fails with a clear error.
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <tuple>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using test::AlignedBuffer;
using test::Dram;
using test::DramList;
using test::FileList;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1 << 20;

// Reads `len` bytes of `path` at `off` with plain pread, independently of Ferry.
bool PreadAll(const std::string& path, uint64_t off, uint8_t* dst, uint64_t len) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  uint64_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, dst + got, len - got, static_cast<off_t>(off + got));
    if (n <= 0) break;
    got += static_cast<uint64_t>(n);
  }
  close(fd);
  return got == len;
}

// Writes `size` random bytes from buffer offset `mem_off` to file offset `file_off`, checks
// the file with pread, reads them back into another buffer and compares; the bytes around
// the read target must stay untouched.
void RoundTrip(const std::string& engine, uint64_t size, uint64_t mem_off, uint64_t file_off,
               bool direct) {
  if (engine == "uring" && !test::KernelHasIoUring()) GTEST_SKIP() << "io_uring disabled";
  test::PosixHarness h(direct);
  FERRY_ASSERT_OK(h.Init(test::EngineParams(engine)));
  constexpr uint64_t kGuard = 4096;
  AlignedBuffer src(size + 2 * kGuard), dst(size + 2 * kGuard);
  ASSERT_NE(src.data(), nullptr);
  ASSERT_NE(dst.data(), nullptr);
  uint8_t* s = src.data() + kGuard + mem_off;
  uint8_t* d = dst.data() + kGuard + mem_off;
  test::FillRandom(s, size, size * 31 + mem_off);
  std::memset(dst.data(), 0xA5, dst.size());
  FERRY_ASSERT_OK(h.RegisterDram(src.data(), src.size()));
  FERRY_ASSERT_OK(h.RegisterDram(dst.data(), dst.size()));
  FERRY_ASSERT_OK(h.RegisterFile("rt", 1, test::RwCreate(direct)));

  FERRY_ASSERT_OK(test::RunXfer(h.agent(), XferOp::kWrite, DramList({Dram(s, size)}),
                                FileList({{file_off, size, 1}})));
  std::vector<uint8_t> onfile(size);
  ASSERT_TRUE(PreadAll(h.dir().File("rt"), file_off, onfile.data(), size)) << "file too short";
  ASSERT_EQ(test::FirstDiff(onfile.data(), s, size), -1) << "file content differs";

  FERRY_ASSERT_OK(test::RunXfer(h.agent(), XferOp::kRead, DramList({Dram(d, size)}),
                                FileList({{file_off, size, 1}})));
  ASSERT_EQ(test::FirstDiff(d, s, size), -1) << "read-back differs";
  for (uint8_t* p = dst.data(); p < d; ++p) ASSERT_EQ(*p, 0xA5) << "wrote before the target";
  for (uint8_t* p = d + size; p < dst.data() + dst.size(); ++p) {
    ASSERT_EQ(*p, 0xA5) << "wrote past the target";
  }
}

using BufferedParam = std::tuple<std::string, uint64_t, bool>;  // engine, size, unaligned

class BufferedRoundTrip : public ::testing::TestWithParam<BufferedParam> {};

TEST_P(BufferedRoundTrip, Data) {
  auto [engine, size, unaligned] = GetParam();
  // Unaligned: buffer at +1 byte, file at offset 4096 + 7.
  RoundTrip(engine, size, unaligned ? 1 : 0, unaligned ? 4096 + 7 : 4096, false);
}

INSTANTIATE_TEST_SUITE_P(AllEngines, BufferedRoundTrip,
                         ::testing::Combine(::testing::ValuesIn(test::kEngines),
                                            ::testing::Values(1, 511, 4096, 65537, kMiB + 3,
                                                              64 * kMiB),
                                            ::testing::Bool()),
                         [](const ::testing::TestParamInfo<BufferedParam>& i) {
                           return std::get<0>(i.param) + "_" +
                                  std::to_string(std::get<1>(i.param)) +
                                  (std::get<2>(i.param) ? "_unaligned" : "_aligned");
                         });

using DirectParam = std::tuple<std::string, uint64_t>;

class DirectRoundTrip : public ::testing::TestWithParam<DirectParam> {};

TEST_P(DirectRoundTrip, Data) {
  auto [engine, size] = GetParam();
  RoundTrip(engine, size, 0, 8192, true);
}

INSTANTIATE_TEST_SUITE_P(AllEngines, DirectRoundTrip,
                         ::testing::Combine(::testing::ValuesIn(test::kEngines),
                                            ::testing::Values(4096, 3 * 4096, kMiB, 64 * kMiB)),
                         [](const ::testing::TestParamInfo<DirectParam>& i) {
                           return std::get<0>(i.param) + "_" + std::to_string(std::get<1>(i.param));
                         });

// Misaligned O_DIRECT: buffer address, file offset, or length. Must fail (at creation, post
// or completion) with kInvalidArgument and a message that says "align".
class DirectMisaligned : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && !test::KernelHasIoUring()) GTEST_SKIP() << "io_uring disabled";
    FERRY_ASSERT_OK(h_.Init(test::EngineParams(GetParam())));
    FERRY_ASSERT_OK(h_.RegisterDram(buf_.data(), buf_.size()));
    FERRY_ASSERT_OK(h_.RegisterFile("d", 1, test::RwCreate(/*direct=*/true)));
  }
  void ExpectAlignmentError(XferOp op, const uint8_t* p, uint64_t len, uint64_t off) {
    Status s = test::RunXfer(h_.agent(), op, DramList({Dram(p, len)}), FileList({{off, len, 1}}));
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("align"));
  }

  test::PosixHarness h_{/*need_direct=*/true};
  AlignedBuffer buf_{64 * 1024};
};

TEST_P(DirectMisaligned, Buffer) {
  ExpectAlignmentError(XferOp::kWrite, buf_.data() + 1, 4096, 0);
  ExpectAlignmentError(XferOp::kRead, buf_.data() + 1, 4096, 0);
}

TEST_P(DirectMisaligned, Offset) {
  ExpectAlignmentError(XferOp::kWrite, buf_.data(), 4096, 7);
  ExpectAlignmentError(XferOp::kRead, buf_.data(), 4096, 7);
}

TEST_P(DirectMisaligned, Length) {
  ExpectAlignmentError(XferOp::kWrite, buf_.data(), 1, 0);
  ExpectAlignmentError(XferOp::kWrite, buf_.data(), 4096 + 511, 0);
  ExpectAlignmentError(XferOp::kRead, buf_.data(), 511, 0);
}

TEST_P(DirectMisaligned, OneBadDescriptorAmongGoodOnesIsNamed) {
  XferDescList local = DramList(
      {Dram(buf_.data(), 4096), Dram(buf_.data() + 4096, 4096), Dram(buf_.data() + 8192, 100)});
  XferDescList target = FileList({{0, 4096, 1}, {4096, 4096, 1}, {8192, 100, 1}});
  Status s = test::RunXfer(h_.agent(), XferOp::kWrite, local, target);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("2")) << "should name descriptor 2";
}

INSTANTIATE_TEST_SUITE_P(AllEngines, DirectMisaligned, ::testing::ValuesIn(test::kEngines));

// A file registered by an fd the caller opened.
class ByFdRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(ByFdRoundTrip, Data) {
  if (GetParam() == "uring" && !test::KernelHasIoUring()) GTEST_SKIP() << "io_uring disabled";
  test::PosixHarness h(false);
  FERRY_ASSERT_OK(h.Init(test::EngineParams(GetParam())));
  int fd = open(h.dir().File("fd").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  const uint64_t size = kMiB + 3;
  AlignedBuffer src(size), dst(size);
  test::FillRandom(src.data(), size, 77);
  FERRY_ASSERT_OK(h.RegisterDram(src.data(), size));
  FERRY_ASSERT_OK(h.RegisterDram(dst.data(), size));
  RegHandle fh;
  FERRY_ASSERT_OK(test::RegisterOne(h.agent(), MemKind::kFile, FileByFd(fd), &fh));
  const auto dev = static_cast<uint64_t>(fd);
  FERRY_EXPECT_OK(test::RunXfer(h.agent(), XferOp::kWrite, DramList({Dram(src.data(), size)}),
                                FileList({{5, size, dev}})));
  FERRY_EXPECT_OK(test::RunXfer(h.agent(), XferOp::kRead, DramList({Dram(dst.data(), size)}),
                                FileList({{5, size, dev}})));
  EXPECT_EQ(test::FirstDiff(src.data(), dst.data(), size), -1);
  FERRY_EXPECT_OK(h.agent().DeregisterMem(fh));
  EXPECT_NE(fcntl(fd, F_GETFD), -1) << "the backend must not close a caller's fd";
  close(fd);
}

INSTANTIATE_TEST_SUITE_P(AllEngines, ByFdRoundTrip, ::testing::ValuesIn(test::kEngines));

}  // namespace
}  // namespace ferry
