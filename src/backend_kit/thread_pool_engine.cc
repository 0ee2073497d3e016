#include "thread_pool_engine.h"

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace ferry::kit {
namespace {

class ThreadPoolEngine final : public IoEngine {
 public:
  ThreadPoolEngine(IoSink* sink, ThreadPoolCalls calls, const char* name)
      : sink_(sink), calls_(calls), name_(name) {}

  ~ThreadPoolEngine() override {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void Start(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
  }

  const char* name() const override { return name_; }

  void Submit(std::span<IoOp* const> ops) override {
    {
      std::lock_guard lk(mu_);
      queue_.insert(queue_.end(), ops.begin(), ops.end());
    }
    if (ops.size() == 1)
      cv_.notify_one();
    else
      cv_.notify_all();
  }

  std::string DescribeError(int err) const override {
    return calls_.describe ? calls_.describe(err) : std::string();
  }

 private:
  void Work() {
    void* worker = calls_.start_worker ? calls_.start_worker(calls_.context) : nullptr;
    Loop(worker);
    if (calls_.stop_worker) calls_.stop_worker(worker);
  }

  void Loop(void* worker) {
    for (;;) {
      IoOp* op;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing left to do
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
  std::condition_variable cv_;
  std::deque<IoOp*> queue_;
  bool stopping_ = false;
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
  auto e = std::make_unique<ThreadPoolEngine>(sink, calls, name);
  e->Start(threads);
  return e;
}

}  // namespace ferry::kit
