// VRAM <-> FILE through GDS, GDS_MT (cuFile) and POSIX (pinned bounce buffers), and DRAM
// through cuFile, every byte compared. Each test skips itself on a machine without a GPU;
// the parameter checks run everywhere.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include <gmock/gmock.h>

#include "gpu/gpu_test_util.h"

namespace ferry {
namespace {

using test::AlignedBuffer;
using test::DeviceBuffer;
using test::FileList;
using test::RunXfer;
using test::VramDesc;
using test::VramList;
using ::testing::HasSubstr;

constexpr uint64_t kKiB = 1024, kMiB = 1024 * 1024;

// An agent with one cuFile backend (GDS or GDS_MT) in a directory cuFile accepts.
class GdsHarness {
 public:
  Status Init(const std::string& plugin, const Params& params = {}) {
    if (!dir_.ok()) return Internal("mkdtemp failed");
    Status s = test::MakeAgent(&agent_);
    if (!s.ok()) return s;
    return agent_->CreateBackend(plugin, params, &backend_);
  }
  Agent& agent() { return *agent_; }
  BackendId backend() const { return backend_; }
  const test::TempDir& dir() const { return dir_; }
  Status RegisterVram(const void* p, uint64_t len) {
    RegHandle h;
    Status s = test::RegisterOne(*agent_, MemKind::kVram, VramDesc(p, len), &h);
    if (s.ok()) handles_.push_back(h);
    return s;
  }
  Status RegisterFile(const std::string& name, uint64_t id, bool direct) {
    RegHandle h;
    Status s = test::RegisterOne(*agent_, MemKind::kFile,
                                 FileByPath(dir_.File(name), id, test::RwCreate(direct)), &h);
    if (s.ok()) handles_.push_back(h);
    return s;
  }
  // Before the memory is freed: cudaMalloc hands the same addresses out again.
  void DeregisterAll() {
    for (RegHandle h : handles_) (void)agent_->DeregisterMem(h);
    handles_.clear();
  }
  // Deregisters at the end of a scope (declare it after the buffers it covers).
  struct Scope {
    GdsHarness& h;
    ~Scope() { h.DeregisterAll(); }
  };

 private:
  test::TempDir dir_ = test::GdsTempDir();
  std::unique_ptr<Agent> agent_;
  BackendId backend_;
  std::vector<RegHandle> handles_;
};

class VramFileTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_GPU();
    FERRY_ASSERT_OK(h_.Init(GetParam()));
  }
  GdsHarness h_;
};

class CufileOnlyTest : public VramFileTest {};

// Random bytes through VRAM -> file -> another VRAM region, compared on the host; the
// file is also read with pread, independently of cuFile.
void VramRoundTrip(GdsHarness& h, uint64_t size, bool direct, uint64_t file_off) {
  DeviceBuffer src(size), dst(size);
  ASSERT_NE(src.data(), nullptr);
  ASSERT_NE(dst.data(), nullptr);
  GdsHarness::Scope registrations{h};
  std::vector<uint8_t> data(size);
  test::FillRandom(data.data(), size, size + file_off);
  ASSERT_TRUE(test::ToDevice(src.data(), data.data(), size));
  ASSERT_EQ(cudaMemset(dst.data(), 0x5A, size), cudaSuccess);
  // cudaMemset may return before it ran, and the backends copy on streams of their own:
  // as a caller must, finish writing the buffer before it goes into a transfer.
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  FERRY_ASSERT_OK(h.RegisterVram(src.data(), size));
  FERRY_ASSERT_OK(h.RegisterVram(dst.data(), size));
  const std::string name = "rt-" + std::to_string(size) + (direct ? "-d" : "-b");
  FERRY_ASSERT_OK(h.RegisterFile(name, 1, direct));
  FERRY_ASSERT_OK(RunXfer(h.agent(), XferOp::kWrite, VramList({{src.addr(), size, 0}}),
                          FileList({{file_off, size, 1}})));
  std::vector<uint8_t> onfile(size);
  int fd = open(h.dir().File(name).c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pread(fd, onfile.data(), size, off_t(file_off)), ssize_t(size));
  close(fd);
  ASSERT_EQ(test::FirstDiff(onfile.data(), data.data(), size), -1) << "file differs";
  FERRY_ASSERT_OK(RunXfer(h.agent(), XferOp::kRead, VramList({{dst.addr(), size, 0}}),
                          FileList({{file_off, size, 1}})));
  std::vector<uint8_t> back = test::FromDevice(dst.data(), size);
  ASSERT_EQ(back.size(), size);
  ASSERT_EQ(test::FirstDiff(back.data(), data.data(), size), -1) << "read-back differs";
}

