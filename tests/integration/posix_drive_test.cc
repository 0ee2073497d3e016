// Completion driving (Backend::Drive / Kick / Poll): the southbound contract on the POSIX plugin
// itself, and what waiting through the agent relies on: requests posted by a thread that
// exits still complete, and a completion queue fed by two backends (which no single
// waiter can drive) still delivers every tag.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ferry/backend.h"
#include "ferry/completion_queue.h"
#include "integration/test_util.h"
#include "plugin_loader.h"

namespace ferry {
namespace {

using test::AlignedBuffer;
using test::Dram;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The POSIX plugin's Backend, created without an agent: found the way the agent finds it
// (plugin_loader.h), so the test holds the object the core would call Drive/Kick on.
class PluginBackend {
 public:
  Status Create(const Params& params) {
    for (const LoadedPlugin& p : DiscoverPlugins(PluginDirs(""))) {
      if (p.info.name != test::kPosix) continue;
      if (p.spec == nullptr) return Internal("POSIX plugin unusable: " + p.info.error);
      ParamValues values;
      Status s = ParamValues::Build(p.spec->params(), params, &values);
      if (!s.ok()) return s;
      return p.spec->Create(values, &backend_);
    }
    return NotFound("no POSIX plugin");
  }
  Backend& operator*() { return *backend_; }
  Backend* operator->() { return backend_.get(); }

 private:
  std::unique_ptr<Backend> backend_;
};

class DriveContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && !test::KernelHasIoUring()) GTEST_SKIP() << "io_uring disabled";
    FERRY_ASSERT_OK(backend_.Create(test::EngineParams(GetParam())));
  }
  bool Drives() const { return GetParam() == "uring" || GetParam() == "aio"; }
  PluginBackend backend_;
};

bool Never() {
  return false;
}

TEST_P(DriveContractTest, IdleDriveReturnsAtItsDeadline) {
  const auto start = Clock::now();
  const bool drove = backend_->Drive(start + 50ms, Never);
  const auto took = Clock::now() - start;
  if (!Drives()) {
    EXPECT_FALSE(drove) << "the " << GetParam() << " engine cannot be driven";
    EXPECT_LT(took, 1s) << "a backend that cannot drive must say so at once";
    return;
  }
  EXPECT_TRUE(drove);
  EXPECT_GE(took, 45ms) << "returned before its deadline with nothing done";
  EXPECT_LT(took, test::kWaitLimit);
}

TEST_P(DriveContractTest, DriveThatIsAlreadyDoneReturnsAtOnce) {
  const auto start = Clock::now();
  const bool drove = backend_->Drive(start + test::kWaitLimit, [] { return true; });
  EXPECT_EQ(drove, Drives());
  EXPECT_LT(Clock::now() - start, test::kWaitLimit / 2);
}

