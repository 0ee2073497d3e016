#include "thread_pool_engine.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace ferry::kit {
namespace {

// Idle workers wait on a stack, each on its own condition variable, and Submit wakes the
// one that went idle last: at a queue depth of one the same thread (its stack, its caches,
// the per-thread state a library such as cuFile keeps) runs op after op, where waking any
// waiter rotates the work over every thread of the pool.
class ThreadPoolEngine final : public IoEngine {
 public:
  ThreadPoolEngine(IoSink* sink, ThreadPoolCalls calls, const char* name, unsigned threads)
      : sink_(sink), calls_(calls), name_(name), slots_(threads) {}

  ~ThreadPoolEngine() override {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    for (auto& w : slots_) w.cv.notify_one();
    for (auto& t : workers_) t.join();
  }

  void Start() {
    for (auto& w : slots_) workers_.emplace_back([this, &w] { Work(w); });
  }

  const char* name() const override { return name_; }

  void Submit(std::span<IoOp* const> ops) override {
    Idle* wake[kWakeBatch];
    size_t n = 0;
    {
      std::lock_guard lk(mu_);
      queue_.insert(queue_.end(), ops.begin(), ops.end());
      while (n < ops.size() && n < kWakeBatch && !idle_.empty()) {
        wake[n] = idle_.back();
        idle_.pop_back();
        wake[n++]->woken = true;
      }
    }
    // A worker lives until the destructor joins it, so its slot outlives this call.
    for (size_t i = 0; i < n; ++i) wake[i]->cv.notify_one();
  }

  std::string DescribeError(int err) const override {
    return calls_.describe ? calls_.describe(err) : std::string();
  }

 private:
  // Workers woken per Submit at most; the rest find the queue's ops as they finish theirs.
  static constexpr size_t kWakeBatch = 64;

  struct Idle {
    std::condition_variable cv;
    bool woken = false;  // under mu_: taken off the idle stack by Submit
  };

  void Work(Idle& me) {
    void* worker = calls_.start_worker ? calls_.start_worker(calls_.context) : nullptr;
    Loop(me, worker);
    if (calls_.stop_worker) calls_.stop_worker(worker);
  }

  void Loop(Idle& me, void* worker) {
    for (;;) {
      IoOp* op;
      {
        std::unique_lock lk(mu_);
        while (queue_.empty()) {
          if (stopping_) return;  // and nothing left to do
          me.woken = false;
          idle_.push_back(&me);
          me.cv.wait(lk, [&] { return me.woken || stopping_; });
          if (!me.woken) std::erase(idle_, &me);  // stopping: off the stack
        }
        op = queue_.front();
        queue_.pop_front();
      }
      const int64_t res =
          op->req->cancelled.load(std::memory_order_relaxed) ? -ECANCELED : calls_.run(*op, worker);
      if (res == -EAGAIN || res == -EINTR) {
        Submit(std::span<IoOp* const>(&op, 1));  // try again later
        continue;
      }
      IoResult r{op, res};
      sink_->OnResults(std::span<const IoResult>(&r, 1));
    }
  }

  IoSink* const sink_;
  const ThreadPoolCalls calls_;
  const char* const name_;
  std::mutex mu_;
  std::deque<IoOp*> queue_;
  std::vector<Idle*> idle_;  // most recently idle last
  bool stopping_ = false;
  std::deque<Idle> slots_;  // one per worker; a deque, as Idle does not move
  std::vector<std::thread> workers_;
};

}  // namespace

std::unique_ptr<IoEngine> MakeThreadPoolEngine(IoSink* sink, unsigned threads,
                                               ThreadPoolCalls calls, const char* name,
                                               std::string* error) {
  if (threads == 0) {
    *error = std::string(name) + " engine needs at least one thread";
    return nullptr;
  }
  auto e = std::make_unique<ThreadPoolEngine>(sink, calls, name, threads);
  e->Start();
  return e;
}

}  // namespace ferry::kit