TEST_P(VramFileTest, VramRoundTripsFrom4KiBTo256MiBBuffered) {
  for (uint64_t size : {4 * kKiB, 64 * kKiB, 1 * kMiB, 16 * kMiB + 4 * kKiB, 256 * kMiB}) {
    SCOPED_TRACE(size);
    VramRoundTrip(h_, size, false, 4096);
    if (HasFatalFailure()) return;
  }
}

TEST_P(VramFileTest, VramRoundTripsFrom4KiBTo256MiBDirect) {
  for (uint64_t size : {4 * kKiB, 64 * kKiB, 1 * kMiB, 32 * kMiB, 256 * kMiB}) {
    SCOPED_TRACE(size);
    VramRoundTrip(h_, size, true, 8192);
    if (HasFatalFailure()) return;
  }
}

TEST_P(VramFileTest, UnalignedBufferedRoundTrip) {
  // Odd sizes and offsets: cuFile aligns memory itself; the scheduler continues short I/O.
  VramRoundTrip(h_, 100 * kKiB + 17, false, 12345);
}

// One transfer of n descriptors, each a different slice of the buffer and the file.
void ManyDescriptors(GdsHarness& h, unsigned n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> lens(n);
  uint64_t total = 0;
  for (auto& l : lens) total += l = 4096 * (1 + rng() % 16);
  DeviceBuffer src(total), dst(total);
  ASSERT_NE(src.data(), nullptr);
  ASSERT_NE(dst.data(), nullptr);
  GdsHarness::Scope registrations{h};
  std::vector<uint8_t> data(total);
  test::FillRandom(data.data(), total, seed);
  ASSERT_TRUE(test::ToDevice(src.data(), data.data(), total));
  ASSERT_EQ(cudaMemset(dst.data(), 0, total), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // as above: before the transfer
  FERRY_ASSERT_OK(h.RegisterVram(src.data(), total));
  FERRY_ASSERT_OK(h.RegisterVram(dst.data(), total));
  FERRY_ASSERT_OK(h.RegisterFile("many-" + std::to_string(n), 1, true));
  XferDescList w{MemKind::kVram, {}}, r{MemKind::kVram, {}}, f{MemKind::kFile, {}};
  // The file holds the slices in reverse order, so a mix-up of descriptors shows.
  uint64_t mem = 0, file = total;
  for (uint64_t l : lens) {
    file -= l;
    w.descs.push_back({src.addr() + mem, l, 0});
    r.descs.push_back({dst.addr() + mem, l, 0});
    f.descs.push_back({file, l, 1});
    mem += l;
  }
  FERRY_ASSERT_OK(RunXfer(h.agent(), XferOp::kWrite, w, f));
  FERRY_ASSERT_OK(RunXfer(h.agent(), XferOp::kRead, r, f));
  std::vector<uint8_t> back = test::FromDevice(dst.data(), total);
  ASSERT_EQ(test::FirstDiff(back.data(), data.data(), total), -1);
}

TEST_P(VramFileTest, BatchesOf1To512Descriptors) {
  for (unsigned n : {1u, 7u, 128u, 129u, 512u}) {
    SCOPED_TRACE(n);
    ManyDescriptors(h_, n, n);
    if (HasFatalFailure()) return;
  }
}

TEST_P(VramFileTest, EightThreadsEachWithTheirOwnTransfers) {
  constexpr int kThreads = 8, kRounds = 6;
  constexpr uint64_t kSize = 2 * kMiB;
  DeviceBuffer src(kThreads * kSize), dst(kThreads * kSize);
  ASSERT_NE(src.data(), nullptr);
  ASSERT_NE(dst.data(), nullptr);
  std::vector<uint8_t> data(kThreads * kSize);
  test::FillRandom(data.data(), data.size(), 8);
  ASSERT_TRUE(test::ToDevice(src.data(), data.data(), data.size()));
  FERRY_ASSERT_OK(h_.RegisterVram(src.data(), src.size()));
  FERRY_ASSERT_OK(h_.RegisterVram(dst.data(), dst.size()));
  for (int t = 0; t < kThreads; ++t)
    FERRY_ASSERT_OK(h_.RegisterFile("t" + std::to_string(t), 10 + t, t % 2 == 0));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      const uint64_t off = t * kSize;
      for (int round = 0; round < kRounds; ++round) {
        Status s = RunXfer(h_.agent(), XferOp::kWrite, VramList({{src.addr() + off, kSize, 0}}),
                           FileList({{0, kSize, uint64_t(10 + t)}}));
        if (s.ok())
          s = RunXfer(h_.agent(), XferOp::kRead, VramList({{dst.addr() + off, kSize, 0}}),
                      FileList({{0, kSize, uint64_t(10 + t)}}));
        if (!s.ok()) {
          ADD_FAILURE() << "thread " << t << ": " << s.ToString();
          failures++;
          return;
        }
      }
    });
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  std::vector<uint8_t> back = test::FromDevice(dst.data(), dst.size());
  ASSERT_EQ(test::FirstDiff(back.data(), data.data(), data.size()), -1);
}