// Drives `backend` from another thread until a flag is set, checks that this thread
// cannot drive meanwhile, sets the flag and kicks, and checks that the other thread's
// Drive ended long before its deadline.
void ExpectKickEndsDrive(Backend& backend) {
  const auto start = Clock::now();
  const auto deadline = start + 2 * test::kWaitLimit;
  std::atomic<bool> flag{false};
  auto driver = std::async(std::launch::async, [&] {
    // This thread's probes below may hold the backend for a moment: try again then.
    bool drove = false;
    while (!drove && Clock::now() < deadline) {
      drove = backend.Drive(deadline, [&] { return flag.load(); });
    }
    return std::make_pair(drove, Clock::now() - start);
  });
  // Nothing is in flight, so nothing else holds the completion side: once a Drive here
  // says it cannot drive, the other thread is inside its Drive.
  bool other_driving = false;
  while (!other_driving && Clock::now() - start < test::kWaitLimit) {
    other_driving = !backend.Drive(Clock::now(), Never);
    if (!other_driving) std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(other_driving) << "a second thread could drive while the first did";
  flag.store(true);
  backend.Kick();
  ASSERT_EQ(driver.wait_for(test::kWaitLimit), std::future_status::ready)
      << "Kick did not end the other thread's Drive";
  auto [drove, took] = driver.get();
  EXPECT_TRUE(drove);
  EXPECT_LT(took, test::kWaitLimit);
  // And once it left, this thread can drive (the reaper may hold the ring for a moment).
  bool drove_here = false;
  while (!drove_here && Clock::now() - start < 2 * test::kWaitLimit) {
    drove_here = backend.Drive(Clock::now(), Never);
  }
  EXPECT_TRUE(drove_here);
}

// spin_us: a waiter spins on the completion ring before it sleeps. Transfers complete and
// move the right bytes with it on, at queue depth 1 and with many in flight; out of range is
// refused by name.
TEST_P(DriveContractTest, SpinningWaitersCompleteEveryTransfer) {
  test::PosixHarness h{/*need_direct=*/false};
  FERRY_ASSERT_OK(
      h.Init(test::EngineParams(GetParam(), {{"spin_us", "200"}, {"inline_max", "0"}})));
  constexpr uint64_t kLen = 64 << 10;
  AlignedBuffer src{kLen}, dst{kLen};
  test::FillRandom(src.data(), kLen, 11);
  FERRY_ASSERT_OK(h.RegisterDram(src.data(), kLen));
  FERRY_ASSERT_OK(h.RegisterDram(dst.data(), kLen));
  FERRY_ASSERT_OK(h.RegisterFile("spin", 1, test::RwCreate(/*direct=*/false)));
  for (int round = 0; round < 50; ++round) {
    FERRY_ASSERT_OK(test::RunXfer(h.agent(), XferOp::kWrite,
                                  test::DramList({Dram(src.data(), kLen)}),
                                  test::FileList({{0, kLen, 1}})));
    std::memset(dst.data(), 0, kLen);
    FERRY_ASSERT_OK(test::RunXfer(h.agent(), XferOp::kRead,
                                  test::DramList({Dram(dst.data(), kLen)}),
                                  test::FileList({{0, kLen, 1}})));
    ASSERT_EQ(std::memcmp(src.data(), dst.data(), kLen), 0) << "round " << round;
  }
  test::PosixHarness bad{/*need_direct=*/false};
  Status s = bad.Init(test::EngineParams(GetParam(), {{"spin_us", "5000"}}));
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("spin_us"), std::string::npos) << s.ToString();
}

// The engines that can be driven.
class DrivingEngineTest : public DriveContractTest {};

TEST_P(DrivingEngineTest, KickEndsAnotherThreadsDriveAndOnlyOneThreadDrives) {
  ExpectKickEndsDrive(*backend_);
  ExpectKickEndsDrive(*backend_);  // the kick re-arms
}

// The engine's wake-up read is armed first by the thread that creates the backend; kicks
// must keep working after that thread is gone.
TEST_P(DrivingEngineTest, KickWorksAfterTheCreatingThreadExited) {
  PluginBackend made_elsewhere;
  Status created;
  std::thread([&] { created = made_elsewhere.Create(test::EngineParams(GetParam())); }).join();
  FERRY_ASSERT_OK(created);
  ExpectKickEndsDrive(*made_elsewhere);
  ExpectKickEndsDrive(*made_elsewhere);
}

// Records which thread delivered a request's completion.
struct ThreadSink final : CompletionSink {
  void Complete(Status s) override {
    status = std::move(s);
    by = std::this_thread::get_id();
    done.store(true, std::memory_order_release);
  }
  std::atomic<bool> done{false};
  Status status;
  std::thread::id by;
};

