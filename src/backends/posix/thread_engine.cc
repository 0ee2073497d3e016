// Thread-pool engine: workers run pread/pwrite. The portable fallback where io_uring and
// libaio are unavailable, and often the fastest for buffered I/O that hits the page cache.
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "posix_engines.h"

namespace ferry::posix {
namespace {

class ThreadEngine final : public IoEngine {
 public:
  explicit ThreadEngine(IoSink* sink) : sink_(sink) {}

  ~ThreadEngine() override {
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

  const char* name() const override { return "threads"; }

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

 private:
  void Work() {
    for (;;) {
      IoOp* op;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing left to do
        op = queue_.front();
        queue_.pop_front();
      }
      int64_t res;
      if (op->req->cancelled.load(std::memory_order_relaxed)) {
        res = -ECANCELED;
      } else {
        void* buf = reinterpret_cast<void*>(op->buf + op->done);
        const size_t len = op->len - op->done;
        const off_t off = static_cast<off_t>(op->off + op->done);
        ssize_t n = op->req->write ? pwrite(FileOf(*op).fd, buf, len, off)
                                   : pread(FileOf(*op).fd, buf, len, off);
        res = n < 0 ? -errno : n;
        if (res == -EINTR) res = -EAGAIN;
      }
      if (res == -EAGAIN) {
        Submit(std::span<IoOp* const>(&op, 1));  // try again later
        continue;
      }
      IoResult r{op, res};
      sink_->OnResults(std::span<const IoResult>(&r, 1));
    }
  }

  IoSink* sink_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<IoOp*> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace

std::unique_ptr<IoEngine> MakeThreadEngine(IoSink* sink, unsigned threads, std::string* error) {
  if (threads == 0) {
    *error = "thread engine needs at least one thread";
    return nullptr;
  }
  auto e = std::make_unique<ThreadEngine>(sink);
  e->Start(threads);
  return e;
}

}  // namespace ferry::posix