TEST_P(CufileOnlyTest, DramMovesThroughCuFileToo) {
  constexpr uint64_t kSize = 3 * kMiB;
  AlignedBuffer src(kSize), dst(kSize);
  test::FillRandom(src.data(), kSize, 3);
  RegHandle a, b;
  FERRY_ASSERT_OK(test::RegisterOne(h_.agent(), MemKind::kDram, DramDesc(src.data(), kSize), &a));
  FERRY_ASSERT_OK(test::RegisterOne(h_.agent(), MemKind::kDram, DramDesc(dst.data(), kSize), &b));
  FERRY_ASSERT_OK(h_.RegisterFile("dram", 1, true));
  FERRY_ASSERT_OK(RunXfer(h_.agent(), XferOp::kWrite,
                          test::DramList({test::Dram(src.data(), kSize)}),
                          FileList({{0, kSize, 1}})));
  FERRY_ASSERT_OK(RunXfer(h_.agent(), XferOp::kRead,
                          test::DramList({test::Dram(dst.data(), kSize)}),
                          FileList({{0, kSize, 1}})));
  ASSERT_EQ(test::FirstDiff(src.data(), dst.data(), kSize), -1);
}

// Several descriptors inside one host buffer, in one transfer: each moves its own bytes.
// (libcufile 1.15's batch API took devPtr_offset as 0 for host memory; the KV engine's
// pinned staging pages hit that with O_DIRECT files.)
TEST_P(CufileOnlyTest, DramDescriptorsInsideOneBufferEachMoveTheirOwnBytes) {
  constexpr uint64_t kPiece = 8 * kKiB, kPieces = 6;
  void* pinned = nullptr;
  FERRY_ASSERT_OK(
      h_.agent().AllocMem(MemKind::kDram, 2 * kPiece * kPieces, 0, &pinned, h_.backend()));
  auto* buf = static_cast<uint8_t*>(pinned);
  test::FillRandom(buf, kPiece * kPieces, 11);
  RegHandle r;
  FERRY_ASSERT_OK(
      test::RegisterOne(h_.agent(), MemKind::kDram, DramDesc(buf, 2 * kPiece * kPieces), &r));
  for (bool direct : {true, false}) {
    SCOPED_TRACE(direct ? "O_DIRECT" : "buffered");
    const uint64_t id = direct ? 1 : 2;
    FERRY_ASSERT_OK(h_.RegisterFile(direct ? "pieces-direct" : "pieces", id, direct));
    // Piece i of the buffer goes to file slot (i + 2) % kPieces.
    XferDescList mem{MemKind::kDram, {}}, file{MemKind::kFile, {}};
    for (uint64_t i = 0; i < kPieces; ++i) {
      mem.descs.push_back({reinterpret_cast<uint64_t>(buf + i * kPiece), kPiece, 0});
      file.descs.push_back({(i + 2) % kPieces * kPiece, kPiece, id});
    }
    FERRY_ASSERT_OK(RunXfer(h_.agent(), XferOp::kWrite, mem, file));
    // Read the file back whole into the second half and compare slot by slot.
    uint8_t* back = buf + kPiece * kPieces;
    std::memset(back, 0, kPiece * kPieces);
    FERRY_ASSERT_OK(RunXfer(h_.agent(), XferOp::kRead,
                            test::DramList({test::Dram(back, kPiece * kPieces)}),
                            FileList({{0, kPiece * kPieces, id}})));
    for (uint64_t i = 0; i < kPieces; ++i) {
      EXPECT_EQ(test::FirstDiff(back + (i + 2) % kPieces * kPiece, buf + i * kPiece, kPiece), -1)
          << "piece " << i;
    }
  }
  FERRY_ASSERT_OK(h_.agent().DeregisterMem(r));
  FERRY_EXPECT_OK(h_.agent().FreeMem(pinned));
}