// Backend::Poll collects what has finished on the calling thread: a thread that posts and
// then only polls gets its completions itself, mostly before the engine's reaper thread
// wakes up for them (always, with a Poll that does nothing).
TEST_P(DrivingEngineTest, PollDeliversFinishedIoOnThePollingThread) {
  PluginBackend b;
  FERRY_ASSERT_OK(b.Create(test::EngineParams(GetParam(), {{"inline_max", "0"}})));
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  constexpr uint64_t kLen = 16 << 10;
  AlignedBuffer src{kLen}, dst{kLen};
  test::FillRandom(src.data(), kLen, 21);
  {
    FILE* f = std::fopen(dir.File("p").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(src.data(), 1, kLen, f), kLen);
    ASSERT_EQ(std::fclose(f), 0);
  }
  void* dram_md = nullptr;
  void* file_md = nullptr;
  FERRY_ASSERT_OK(b->RegisterMem(MemKind::kDram, DramDesc(dst.data(), kLen), &dram_md));
  FERRY_ASSERT_OK(b->RegisterMem(MemKind::kFile, FileByPath(dir.File("p"), 1, {}), &file_md));
  XferArgs args;
  const PrepareSpec spec{XferOp::kRead, MemKind::kDram, MemKind::kFile, args};
  const IoSegment seg{reinterpret_cast<uint64_t>(dst.data()), 0, kLen, dram_md, file_md, 0};
  std::unique_ptr<BackendRequest> req;
  FERRY_ASSERT_OK(b->Prepare(spec, {&seg, 1}, &req));
  constexpr int kRounds = 200;
  int here = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::memset(dst.data(), 0, kLen);
    ThreadSink sink;
    FERRY_ASSERT_OK(b->Post(req.get(), &sink));
    const auto deadline = Clock::now() + test::kWaitLimit;
    while (!sink.done.load(std::memory_order_acquire) && Clock::now() < deadline) b->Poll();
    ASSERT_TRUE(sink.done.load(std::memory_order_acquire)) << "round " << round << " hung";
    FERRY_ASSERT_OK(sink.status);
    ASSERT_EQ(std::memcmp(src.data(), dst.data(), kLen), 0) << "round " << round;
    if (sink.by == std::this_thread::get_id()) ++here;
  }
  EXPECT_GE(here, kRounds / 10) << "only " << here << " of " << kRounds
                                << " completions were collected by the polling thread";
  req.reset();
  b->DeregisterMem(MemKind::kFile, file_md);
  b->DeregisterMem(MemKind::kDram, dram_md);
}

// Poll never waits for the thread that is collecting completions: it returns at once
// while another thread drives.
TEST_P(DrivingEngineTest, PollReturnsAtOnceWhileAnotherThreadDrives) {
  std::atomic<bool> stop{false};
  std::atomic<bool> driving{false};
  auto driver = std::async(std::launch::async, [&] {
    while (!stop.load()) {
      (void)backend_->Drive(Clock::now() + 2 * test::kWaitLimit, [&] {
        driving.store(true);
        return stop.load();
      });
    }
  });
  while (!driving.load()) std::this_thread::sleep_for(1ms);
  const auto start = Clock::now();
  for (int i = 0; i < 1000; ++i) backend_->Poll();
  const auto took = Clock::now() - start;
  stop.store(true);
  backend_->Kick();
  ASSERT_EQ(driver.wait_for(test::kWaitLimit), std::future_status::ready);
  EXPECT_LT(took, test::kWaitLimit / 4) << "Poll waited for the driving thread";
}

INSTANTIATE_TEST_SUITE_P(Engines, DriveContractTest, ::testing::ValuesIn(test::kEngines));
INSTANTIATE_TEST_SUITE_P(Engines, DrivingEngineTest, ::testing::Values("uring", "aio"));

constexpr uint64_t kBytes = 8 << 20;

class DriveThroughAgentTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && !test::KernelHasIoUring()) GTEST_SKIP() << "io_uring disabled";
    // 4 KiB pieces: 2048 I/Os per transfer, so a transfer outlives the thread that posts it.
    FERRY_ASSERT_OK(h_.Init(test::EngineParams(GetParam(), {{test::kMaxRequestKey, "4K"}})));
    test::FillRandom(src_.data(), kBytes, 7);
    FERRY_ASSERT_OK(h_.RegisterDram(src_.data(), kBytes));
    FERRY_ASSERT_OK(h_.RegisterDram(dst_.data(), kBytes));
    FERRY_ASSERT_OK(h_.RegisterFile("f", 1, test::RwCreate(/*direct=*/true)));
    FERRY_ASSERT_OK(test::RunXfer(h_.agent(), XferOp::kWrite,
                                  test::DramList({Dram(src_.data(), kBytes)}),
                                  test::FileList({{0, kBytes, 1}})));
  }
  test::PosixHarness h_{/*need_direct=*/true};
  AlignedBuffer src_{kBytes}, dst_{kBytes};
};

