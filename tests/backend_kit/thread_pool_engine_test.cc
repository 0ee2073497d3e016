// The thread-pool engine with a call of the test's own: which worker runs an op, retries
// after -EAGAIN, cancelled ops, many submitters at once, and ops queued at destruction.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "thread_pool_engine.h"

namespace ferry::kit {
namespace {

// What the workers did, shared with the test through ThreadPoolCalls::context and the sink.
struct Record final : IoSink {
  void OnResults(std::span<const IoResult> results) override {
    std::lock_guard lk(mu);
    for (const auto& r : results) {
      ++delivered[r.op];
      last_res[r.op] = r.res;
    }
    cv.notify_all();
  }
  // Waits until `n` results in all have come.
  bool WaitFor(size_t n) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, std::chrono::seconds(30), [&] {
      size_t total = 0;
      for (const auto& [op, count] : delivered) total += count;
      return total >= n;
    });
  }

  std::mutex mu;
  std::condition_variable cv;
  std::map<const IoOp*, int> delivered;
  std::map<const IoOp*, int64_t> last_res;
  std::map<const IoOp*, std::thread::id> ran_on;
  std::map<const IoOp*, int> runs;
  int eagain_first = 0;  // each op answers -EAGAIN this many times before it runs
};

int64_t RunOp(const IoOp& op, void* worker) {
  Record& r = *static_cast<Record*>(worker);
  std::lock_guard lk(r.mu);
  if (r.runs[&op]++ < r.eagain_first) return -EAGAIN;
  r.ran_on[&op] = std::this_thread::get_id();
  return op.len;
}

void* StartWorker(void* context) {
  return context;
}

std::unique_ptr<IoEngine> MakeEngine(Record* r, unsigned threads) {
  std::string error;
  ThreadPoolCalls calls{&RunOp, nullptr, &StartWorker, nullptr, r};
  auto e = MakeThreadPoolEngine(r, threads, calls, "test-pool", &error);
  EXPECT_NE(e, nullptr) << error;
  return e;
}

std::unique_ptr<IoRequest> Request(size_t ops) {
  auto req = std::make_unique<IoRequest>();
  req->ops.resize(ops);
  for (size_t i = 0; i < ops; ++i) {
    req->ops[i].req = req.get();
    req->ops[i].len = uint32_t(4096 + i);
    req->ops[i].buf_index = -1;
  }
  return req;
}

TEST(ThreadPoolEngine, ZeroThreadsIsAnError) {
  Record r;
  std::string error;
  EXPECT_EQ(MakeThreadPoolEngine(&r, 0, {&RunOp}, "test-pool", &error), nullptr);
  EXPECT_NE(error.find("at least one thread"), std::string::npos) << error;
}