TEST_P(VramFileTest, ReadPastTheEndOfAFileIsOutOfRange) {
  DeviceBuffer buf(64 * kKiB);
  FERRY_ASSERT_OK(h_.RegisterVram(buf.data(), buf.size()));
  FERRY_ASSERT_OK(h_.RegisterFile("short", 1, false));
  FERRY_ASSERT_OK(RunXfer(h_.agent(), XferOp::kWrite, VramList({{buf.addr(), 8 * kKiB, 0}}),
                          FileList({{0, 8 * kKiB, 1}})));
  Status s = RunXfer(h_.agent(), XferOp::kRead, VramList({{buf.addr(), 64 * kKiB, 0}}),
                     FileList({{0, 64 * kKiB, 1}}));
  EXPECT_EQ(s.code(), Code::kOutOfRange) << s.ToString();
}

TEST_P(VramFileTest, BadDevicePointersAreRefusedByName) {
  RegHandle r;
  AlignedBuffer host(64 * kKiB);
  Status s = test::RegisterOne(h_.agent(), MemKind::kVram, VramDesc(host.data(), host.size()), &r);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("host memory"));

  DeviceBuffer dev(1 * kMiB);
  s = test::RegisterOne(h_.agent(), MemKind::kVram, VramDesc(dev.data(), 1 * kMiB + 4096), &r);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("past the end of its allocation"));

  int n = 0;
  ASSERT_EQ(cudaGetDeviceCount(&n), cudaSuccess);
  s = test::RegisterOne(h_.agent(), MemKind::kVram, VramDesc(dev.data(), 4096, uint64_t(n)), &r);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("does not exist"));

  void* managed = nullptr;
  ASSERT_EQ(cudaMallocManaged(&managed, 64 * kKiB), cudaSuccess);
  s = test::RegisterOne(h_.agent(), MemKind::kVram, VramDesc(managed, 64 * kKiB), &r);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("managed"));
  cudaFree(managed);

  // A good registration still works after all of that.
  FERRY_EXPECT_OK(
      test::RegisterOne(h_.agent(), MemKind::kVram, VramDesc(dev.data(), 1 * kMiB), &r));
}

