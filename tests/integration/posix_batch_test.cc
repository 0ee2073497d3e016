// POSIX backend, every engine: many descriptors per request, several files, splitting of
// large descriptors (max_request_size), and backpressure from a small queue.
#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using test::AlignedBuffer;
using test::Dram;
using test::DramList;
using test::FileList;

constexpr uint64_t kBlock = 4096;

class BatchTest : public ::testing::TestWithParam<std::string> {
 protected:
  void Start(Params extra = {}, bool direct = false) {
    if (GetParam() == "uring" && !test::KernelHasIoUring()) GTEST_SKIP() << "io_uring disabled";
    direct_ = direct;
    h_ = std::make_unique<test::PosixHarness>(direct);
    FERRY_ASSERT_OK(h_->Init(test::EngineParams(GetParam(), std::move(extra))));
  }
  Agent& agent() { return h_->agent(); }

  // Writes `n` blocks from `src` to block slots `slot[i]` of file `file_of[i]`, reads them
  // back the same way into `dst`, and compares.
  void Scatter(uint32_t n, uint32_t files, uint64_t block) {
    AlignedBuffer src(n * block), dst(n * block);
    test::FillRandom(src.data(), src.size(), n * 7 + files);
    FERRY_ASSERT_OK(h_->RegisterDram(src.data(), src.size()));
    FERRY_ASSERT_OK(h_->RegisterDram(dst.data(), dst.size()));
    for (uint32_t f = 0; f < files; ++f) {
      FERRY_ASSERT_OK(h_->RegisterFile("f" + std::to_string(f), 100 + f, test::RwCreate(direct_)));
    }
    std::vector<uint32_t> slot(n);
    std::iota(slot.begin(), slot.end(), 0u);
    std::shuffle(slot.begin(), slot.end(), std::mt19937(n));
    XferDescList ls, ld, t;
    ls.kind = ld.kind = MemKind::kDram;
    t.kind = MemKind::kFile;
    for (uint32_t i = 0; i < n; ++i) {
      ls.descs.push_back(Dram(src.data() + i * block, block));
      ld.descs.push_back(Dram(dst.data() + i * block, block));
      t.descs.push_back({slot[i] / files * block, block, 100 + slot[i] % files});
    }
    FERRY_ASSERT_OK(test::RunXfer(agent(), XferOp::kWrite, ls, t));
    FERRY_ASSERT_OK(test::RunXfer(agent(), XferOp::kRead, ld, t));
    ASSERT_EQ(test::FirstDiff(src.data(), dst.data(), src.size()), -1);
    // And the layout on the files: slot k of file f holds the block that was sent there.
    if (files == 1) {
      AlignedBuffer whole(n * block);
      FERRY_ASSERT_OK(h_->RegisterDram(whole.data(), whole.size()));
      FERRY_ASSERT_OK(test::RunXfer(agent(), XferOp::kRead,
                                    DramList({Dram(whole.data(), n * block)}),
                                    FileList({{0, n * block, 100}})));
      for (uint32_t i = 0; i < n; ++i) {
        ASSERT_EQ(std::memcmp(whole.data() + slot[i] * block, src.data() + i * block, block), 0)
            << "block " << i << " not at slot " << slot[i];
      }
    }
  }

  void BigDescriptor(uint64_t size, uint64_t file_off) {
    AlignedBuffer src(size), dst(size);
    test::FillRandom(src.data(), size, size);
    FERRY_ASSERT_OK(h_->RegisterDram(src.data(), size));
    FERRY_ASSERT_OK(h_->RegisterDram(dst.data(), size));
    FERRY_ASSERT_OK(h_->RegisterFile("big", 1, test::RwCreate(direct_)));
    std::unique_ptr<Transfer> w;
    FERRY_ASSERT_OK(agent().CreateTransfer(XferOp::kWrite, DramList({Dram(src.data(), size)}),
                                           FileList({{file_off, size, 1}}), "", &w));
    FERRY_ASSERT_OK(w->Post());
    FERRY_ASSERT_OK(w->Wait(test::kWaitLimit));
    EXPECT_EQ(w->telemetry().bytes, size);
    EXPECT_EQ(w->telemetry().descriptors, 1u);
    FERRY_ASSERT_OK(test::RunXfer(agent(), XferOp::kRead, DramList({Dram(dst.data(), size)}),
                                  FileList({{file_off, size, 1}})));
    ASSERT_EQ(test::FirstDiff(src.data(), dst.data(), size), -1);
  }

  std::unique_ptr<test::PosixHarness> h_;
  RegHandle reg_;
  bool direct_ = false;
};