// The kernel finishes an io_uring I/O in the thread that submitted it; that thread being
// gone must not lose or cancel the I/O.
TEST_P(DriveThroughAgentTest, RequestPostedByAThreadThatExitsCompletes) {
  std::unique_ptr<Transfer> x;
  FERRY_ASSERT_OK(h_.agent().CreateTransfer(XferOp::kRead,
                                            test::DramList({Dram(dst_.data(), kBytes)}),
                                            test::FileList({{0, kBytes, 1}}), "", &x));
  Status posted;
  std::thread([&] { posted = x->Post(); }).join();
  FERRY_ASSERT_OK(posted);
  FERRY_ASSERT_OK(x->Wait(test::kWaitLimit));
  EXPECT_EQ(std::memcmp(src_.data(), dst_.data(), kBytes), 0);
}

// Threads that post buffered writes and exit at once. io_uring may cancel work that an
// exiting thread queued (ConcurrencyTest.EightThreadsOneSharedFile met ECANCELED that
// way, a few times in a hundred runs, before the scheduler resubmitted such ops): every byte
// must land all the same.
TEST_P(DriveThroughAgentTest, WritesPostedByThreadsThatExitAtOnceAllLand) {
  constexpr int kThreads = 8;
  constexpr uint64_t kSlice = kBytes / kThreads;
  test::PosixHarness b(/*need_direct=*/false);
  FERRY_ASSERT_OK(b.Init(test::EngineParams(GetParam(), {{test::kMaxRequestKey, "4K"}})));
  FERRY_ASSERT_OK(b.RegisterDram(src_.data(), kBytes));
  FERRY_ASSERT_OK(b.RegisterDram(dst_.data(), kBytes));
  FERRY_ASSERT_OK(b.RegisterFile("shared", 1, test::RwCreate()));
  for (int round = 0; round < 4; ++round) {
    std::vector<std::unique_ptr<Transfer>> xs(kThreads);
    std::vector<Status> posted(kThreads);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
      FERRY_ASSERT_OK(b.agent().CreateTransfer(
          XferOp::kWrite, test::DramList({Dram(src_.data() + t * kSlice, kSlice)}),
          test::FileList({{round * kBytes + t * kSlice, kSlice, 1}}), "", &xs[t]));
      ts.emplace_back([&, t] { posted[t] = xs[t]->Post(); });
    }
    for (auto& th : ts) th.join();
    for (int t = 0; t < kThreads; ++t) {
      FERRY_ASSERT_OK(posted[t]);
      SCOPED_TRACE("round " + std::to_string(round) + " thread " + std::to_string(t));
      FERRY_ASSERT_OK(xs[t]->Wait(test::kWaitLimit));
    }
  }
  for (int round = 0; round < 4; ++round) {
    std::memset(dst_.data(), 0, kBytes);
    FERRY_ASSERT_OK(test::RunXfer(b.agent(), XferOp::kRead,
                                  test::DramList({Dram(dst_.data(), kBytes)}),
                                  test::FileList({{round * kBytes, kBytes, 1}})));
    EXPECT_EQ(std::memcmp(src_.data(), dst_.data(), kBytes), 0) << "round " << round;
  }
}