TEST_P(CufileOnlyTest, AllocMemHandsOutDeviceAndPinnedMemory) {
  void* v = nullptr;
  void* p = nullptr;
  FERRY_ASSERT_OK(h_.agent().AllocMem(MemKind::kVram, 8 * kMiB, 0, &v, h_.backend()));
  FERRY_ASSERT_OK(h_.agent().AllocMem(MemKind::kDram, 8 * kMiB, 0, &p, h_.backend()));
  cudaPointerAttributes a{};
  ASSERT_EQ(cudaPointerGetAttributes(&a, v), cudaSuccess);
  EXPECT_EQ(a.type, cudaMemoryTypeDevice);
  ASSERT_EQ(cudaPointerGetAttributes(&a, p), cudaSuccess);
  EXPECT_EQ(a.type, cudaMemoryTypeHost);
  // Usable end to end: the allocated VRAM registers and moves.
  FERRY_ASSERT_OK(h_.RegisterVram(v, 8 * kMiB));
  FERRY_ASSERT_OK(h_.RegisterFile("alloc", 1, true));
  FERRY_EXPECT_OK(RunXfer(h_.agent(), XferOp::kWrite,
                          VramList({{reinterpret_cast<uint64_t>(v), 8 * kMiB, 0}}),
                          FileList({{0, 8 * kMiB, 1}})));
  FERRY_EXPECT_OK(h_.agent().FreeMem(v));
  FERRY_EXPECT_OK(h_.agent().FreeMem(p));
}

// cuFile may refuse a file on tmpfs (then the error says so, the file it created is gone,
// and POSIX beside it takes the file), or accept it in compatibility mode (then it must
// move the bytes right).
TEST_P(CufileOnlyTest, AFileOnTmpfsIsRefusedSayingSoOrWorks) {
  test::TempDir shm(test::TempDir::Under{"/dev/shm"});
  ASSERT_TRUE(shm.ok());
  RegHandle r;
  DeviceBuffer dev(64 * kKiB), back(64 * kKiB);
  std::vector<uint8_t> data(64 * kKiB);
  test::FillRandom(data.data(), data.size(), 64);
  ASSERT_TRUE(test::ToDevice(dev.data(), data.data(), data.size()));
  FERRY_ASSERT_OK(h_.RegisterVram(dev.data(), dev.size()));
  FERRY_ASSERT_OK(h_.RegisterVram(back.data(), back.size()));
  Status s = test::RegisterOne(h_.agent(), MemKind::kFile,
                               FileByPath(shm.File("f"), 1, test::RwCreate()), &r);
  if (s.ok()) {
    FERRY_ASSERT_OK(RunXfer(h_.agent(), XferOp::kWrite, VramList({{dev.addr(), dev.size(), 0}}),
                            FileList({{0, dev.size(), 1}})));
    FERRY_ASSERT_OK(RunXfer(h_.agent(), XferOp::kRead, VramList({{back.addr(), back.size(), 0}}),
                            FileList({{0, back.size(), 1}})));
    std::vector<uint8_t> got = test::FromDevice(back.data(), back.size());
    ASSERT_EQ(test::FirstDiff(got.data(), data.data(), data.size()), -1);
    return;
  }
  EXPECT_EQ(s.code(), Code::kUnsupported) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("tmpfs"));
  EXPECT_NE(access(shm.File("f").c_str(), F_OK), 0) << "the refused registration left its file";
  BackendId posix;
  FERRY_ASSERT_OK(h_.agent().CreateBackend("POSIX", {}, &posix));
  FERRY_ASSERT_OK(test::RegisterOne(h_.agent(), MemKind::kFile,
                                    FileByPath(shm.File("f"), 1, test::RwCreate()), &r));
}

INSTANTIATE_TEST_SUITE_P(Backends, VramFileTest, ::testing::Values("GDS", "GDS_MT", "POSIX"));
INSTANTIATE_TEST_SUITE_P(Cufile, CufileOnlyTest, ::testing::Values("GDS", "GDS_MT"));