// One op at a time goes to the worker that went idle last, so a single thread does all of
// them (a FIFO wake-up would rotate them over the pool's eight threads).
TEST(ThreadPoolEngine, OneOpAtATimeRunsOnTheSameWorker) {
  Record r;
  auto engine = MakeEngine(&r, 8);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // every worker idle
  auto req = Request(24);
  for (size_t i = 0; i < req->ops.size(); ++i) {
    IoOp* op = &req->ops[i];
    engine->Submit({&op, 1});
    ASSERT_TRUE(r.WaitFor(i + 1));
    // The worker reports the result and only then goes idle: let it get there.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::set<std::thread::id> threads;
  for (const auto& [op, id] : r.ran_on) threads.insert(id);
  EXPECT_EQ(r.ran_on.size(), req->ops.size());
  EXPECT_EQ(threads.size(), 1u);
}

// A batch wakes a worker per op, up to the idle ones: all of them run at once.
TEST(ThreadPoolEngine, ABatchSpreadsOverIdleWorkers) {
  Record r;
  std::mutex gate;
  gate.lock();  // holds every op inside its call until all four have started
  auto req = Request(4);
  std::atomic<int> started{0};
  struct Ctx {
    Record* r;
    std::mutex* gate;
    std::atomic<int>* started;
  } ctx{&r, &gate, &started};
  std::string error;
  ThreadPoolCalls calls{[](const IoOp& op, void* w) -> int64_t {
                          auto* c = static_cast<Ctx*>(w);
                          c->started->fetch_add(1);
                          std::lock_guard g(*c->gate);  // released by the test
                          std::lock_guard lk(c->r->mu);
                          c->r->ran_on[&op] = std::this_thread::get_id();
                          return op.len;
                        },
                        nullptr, &StartWorker, nullptr, &ctx};
  auto engine = MakeThreadPoolEngine(&r, 4, calls, "test-pool", &error);
  ASSERT_NE(engine, nullptr) << error;
  std::vector<IoOp*> ops;
  for (auto& op : req->ops) ops.push_back(&op);
  engine->Submit(ops);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (started.load() < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(started.load(), 4);  // four ops in their calls at once: four workers
  gate.unlock();
  ASSERT_TRUE(r.WaitFor(4));
  std::set<std::thread::id> threads;
  for (const auto& [op, id] : r.ran_on) threads.insert(id);
  EXPECT_EQ(threads.size(), 4u);
}

TEST(ThreadPoolEngine, EagainRunsTheOpAgainAndReportsItOnce) {
  Record r;
  r.eagain_first = 2;
  auto engine = MakeEngine(&r, 3);
  auto req = Request(10);
  std::vector<IoOp*> ops;
  for (auto& op : req->ops) ops.push_back(&op);
  engine->Submit(ops);
  ASSERT_TRUE(r.WaitFor(ops.size()));
  engine.reset();  // no late second report
  for (IoOp* op : ops) {
    EXPECT_EQ(r.delivered[op], 1);
    EXPECT_EQ(r.last_res[op], op->len);
    EXPECT_EQ(r.runs[op], 3);
  }
}

TEST(ThreadPoolEngine, ACancelledRequestsOpsAreReportedUnrun) {
  Record r;
  auto engine = MakeEngine(&r, 2);
  auto req = Request(5);
  req->cancelled = true;
  std::vector<IoOp*> ops;
  for (auto& op : req->ops) ops.push_back(&op);
  engine->Submit(ops);
  ASSERT_TRUE(r.WaitFor(ops.size()));
  for (IoOp* op : ops) {
    EXPECT_EQ(r.last_res[op], -ECANCELED);
    EXPECT_EQ(r.runs.count(op), 0u);
  }
}

// Four threads submit 2,000 ops in batches of 1 to 7 while workers finish others: each op
// is reported exactly once.
TEST(ThreadPoolEngine, ManySubmittersEveryOpReportedOnce) {
  Record r;
  auto engine = MakeEngine(&r, 5);
  constexpr size_t kPerThread = 500;
  std::vector<std::unique_ptr<IoRequest>> reqs;
  for (int t = 0; t < 4; ++t) reqs.push_back(Request(kPerThread));
  std::vector<std::thread> submitters;
  for (int t = 0; t < 4; ++t) {
    submitters.emplace_back([&, t] {
      auto& ops = reqs[t]->ops;
      for (size_t i = 0; i < ops.size();) {
        const size_t n = std::min<size_t>(1 + i % 7, ops.size() - i);
        std::vector<IoOp*> batch;
        for (size_t k = 0; k < n; ++k) batch.push_back(&ops[i + k]);
        engine->Submit(batch);
        i += n;
      }
    });
  }
  for (auto& s : submitters) s.join();
  ASSERT_TRUE(r.WaitFor(4 * kPerThread));
  engine.reset();
  EXPECT_EQ(r.delivered.size(), 4 * kPerThread);
  for (const auto& [op, count] : r.delivered) EXPECT_EQ(count, 1);
}

// Ops still queued when the engine is destroyed run before its workers stop.
TEST(ThreadPoolEngine, DestructionRunsWhatIsQueued) {
  Record r;
  auto engine = MakeEngine(&r, 1);
  auto req = Request(50);
  std::vector<IoOp*> ops;
  for (auto& op : req->ops) ops.push_back(&op);
  engine->Submit(ops);
  engine.reset();
  std::lock_guard lk(r.mu);
  EXPECT_EQ(r.delivered.size(), ops.size());
  for (IoOp* op : ops) EXPECT_EQ(r.last_res[op], op->len);
}

}  // namespace
}  // namespace ferry::kit
