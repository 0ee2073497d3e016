// io_uring engine. The ring belongs to one thread, the I/O thread: it alone submits and
// reaps. That lets the kernel defer completion work to it (IORING_SETUP_SINGLE_ISSUER |
// DEFER_TASKRUN, as fio does) instead of interrupting whichever thread submitted, which
// at 4 KiB costs more than the I/O itself. Other threads hand ops over through a locked
// queue and write an eventfd only when the I/O thread is about to sleep; the ring keeps a
// read on that eventfd armed, so one wait covers both "new work" and "I/O completed".
// Requests therefore complete without anyone polling, and without burning a core.
//
// DRAM registrations become fixed buffers (READ_FIXED/WRITE_FIXED skip per-I/O page
// pinning) and files become fixed files, both in sparse tables updated in place. With a
// single issuer only the I/O thread may touch the ring, so registrations run there too.
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "io_engine.h"

namespace ferry::posix {
namespace {

constexpr unsigned kBufferSlots = 1024;
constexpr unsigned kFileSlots = 4096;
constexpr uint64_t kMaxFixedBuffer = 1ull << 30;  // the kernel's limit per fixed buffer
constexpr uint64_t kWakeTag = 1;                  // user_data of the eventfd read

class UringEngine final : public IoEngine {
 public:
  UringEngine(IoSink* sink, bool register_buffers)
      : sink_(sink), register_buffers_(register_buffers) {}

  ~UringEngine() override {
    if (thread_.joinable()) {
      {
        std::lock_guard lk(mu_);
        stopping_ = true;
      }
      Wake();
      thread_.join();
    }
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  bool Init(unsigned queue_depth, std::string* error) {
    wake_fd_ = eventfd(0, EFD_CLOEXEC);
    if (wake_fd_ < 0) {
      *error = std::string("eventfd: ") + std::strerror(errno);
      return false;
    }
    std::promise<std::string> started;
    auto result = started.get_future();
    thread_ = std::thread([this, queue_depth, &started] { Run(queue_depth, &started); });
    *error = result.get();
    if (!error->empty()) {
      thread_.join();
      return false;
    }
    return true;
  }

  const char* name() const override { return "uring"; }

  void Submit(std::span<IoOp* const> ops) override {
    bool wake;
    {
      std::lock_guard lk(mu_);
      incoming_.insert(incoming_.end(), ops.begin(), ops.end());
      // From the I/O thread itself (a completion that submits more) no wake-up is needed:
      // it looks at incoming_ before it sleeps again.
      wake = sleeping_ && std::this_thread::get_id() != io_thread_id_;
      if (wake) sleeping_ = false;
    }
    if (wake) Wake();
  }

  int RegisterBuffer(uint64_t addr, uint64_t len) override {
    if (!fixed_buffers_ || len > kMaxFixedBuffer) return -1;
    return OnIoThread([this, addr, len] {
      for (unsigned i = 0; i < buffer_slots_.size(); ++i) {
        if (buffer_slots_[i]) continue;
        iovec iov{reinterpret_cast<void*>(addr), len};
        __u64 tag = 0;
        if (io_uring_register_buffers_update_tag(&ring_, i, &iov, &tag, 1) != 1) return -1;
        buffer_slots_[i] = true;
        return int(i);
      }
      return -1;
    });
  }

  void UnregisterBuffer(int index) override {
    if (index < 0) return;
    OnIoThread([this, index] {
      iovec iov{nullptr, 0};
      __u64 tag = 0;
      io_uring_register_buffers_update_tag(&ring_, unsigned(index), &iov, &tag, 1);
      buffer_slots_[index] = false;
      return 0;
    });
  }

  int RegisterFile(int fd) override {
    if (!fixed_files_) return -1;
    return OnIoThread([this, fd] {
      for (unsigned i = 0; i < file_slots_.size(); ++i) {
        if (file_slots_[i]) continue;
        if (io_uring_register_files_update(&ring_, i, const_cast<int*>(&fd), 1) != 1) return -1;
        file_slots_[i] = true;
        return int(i);
      }
      return -1;
    });
  }

  void UnregisterFile(int index) override {
    if (index < 0) return;
    OnIoThread([this, index] {
      int none = -1;
      io_uring_register_files_update(&ring_, unsigned(index), &none, 1);
      file_slots_[index] = false;
      return 0;
    });
  }

 private:
  void Wake() {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }

  // Runs `fn` on the I/O thread and returns its result.
  int OnIoThread(std::function<int()> fn) {
    if (std::this_thread::get_id() == io_thread_id_) return fn();
    std::packaged_task<int()> task(std::move(fn));
    auto result = task.get_future();
    bool wake;
    {
      std::lock_guard lk(mu_);
      tasks_.push_back(std::move(task));
      wake = sleeping_;
      sleeping_ = false;
    }
    if (wake) Wake();
    return result.get();
  }

  // Creates the ring on this thread (so this thread is its single issuer), then serves it.
  void Run(unsigned queue_depth, std::promise<std::string>* started) {
    io_thread_id_ = std::this_thread::get_id();
    std::string error = Setup(queue_depth);
    const bool ok = error.empty();
    started->set_value(std::move(error));  // `started` is gone after this line
    if (!ok) return;
    Serve();
    io_uring_queue_exit(&ring_);
  }

  std::string Setup(unsigned queue_depth) {
    // Room for every op in flight and the eventfd read; CQ twice as large. Kernels before
    // 6.1 refuse deferred task work (EINVAL): the plain ring is still correct.
    int rc = -EINVAL;
    for (unsigned flags :
         {IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
          unsigned{IORING_SETUP_CQSIZE}}) {
      io_uring_params p{};
      p.flags = flags;
      p.cq_entries = 2 * (queue_depth + 1);
      rc = io_uring_queue_init_params(queue_depth + 1, &ring_, &p);
      if (rc != -EINVAL) break;
    }
    if (rc < 0) return std::string("io_uring_queue_init: ") + std::strerror(-rc);
    // A NOP round trip proves the ring works here (seccomp or io_uring_disabled can let
    // setup succeed and still refuse submissions).
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, 0);
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0 || io_uring_peek_cqe(&ring_, &cqe) < 0 || !cqe) {
      io_uring_queue_exit(&ring_);
      return std::string("io_uring NOP probe failed: ") + std::strerror(rc < 0 ? -rc : EIO);
    }
    io_uring_cqe_seen(&ring_, cqe);
    if (register_buffers_ && io_uring_register_buffers_sparse(&ring_, kBufferSlots) == 0) {
      buffer_slots_.assign(kBufferSlots, false);
      fixed_buffers_ = true;
    }
    if (io_uring_register_files_sparse(&ring_, kFileSlots) == 0) {
      file_slots_.assign(kFileSlots, false);
      fixed_files_ = true;
    }
    return {};
  }