TEST(PosixVram, RoundTripsOnTmpfsWhereCuFileCannotGo) {
  FERRY_REQUIRE_GPU();
  test::TempDir shm(test::TempDir::Under{"/dev/shm"});
  ASSERT_TRUE(shm.ok());
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  // Staged on the posting thread (vram_inline_max), by the staging threads (0), and with
  // the defaults: reads up to 2 MiB then run in parallel 256 KiB pieces.
  const Params kParams[] = {{{"vram_bounce_size", "64K"}, {"vram_inline_max", "2M"}},
                            {{"vram_bounce_size", "64K"}, {"vram_inline_max", "0"}},
                            {}};
  for (const Params& params : kParams) {
    SCOPED_TRACE(params.empty() ? "defaults" : params.at("vram_inline_max"));
    BackendId b;
    FERRY_ASSERT_OK(agent->CreateBackend("POSIX", params, &b));
    // Sizes around the bounce size (one chunk, two, an odd tail) and the piece size.
    for (uint64_t size : {4 * kKiB, 64 * kKiB, 128 * kKiB, 1 * kMiB + 333, 2 * kMiB}) {
      SCOPED_TRACE(size);
      DeviceBuffer src(size), dst(size);
      std::vector<uint8_t> data(size);
      test::FillRandom(data.data(), size, size);
      ASSERT_TRUE(test::ToDevice(src.data(), data.data(), size));
      RegHandle r1, r2, r;
      FERRY_ASSERT_OK(test::RegisterOne(*agent, MemKind::kVram, VramDesc(src.data(), size), &r1));
      FERRY_ASSERT_OK(test::RegisterOne(*agent, MemKind::kVram, VramDesc(dst.data(), size), &r2));
      const uint64_t id = 100 + size;
      FERRY_ASSERT_OK(
          test::RegisterOne(*agent, MemKind::kFile,
                            FileByPath(shm.File(std::to_string(size)), id, test::RwCreate()), &r));
      FERRY_ASSERT_OK(RunXfer(*agent, XferOp::kWrite, VramList({{src.addr(), size, 0}}),
                              FileList({{0, size, id}})));
      FERRY_ASSERT_OK(RunXfer(*agent, XferOp::kRead, VramList({{dst.addr(), size, 0}}),
                              FileList({{0, size, id}})));
      std::vector<uint8_t> back = test::FromDevice(dst.data(), size);
      ASSERT_EQ(test::FirstDiff(back.data(), data.data(), size), -1);
      FERRY_ASSERT_OK(agent->DeregisterMem(r1));  // before cudaFree reuses the addresses
      FERRY_ASSERT_OK(agent->DeregisterMem(r2));
      FERRY_ASSERT_OK(agent->DeregisterMem(r));
    }
    FERRY_ASSERT_OK(agent->DestroyBackend(b));
  }
}

// A 1 MiB read from a file of 600 KiB: four 256 KiB pieces read in parallel, the third
// crossing end of file. It fails as out of range, and the two whole pieces before the
// short one still reach the GPU (they were read and copied before the failure was seen).
TEST(PosixVram, AParallelReadPastEndOfFileIsOutOfRange) {
  FERRY_REQUIRE_GPU();
  test::TempDir shm(test::TempDir::Under{"/dev/shm"});
  ASSERT_TRUE(shm.ok());
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  BackendId b;
  FERRY_ASSERT_OK(agent->CreateBackend("POSIX", {}, &b));
  constexpr uint64_t kFile = 600 * kKiB, kRead = 1 * kMiB;
  DeviceBuffer src(kFile), dst(kRead);
  std::vector<uint8_t> data(kFile);
  test::FillRandom(data.data(), kFile, 7);
  ASSERT_TRUE(test::ToDevice(src.data(), data.data(), kFile));
  RegHandle r1, r2, r;
  FERRY_ASSERT_OK(test::RegisterOne(*agent, MemKind::kVram, VramDesc(src.data(), kFile), &r1));
  FERRY_ASSERT_OK(test::RegisterOne(*agent, MemKind::kVram, VramDesc(dst.data(), kRead), &r2));
  FERRY_ASSERT_OK(test::RegisterOne(*agent, MemKind::kFile,
                                    FileByPath(shm.File("short"), 9, test::RwCreate()), &r));
  FERRY_ASSERT_OK(RunXfer(*agent, XferOp::kWrite, VramList({{src.addr(), kFile, 0}}),
                          FileList({{0, kFile, 9}})));
  Status s =
      RunXfer(*agent, XferOp::kRead, VramList({{dst.addr(), kRead, 0}}), FileList({{0, kRead, 9}}));
  EXPECT_EQ(s.code(), Code::kOutOfRange) << s.ToString();
  std::vector<uint8_t> back = test::FromDevice(dst.data(), kFile);
  EXPECT_EQ(test::FirstDiff(back.data(), data.data(), 512 * kKiB), -1);
  FERRY_ASSERT_OK(agent->DeregisterMem(r1));
  FERRY_ASSERT_OK(agent->DeregisterMem(r2));
  FERRY_ASSERT_OK(agent->DeregisterMem(r));
}

