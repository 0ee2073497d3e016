// libaio engine: io_submit from any thread, completions signalled on an eventfd that a
// reaper thread waits on (a second eventfd stops it). A pool of iocbs sized to the queue
// depth lives here; the scheduler never has more ops in flight than that.
#include <libaio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "posix_engines.h"

namespace ferry::posix {
namespace {

class AioEngine final : public IoEngine {
 public:
  explicit AioEngine(IoSink* sink) : sink_(sink) {}

  ~AioEngine() override {
    if (reaper_.joinable()) {
      uint64_t one = 1;
      (void)!write(stop_fd_, &one, sizeof one);
      reaper_.join();
    }
    if (ctx_) io_destroy(ctx_);
    if (event_fd_ >= 0) close(event_fd_);
    if (stop_fd_ >= 0) close(stop_fd_);
  }

  bool Init(unsigned queue_depth, std::string* error) {
    int rc = io_setup(int(queue_depth), &ctx_);
    if (rc < 0) {
      ctx_ = nullptr;
      *error = std::string("io_setup: ") + std::strerror(-rc);
      return false;
    }
    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    if (event_fd_ < 0 || stop_fd_ < 0) {
      *error = std::string("eventfd: ") + std::strerror(errno);
      return false;
    }
    iocbs_.resize(queue_depth);
    for (unsigned i = 0; i < queue_depth; ++i) free_.push_back(&iocbs_[i]);
    reaper_ = std::thread([this] { Reap(); });
    return true;
  }

  const char* name() const override { return "aio"; }

  void Submit(std::span<IoOp* const> ops) override {
    std::vector<IoResult> failed;
    std::vector<iocb*> batch;
    std::unique_lock lk(mu_);
    for (IoOp* op : ops) {
      if (op->req->cancelled.load(std::memory_order_relaxed) || free_.empty()) {
        failed.push_back({op, free_.empty() ? -EBUSY : -ECANCELED});
        continue;
      }
      iocb* cb = free_.back();
      free_.pop_back();
      void* buf = reinterpret_cast<void*>(op->buf + op->done);
      const size_t len = op->len - op->done;
      const long long off = static_cast<long long>(op->off + op->done);
      if (op->req->write)
        io_prep_pwrite(cb, FileOf(*op).fd, buf, len, off);
      else
        io_prep_pread(cb, FileOf(*op).fd, buf, len, off);
      io_set_eventfd(cb, event_fd_);
      cb->data = op;
      batch.push_back(cb);
    }
    size_t sent = 0;
    while (sent < batch.size()) {
      int rc = io_submit(ctx_, long(batch.size() - sent), batch.data() + sent);
      if (rc > 0) {
        sent += size_t(rc);
      } else if (rc == -EAGAIN || rc == -EINTR) {
        std::this_thread::yield();
      } else {
        // This iocb was refused; report it and carry on with the rest.
        failed.push_back({static_cast<IoOp*>(batch[sent]->data), rc < 0 ? rc : -EIO});
        free_.push_back(batch[sent]);
        ++sent;
      }
    }
    lk.unlock();  // the sink may submit again
    if (!failed.empty()) sink_->OnResults(failed);
  }

 private:
  void Reap() {
    std::vector<io_event> events(iocbs_.size());
    std::vector<IoResult> results;
    pollfd fds[2] = {{event_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    for (;;) {
      if (poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents & POLLIN) return;
      uint64_t n;
      (void)!read(event_fd_, &n, sizeof n);
      for (;;) {
        timespec zero{0, 0};
        int got = io_getevents(ctx_, 0, long(events.size()), events.data(), &zero);
        if (got <= 0) break;
        results.clear();
        {
          std::lock_guard lk(mu_);
          for (int i = 0; i < got; ++i) {
            free_.push_back(events[i].obj);
            results.push_back({static_cast<IoOp*>(events[i].data),
                               static_cast<int64_t>(static_cast<long>(events[i].res))});
          }
        }
        sink_->OnResults(results);
      }
    }
  }

  IoSink* sink_;
  io_context_t ctx_ = nullptr;
  int event_fd_ = -1;
  int stop_fd_ = -1;
  std::mutex mu_;
  std::vector<iocb> iocbs_;
  std::vector<iocb*> free_;
  std::thread reaper_;
};

}  // namespace

std::unique_ptr<IoEngine> MakeAioEngine(IoSink* sink, unsigned queue_depth, std::string* error) {
  auto e = std::make_unique<AioEngine>(sink);
  if (!e->Init(queue_depth, error)) return nullptr;
  return e;
}

}  // namespace ferry::posix