  void ArmWakeRead() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);  // always room: the ring has a slot for it
    io_uring_prep_read(sqe, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
    io_uring_sqe_set_data64(sqe, kWakeTag);
  }

  void Prep(io_uring_sqe* sqe, IoOp* op) {
    void* buf = reinterpret_cast<void*>(op->buf + op->done);
    const unsigned len = op->len - op->done;
    const uint64_t off = op->off + op->done;
    const bool fixed_file = op->file->fixed_index >= 0;
    const int fd = fixed_file ? op->file->fixed_index : op->file->fd;
    if (op->buf_index >= 0) {
      if (op->req->write)
        io_uring_prep_write_fixed(sqe, fd, buf, len, off, op->buf_index);
      else
        io_uring_prep_read_fixed(sqe, fd, buf, len, off, op->buf_index);
    } else {
      if (op->req->write)
        io_uring_prep_write(sqe, fd, buf, len, off);
      else
        io_uring_prep_read(sqe, fd, buf, len, off);
    }
    if (fixed_file) sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data(sqe, op);
  }

  void Serve() {
    ArmWakeRead();
    std::vector<IoOp*> work;
    std::vector<std::packaged_task<int()>> tasks;
    std::vector<IoResult> done;
    for (;;) {
      bool idle;
      {
        std::lock_guard lk(mu_);
        if (stopping_) return;
        work.swap(incoming_);
        tasks.swap(tasks_);
        idle = work.empty() && tasks.empty();
        sleeping_ = idle;  // from here on, new work comes with a wake-up
      }
      for (auto& t : tasks) t();
      tasks.clear();
      for (IoOp* op : work) {
        if (op->req->cancelled.load(std::memory_order_relaxed)) {
          done.push_back({op, -ECANCELED});
          continue;
        }
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (!sqe) {  // the scheduler keeps ops within the ring; flush and retry anyway
          io_uring_submit(&ring_);
          sqe = io_uring_get_sqe(&ring_);
        }
        if (!sqe) {
          done.push_back({op, -EBUSY});
          continue;
        }
        Prep(sqe, op);
      }
      work.clear();

      // Sleep in the kernel only when there is nothing else to do; either way, run the
      // deferred completion work and collect what finished.
      int rc = idle && done.empty() ? io_uring_submit_and_wait(&ring_, 1)
                                    : io_uring_submit_and_get_events(&ring_);
      if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME)
        std::this_thread::yield();

      unsigned head, seen = 0;
      io_uring_cqe* cqe;
      bool rearm = false;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        if (cqe->user_data == kWakeTag)
          rearm = true;
        else if (cqe->user_data != 0)
          done.push_back({static_cast<IoOp*>(io_uring_cqe_get_data(cqe)), cqe->res});
      }
      io_uring_cq_advance(&ring_, seen);
      if (rearm) ArmWakeRead();
      if (!done.empty()) {
        sink_->OnResults(done);  // may Submit more: it lands in incoming_
        done.clear();
      }
    }
  }

  IoSink* sink_;
  const bool register_buffers_;
  io_uring ring_{};  // touched by the I/O thread only
  int wake_fd_ = -1;
  uint64_t wake_buf_ = 0;
  std::vector<bool> buffer_slots_;  // I/O thread only
  std::vector<bool> file_slots_;    // I/O thread only
  // Whether the sparse tables exist: set by Setup before Init returns, constant after, so
  // registrations that cannot succeed skip the trip to the I/O thread.
  bool fixed_buffers_ = false;
  bool fixed_files_ = false;

  std::mutex mu_;  // guards what follows
  std::vector<IoOp*> incoming_;
  std::vector<std::packaged_task<int()>> tasks_;
  bool sleeping_ = false;
  bool stopping_ = false;

  std::thread::id io_thread_id_;  // set before Init returns, constant after
  std::thread thread_;
};

}  // namespace

std::unique_ptr<IoEngine> MakeUringEngine(IoSink* sink, unsigned queue_depth, bool register_buffers,
                                          std::string* error) {
  auto e = std::make_unique<UringEngine>(sink, register_buffers);
  if (!e->Init(queue_depth, error)) return nullptr;
  return e;
}

}  // namespace ferry::posix