TEST(GdsBatchPool, ABusyPoolQueuesWorkInsteadOfFailing) {
  FERRY_REQUIRE_GPU();
  GdsHarness h;
  // One handle of two entries for 16 concurrent transfers of 8 descriptors each.
  // compat_batch: the batch API even where cuFile runs in compatibility mode.
  FERRY_ASSERT_OK(
      h.Init("GDS", {{"batch_pool_size", "1"}, {"batch_limit", "2"}, {"compat_batch", "true"}}));
  constexpr int kXfers = 16, kDescs = 8;
  constexpr uint64_t kLen = 64 * kKiB, kTotal = kXfers * kDescs * kLen;
  DeviceBuffer src(kTotal), dst(kTotal);
  std::vector<uint8_t> data(kTotal);
  test::FillRandom(data.data(), kTotal, 16);
  ASSERT_TRUE(test::ToDevice(src.data(), data.data(), kTotal));
  FERRY_ASSERT_OK(h.RegisterVram(src.data(), kTotal));
  FERRY_ASSERT_OK(h.RegisterVram(dst.data(), kTotal));
  FERRY_ASSERT_OK(h.RegisterFile("pool", 1, true));
  for (XferOp op : {XferOp::kWrite, XferOp::kRead}) {
    std::vector<std::unique_ptr<Transfer>> xs(kXfers);
    for (int x = 0; x < kXfers; ++x) {
      XferDescList m{MemKind::kVram, {}}, f{MemKind::kFile, {}};
      for (int d = 0; d < kDescs; ++d) {
        const uint64_t off = (uint64_t(x) * kDescs + d) * kLen;
        m.descs.push_back({(op == XferOp::kWrite ? src.addr() : dst.addr()) + off, kLen, 0});
        f.descs.push_back({off, kLen, 1});
      }
      FERRY_ASSERT_OK(h.agent().CreateTransfer(op, m, f, "", &xs[x]));
    }
    for (auto& x : xs) FERRY_ASSERT_OK(x->Post());
    for (auto& x : xs) FERRY_EXPECT_OK(x->Wait(test::kWaitLimit));
  }
  std::vector<uint8_t> back = test::FromDevice(dst.data(), kTotal);
  ASSERT_EQ(test::FirstDiff(back.data(), data.data(), kTotal), -1);
}

// These run everywhere: parameters are checked before cuFile is touched, and without a GPU
// the backend says so instead of failing later.
TEST(GdsParams, OutOfRangeParametersAreNamed) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  BackendId b;
  Status s = agent->CreateBackend("GDS", {{"batch_limit", "0"}}, &b);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("batch_limit"));
  s = agent->CreateBackend("GDS", {{"batch_pool_size", "5000"}}, &b);
  EXPECT_THAT(s.message(), HasSubstr("batch_pool_size"));
  s = agent->CreateBackend("GDS_MT", {{"thread_count", "0"}}, &b);
  EXPECT_THAT(s.message(), HasSubstr("thread_count"));
  s = agent->CreateBackend("GDS_MT", {{"max_request_size", "1000"}}, &b);
  EXPECT_THAT(s.message(), HasSubstr("max_request_size"));
}

TEST(GdsParams, WithoutAGpuCreationSaysSo) {
  std::string why;
  if (cuda::DeviceCount(&why) > 0) GTEST_SKIP() << "this machine has a GPU";
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  for (const char* plugin : {"GDS", "GDS_MT"}) {
    BackendId b;
    Status s = agent->CreateBackend(plugin, {}, &b);
    EXPECT_EQ(s.code(), Code::kUnsupported) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("needs a CUDA GPU"));
  }
}

}  // namespace
}  // namespace ferry