// One queue, transfers of two agents' backends in flight: no waiter can drive both, so
// the tags must come through the backends' own completion.
TEST_P(DriveThroughAgentTest, QueueFedByTwoBackendsDeliversEveryTag) {
  test::PosixHarness other(/*need_direct=*/false);
  FERRY_ASSERT_OK(other.Init(test::EngineParams(GetParam())));
  AlignedBuffer other_buf(kBytes);
  test::FillRandom(other_buf.data(), kBytes, 8);
  FERRY_ASSERT_OK(other.RegisterDram(other_buf.data(), kBytes));
  FERRY_ASSERT_OK(other.RegisterFile("g", 1, test::RwCreate()));

  auto queue = CompletionQueue::Create();
  XferOptions o1, o2;
  o1.completion_queue = o2.completion_queue = queue;
  o1.tag = 1;
  o2.tag = 2;
  std::unique_ptr<Transfer> x1, x2;
  FERRY_ASSERT_OK(h_.agent().CreateTransfer(XferOp::kRead,
                                            test::DramList({Dram(dst_.data(), kBytes)}),
                                            test::FileList({{0, kBytes, 1}}), "", &x1, o1));
  FERRY_ASSERT_OK(other.agent().CreateTransfer(XferOp::kWrite,
                                               test::DramList({Dram(other_buf.data(), kBytes)}),
                                               test::FileList({{0, kBytes, 1}}), "", &x2, o2));
  for (int round = 0; round < 3; ++round) {
    FERRY_ASSERT_OK(x1->Post());
    FERRY_ASSERT_OK(x2->Post());
    std::vector<uint64_t> tags;
    const auto deadline = Clock::now() + test::kWaitLimit;
    while (tags.size() < 2 && Clock::now() < deadline) queue->Wait(&tags, 1s);
    std::sort(tags.begin(), tags.end());
    ASSERT_EQ(tags, (std::vector<uint64_t>{1, 2})) << "round " << round;
    FERRY_EXPECT_OK(x1->Check());
    FERRY_EXPECT_OK(x2->Check());
  }
  EXPECT_EQ(std::memcmp(src_.data(), dst_.data(), kBytes), 0);
}

// A caller that never waits, only spins on Transfer::Check (as nixlbench does on
// getXferStatus) or on CompletionQueue::Poll, sees every transfer complete with its bytes.
TEST_P(DriveThroughAgentTest, CheckAndQueuePollAloneCompleteEveryTransfer) {
  constexpr int kInFlight = 4;
  constexpr uint64_t kPart = kBytes / kInFlight;
  auto queue = CompletionQueue::Create();
  std::vector<std::unique_ptr<Transfer>> checked(kInFlight), queued(kInFlight);
  for (int i = 0; i < kInFlight; ++i) {
    const auto local = test::DramList({Dram(dst_.data() + i * kPart, kPart)});
    const auto target = test::FileList({{i * kPart, kPart, 1}});
    FERRY_ASSERT_OK(h_.agent().CreateTransfer(XferOp::kRead, local, target, "", &checked[i]));
    XferOptions o;
    o.completion_queue = queue;
    o.tag = uint64_t(i);
    FERRY_ASSERT_OK(h_.agent().CreateTransfer(XferOp::kRead, local, target, "", &queued[i], o));
  }
  for (int round = 0; round < 3; ++round) {
    std::memset(dst_.data(), 0, kBytes);
    for (auto& x : checked) FERRY_ASSERT_OK(x->Post());
    const auto deadline = Clock::now() + test::kWaitLimit;
    for (auto& x : checked) {
      Status st = x->Check();
      while (st.code() == Code::kInProgress && Clock::now() < deadline) st = x->Check();
      ASSERT_TRUE(st.ok()) << "round " << round << ": " << st.ToString();
    }
    ASSERT_EQ(std::memcmp(src_.data(), dst_.data(), kBytes), 0) << "Check, round " << round;

    std::memset(dst_.data(), 0, kBytes);
    for (auto& x : queued) FERRY_ASSERT_OK(x->Post());
    std::vector<uint64_t> tags;
    while (tags.size() < kInFlight && Clock::now() < deadline) queue->Poll(&tags);
    std::sort(tags.begin(), tags.end());
    ASSERT_EQ(tags, (std::vector<uint64_t>{0, 1, 2, 3})) << "queue Poll, round " << round;
    for (auto& x : queued) FERRY_EXPECT_OK(x->Check());
    ASSERT_EQ(std::memcmp(src_.data(), dst_.data(), kBytes), 0) << "queue, round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, DriveThroughAgentTest, ::testing::ValuesIn(test::kEngines));

}  // namespace
}  // namespace ferry