TEST_P(BatchTest, ThousandBlocksScatteredInOneFile) {
  Start();
  Scatter(1000, 1, kBlock);
}

TEST_P(BatchTest, ThousandBlocksScatteredInOneFileDirect) {
  Start({}, true);
  Scatter(1000, 1, kBlock);
}

TEST_P(BatchTest, ThousandBlocksOverFourFiles) {
  Start();
  Scatter(1000, 4, kBlock);
}

TEST_P(BatchTest, OddSizedBlocks) {
  Start();
  Scatter(300, 3, 1000);
}

TEST_P(BatchTest, SplitIntoSmallRequests) {
  Start({{test::kMaxRequestKey, "4K"}});
  BigDescriptor(8 * 1024 * 1024 + 5, 3);
}

TEST_P(BatchTest, SplitIntoSmallRequestsDirect) {
  Start({{test::kMaxRequestKey, "4K"}}, true);
  BigDescriptor(8 * 1024 * 1024, 4096);
}

TEST_P(BatchTest, SplitWithDefaultMaxRequest) {
  Start();
  BigDescriptor(80 * 1024 * 1024 + 1, 0);  // above the default max_request_size
}

TEST_P(BatchTest, SmallQueueAppliesBackpressure) {
  Start({{test::kQueueDepthKey, "2"}});
  Scatter(500, 1, kBlock);
}

TEST_P(BatchTest, QueueDepthOneManyFiles) {
  Start({{test::kQueueDepthKey, "1"}, {test::kMaxRequestKey, "4K"}});
  Scatter(64, 8, 3 * kBlock);
}

// XferDesc.addr is an absolute file offset, also for a registration that starts later.
TEST_P(BatchTest, RegisteredRangeUsesAbsoluteOffsets) {
  Start();
  AlignedBuffer src(4096), whole(3 * 4096);
  test::FillRandom(src.data(), 4096, 6);
  FERRY_ASSERT_OK(h_->RegisterDram(src.data(), src.size()));
  FERRY_ASSERT_OK(h_->RegisterDram(whole.data(), whole.size()));
  FERRY_ASSERT_OK(
      test::RegisterOne(agent(), MemKind::kFile,
                        FileByPath(h_->dir().File("r"), 1, test::RwCreate(), 8192, 4096), &reg_));
  FERRY_ASSERT_OK(test::RunXfer(agent(), XferOp::kWrite, DramList({Dram(src.data(), 4096)}),
                                FileList({{8192, 4096, 1}})));
  FERRY_ASSERT_OK(h_->RegisterFile("r", 2, FileOpenFlags{}));
  FERRY_ASSERT_OK(test::RunXfer(agent(), XferOp::kRead, DramList({Dram(whole.data(), 3 * 4096)}),
                                FileList({{0, 3 * 4096, 2}})));
  EXPECT_EQ(test::FirstDiff(whole.data() + 8192, src.data(), 4096), -1);
}

// Descriptor lists of NIXL scale: 100k small descriptors in one request.
TEST_P(BatchTest, HundredThousandDescriptors) {
  Start();
  constexpr uint32_t kN = 100000;
  constexpr uint64_t kSmall = 64;
  AlignedBuffer src(kN * kSmall), dst(kN * kSmall);
  test::FillRandom(src.data(), src.size(), 100);
  FERRY_ASSERT_OK(h_->RegisterDram(src.data(), src.size()));
  FERRY_ASSERT_OK(h_->RegisterDram(dst.data(), dst.size()));
  FERRY_ASSERT_OK(h_->RegisterFile("many", 1, test::RwCreate()));
  XferDescList ls, ld, t;
  ls.kind = ld.kind = MemKind::kDram;
  t.kind = MemKind::kFile;
  for (uint32_t i = 0; i < kN; ++i) {
    ls.descs.push_back(Dram(src.data() + i * kSmall, kSmall));
    ld.descs.push_back(Dram(dst.data() + i * kSmall, kSmall));
    t.descs.push_back({(kN - 1 - i) * kSmall, kSmall, 1});
  }
  auto t0 = std::chrono::steady_clock::now();
  FERRY_ASSERT_OK(test::RunXfer(agent(), XferOp::kWrite, ls, t));
  FERRY_ASSERT_OK(test::RunXfer(agent(), XferOp::kRead, ld, t));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_EQ(test::FirstDiff(src.data(), dst.data(), src.size()), -1);
}

INSTANTIATE_TEST_SUITE_P(AllEngines, BatchTest, ::testing::ValuesIn(test::kEngines));

}  // namespace
}  // namespace ferry
