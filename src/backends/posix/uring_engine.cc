// io_uring engine, driven by whoever waits.
//
// Any thread submits directly (under sq_mu_): no hand-off to another thread on the way in.
// Finished I/O is collected ("reaped") by one thread at a time, whoever holds cq_mu_:
//  - a thread waiting for a transfer (Drive, called from Transfer::Wait and
//    CompletionQueue::Wait) sleeps in io_uring_enter itself and delivers the completions
//    it finds. For I/O that the waiter submitted itself, submitting, waiting and reaping
//    then happen on one thread, as in fio: one wake-up per batch of completions, where
//    handing them from a backend thread to the waiter costs two or three; on a VM whose
//    vCPUs the host takes away, a cross-CPU wake-up can cost more than the I/O itself.
//  - a thread polling a transfer (Poll, from Transfer::Check) reaps what the ring holds,
//    without a system call, when no other thread is at it;
//  - otherwise the reaper thread does it: the ring signals an eventfd for every batch of
//    completions, and the reaper sleeps on that eventfd. A driving thread turns the signal
//    off (IORING_CQ_EVENTFD_DISABLED) while it waits, so the two do not both wake.
// Requests therefore complete whether or not anyone waits, without polling.
//
// The kernel runs an I/O's completion work in the task that submitted it, so the ring is
// not single-issuer (that would tie submission to one thread); a submitter that is
// running when its I/O completes is interrupted briefly to post the completion, and one
// that exits may have queued work cancelled (the scheduler resubmits it).
//
// DRAM registrations become fixed buffers (READ_FIXED/WRITE_FIXED skip per-I/O page
// pinning) and files become fixed files, both in sparse tables updated in place.
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "posix_engines.h"
#include "spin_wait.h"

namespace ferry::posix {
namespace {

constexpr unsigned kBufferSlots = 1024;
constexpr unsigned kFileSlots = 4096;
constexpr uint64_t kMaxFixedBuffer = 1ull << 30;  // the kernel's limit per fixed buffer
constexpr uint64_t kKickTag = 1;                  // user_data of the kick eventfd's read
// Longest single wait inside Drive: keeps the kernel's now + timeout from overflowing.
constexpr std::chrono::hours kMaxSleep{1};
// While a poller keeps the completion signal off, how often the reaper looks, and how
// long after the last poll it turns the signal back on.
constexpr std::chrono::milliseconds kPark{1};

class UringEngine final : public IoEngine {
 public:
  UringEngine(IoSink* sink, bool register_buffers, std::chrono::nanoseconds spin)
      : sink_(sink), register_buffers_(register_buffers), spin_(spin) {}

  ~UringEngine() override {
    if (reaper_.joinable()) {
      stopping_.store(true);
      Signal(notify_fd_);
      reaper_.join();
    }
    if (ring_ready_) io_uring_queue_exit(&ring_);
    if (notify_fd_ >= 0) close(notify_fd_);
    if (kick_fd_ >= 0) close(kick_fd_);
  }

  bool Init(unsigned queue_depth, std::string* error) {
    notify_fd_ = eventfd(0, EFD_CLOEXEC);
    kick_fd_ = eventfd(0, EFD_CLOEXEC);
    if (notify_fd_ < 0 || kick_fd_ < 0) {
      *error = std::string("eventfd: ") + std::strerror(errno);
      return false;
    }
    *error = Setup(queue_depth);
    if (!error->empty()) return false;
    reaper_ = std::thread([this] { ReaperLoop(); });
    return true;
  }

  const char* name() const override { return "uring"; }

  void Submit(std::span<IoOp* const> ops) override {
    std::vector<IoResult> failed;
    {
      std::lock_guard lk(sq_mu_);
      std::vector<IoOp*> queued;
      queued.reserve(ops.size());
      for (IoOp* op : ops) {
        if (broken_.load() != 0) {
          failed.push_back({op, -broken_.load()});
          continue;
        }
        if (op->req->cancelled.load(std::memory_order_relaxed)) {
          failed.push_back({op, -ECANCELED});
          continue;
        }
        io_uring_sqe* sqe = GetSqeLocked();
        if (!sqe) {
          failed.push_back({op, -EBUSY});
          continue;
        }
        Prep(sqe, op);
        queued.push_back(op);
      }
      prepped_.fetch_add(1, std::memory_order_release);
      if (!queued.empty() && SubmitLocked() != 0) {
        // The kernel refused the ring (not a transient shortage). The SQEs it did not take
        // are this call's last ones: fail those ops now, and never enter the ring again,
        // so they cannot run later and complete twice.
        const size_t left = std::min<size_t>(io_uring_sq_ready(&ring_), queued.size());
        for (size_t i = queued.size() - left; i < queued.size(); ++i)
          failed.push_back({queued[i], -broken_.load()});
      }
    }
    if (!failed.empty()) sink_->OnResults(failed);
  }

  bool Drive(std::chrono::steady_clock::time_point deadline,
             const std::function<bool()>& done) override {
    // A broken ring cannot re-arm the kick read: a waiter sleeps on its own condition.
    if (!timed_waits_ || broken_.load() != 0) return false;
    std::unique_lock lk(cq_mu_, std::try_to_lock);
    if (!lk.owns_lock()) return false;  // the reaper or another waiter is at it
    io_uring_cq_eventfd_toggle(&ring_, false);
    bool ok = true;
    for (;;) {
      // `done` is asked only after the lock is held: anything delivered before (by the
      // reaper, or kicked to it) is seen here, anything after wakes this wait.
      Reap();
      if (done()) break;
      if (SpinUntil(spin_, deadline, [this] { return io_uring_cq_ready(&ring_) > 0; })) continue;
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds::zero()) break;
      __kernel_timespec ts = ToTimespec(std::min<std::chrono::nanoseconds>(left, kMaxSleep));
      io_uring_getevents_arg arg{};
      arg.ts = reinterpret_cast<uint64_t>(&ts);
      int rc = io_uring_enter2(ring_.ring_fd, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
                               reinterpret_cast<sigset_t*>(&arg), sizeof arg);
      if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EAGAIN && rc != -EBUSY) {
        ok = false;  // the caller sleeps instead, and the reaper delivers
        break;
      }
    }
    // From here on completions signal the reaper again; collect what came in before. The
    // fence orders the flag store before the tail load, as the kernel orders its tail
    // store before its flag load: one of the two sides sees the other. (Leaving the
    // signal off until a timer hands the ring back saved few wake-ups here and made a
    // waiter that lost the race to drive wait for that timer.)
    io_uring_cq_eventfd_toggle(&ring_, !polled_.load());  // a poller keeps it off
    FullFence();
    Reap();
    return ok;
  }

  void Kick() override { Signal(kick_fd_); }

  // The completion ring is shared memory: a poller reaps it without entering the kernel.
  // Whoever holds cq_mu_ (the reaper, a driver) is reaping already. Like a driver, a
  // poller turns the completion signal off, so that what it takes does not also wake the
  // reaper; the reaper, woken once to notice, then looks every kPark and turns the signal
  // back on when nobody polled for that long.
  void Poll() override {
    last_poll_ns_.store(SteadyNowNs(), std::memory_order_relaxed);
    std::unique_lock lk(cq_mu_, std::try_to_lock);
    if (!lk.owns_lock()) return;
    if (!polled_.load(std::memory_order_relaxed)) {
      polled_.store(true);
      io_uring_cq_eventfd_toggle(&ring_, false);
      Signal(notify_fd_);  // the reaper may sleep without a timeout: make it look
    }
    if (io_uring_cq_ready(&ring_) > 0)
      Reap();
    else
      CpuRelax();
  }

  int RegisterBuffer(uint64_t addr, uint64_t len) override {
    if (!fixed_buffers_ || len > kMaxFixedBuffer) return -1;
    std::lock_guard lk(reg_mu_);
    for (unsigned i = 0; i < buffer_slots_.size(); ++i) {
      if (buffer_slots_[i]) continue;
      iovec iov{reinterpret_cast<void*>(addr), len};
      __u64 tag = 0;
      if (io_uring_register_buffers_update_tag(&ring_, i, &iov, &tag, 1) != 1) return -1;
      buffer_slots_[i] = true;
      return int(i);
    }
    return -1;
  }

  void UnregisterBuffer(int index) override {
    if (index < 0) return;
    std::lock_guard lk(reg_mu_);
    iovec iov{nullptr, 0};
    __u64 tag = 0;
    io_uring_register_buffers_update_tag(&ring_, unsigned(index), &iov, &tag, 1);
    buffer_slots_[index] = false;
  }

  int RegisterFile(int fd) override {
    if (!fixed_files_) return -1;
    std::lock_guard lk(reg_mu_);
    for (unsigned i = 0; i < file_slots_.size(); ++i) {
      if (file_slots_[i]) continue;
      if (io_uring_register_files_update(&ring_, i, &fd, 1) != 1) return -1;
      file_slots_[i] = true;
      return int(i);
    }
    return -1;
  }

  void UnregisterFile(int index) override {
    if (index < 0) return;
    std::lock_guard lk(reg_mu_);
    int none = -1;
    io_uring_register_files_update(&ring_, unsigned(index), &none, 1);
    file_slots_[index] = false;
  }

 private:
  // A full barrier (store-load order), as io_uring_smp_mb(), in a form ThreadSanitizer
  // understands: a locked read-modify-write.
  void FullFence() { fence_word_.fetch_add(0, std::memory_order_seq_cst); }

  static void Signal(int fd) {
    uint64_t one = 1;
    (void)!write(fd, &one, sizeof one);
  }

  static __kernel_timespec ToTimespec(std::chrono::nanoseconds d) {
    __kernel_timespec ts{};
    ts.tv_sec = d.count() / 1000000000;
    ts.tv_nsec = d.count() % 1000000000;
    return ts;
  }

  std::string Setup(unsigned queue_depth) {
    // Room for every op in flight and the kick read; CQ twice as large. SUBMIT_ALL (5.18)
    // keeps submitting past an SQE that fails at once; older kernels refuse it (EINVAL).
    int rc = -EINVAL;
    for (unsigned flags :
         {IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL, unsigned{IORING_SETUP_CQSIZE}}) {
      io_uring_params p{};
      p.flags = flags;
      p.cq_entries = 2 * (queue_depth + 1);
      rc = io_uring_queue_init_params(queue_depth + 1, &ring_, &p);
      timed_waits_ = (p.features & IORING_FEAT_EXT_ARG) != 0;
      if (rc != -EINVAL) break;
    }
    if (rc < 0) return std::string("io_uring_queue_init: ") + std::strerror(-rc);
    ring_ready_ = true;
    // A NOP round trip proves the ring works here (seccomp or io_uring_disabled can let
    // setup succeed and still refuse submissions).
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, 0);
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0 || io_uring_peek_cqe(&ring_, &cqe) < 0 || !cqe)
      return std::string("io_uring NOP probe failed: ") + std::strerror(rc < 0 ? -rc : EIO);
    io_uring_cqe_seen(&ring_, cqe);
    rc = io_uring_register_eventfd(&ring_, notify_fd_);
    if (rc < 0) return std::string("io_uring_register_eventfd: ") + std::strerror(-rc);
    if (register_buffers_ && io_uring_register_buffers_sparse(&ring_, kBufferSlots) == 0) {
      buffer_slots_.assign(kBufferSlots, false);
      fixed_buffers_ = true;
    }
    if (io_uring_register_files_sparse(&ring_, kFileSlots) == 0) {
      file_slots_.assign(kFileSlots, false);
      fixed_files_ = true;
    }
    std::lock_guard lk(sq_mu_);
    ArmKickLocked();
    (void)SubmitLocked();
    return {};
  }

  // The scheduler keeps ops within the ring, so an SQE is always free; flush and retry
  // anyway rather than trust that.
  io_uring_sqe* GetSqeLocked() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
      (void)SubmitLocked();
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  // Until the kernel took every SQE. EAGAIN/EBUSY (short of memory, or of completion room)
  // pass: retry, yielding, then sleeping. Any other error marks the ring broken (broken_,
  // the errno): returned, and every later Submit fails at once.
  int SubmitLocked() {
    if (broken_.load() != 0) return broken_.load();
    for (int tries = 0; io_uring_sq_ready(&ring_) > 0; ++tries) {
      int rc = io_uring_submit(&ring_);
      if (rc > 0) continue;
      if (rc == 0) rc = -EIO;  // nothing taken and no reason: do not spin
      if (rc != -EAGAIN && rc != -EBUSY && rc != -EINTR) {
        broken_.store(-rc);
        return -rc;
      }
      if (tries < 100)
        std::this_thread::yield();
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return 0;
  }

  void ArmKickLocked() {
    io_uring_sqe* sqe = GetSqeLocked();  // the ring has a slot for it
    if (!sqe) return;
    io_uring_prep_read(sqe, kick_fd_, &kick_buf_, sizeof kick_buf_, 0);
    io_uring_sqe_set_data64(sqe, kKickTag);
  }

  void Prep(io_uring_sqe* sqe, IoOp* op) {
    void* buf = reinterpret_cast<void*>(op->buf + op->done);
    const unsigned len = op->len - op->done;
    const uint64_t off = op->off + op->done;
    const bool fixed_file = FileOf(*op).fixed_index >= 0;
    const int fd = fixed_file ? FileOf(*op).fixed_index : FileOf(*op).fd;
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

  // Collects every completion in the ring and delivers the I/O results. Caller holds
  // cq_mu_.
  void Reap() {
    unsigned head, seen = 0;
    io_uring_cqe* cqe;
    bool rearm = false;
    done_.clear();
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      if (cqe->user_data == kKickTag)
        rearm = true;
      else if (cqe->user_data != 0)
        done_.push_back({static_cast<IoOp*>(io_uring_cqe_get_data(cqe)), cqe->res});
    }
    io_uring_cq_advance(&ring_, seen);
    if (rearm) {
      std::lock_guard lk(sq_mu_);
      ArmKickLocked();
      (void)SubmitLocked();
    }
    if (done_.empty()) return;
    // The kernel orders a submission before its completion, seen above; this pair makes
    // that visible to ThreadSanitizer (which cannot see into the kernel) for the ops.
    (void)prepped_.load(std::memory_order_acquire);
    sink_->OnResults(done_);  // may Submit more, on this thread
  }

  void ReaperLoop() {
    for (;;) {
      // Looked at before sleeping too: the destructor's signal shares notify_fd_ with the
      // ring's, so the read below may consume it after the check that follows the poll.
      if (stopping_.load()) return;
      // While a poller has the signal off, look every kPark instead of waiting for it.
      pollfd pfd{notify_fd_, POLLIN, 0};
      if (poll(&pfd, 1, polled_.load() ? int(kPark.count()) : -1) < 0) continue;
      if (stopping_.load()) return;
      if (pfd.revents & POLLIN) {
        uint64_t count;
        (void)!read(notify_fd_, &count, sizeof count);
      }
      std::lock_guard lk(cq_mu_);  // a driver holding it reaps on its way out
      if (polled_.load() && SteadyNowNs() - last_poll_ns_.load(std::memory_order_relaxed) >=
                                std::chrono::nanoseconds(kPark).count()) {
        // Nobody polls any more: completions signal again; collect what came meanwhile.
        polled_.store(false);
        io_uring_cq_eventfd_toggle(&ring_, true);
        FullFence();
      }
      Reap();
    }
  }

  IoSink* sink_;
  const bool register_buffers_;
  io_uring ring_{};
  bool ring_ready_ = false;
  int notify_fd_ = -1;  // registered with the ring: signalled on completions
  int kick_fd_ = -1;    // a read of it is always armed in the ring: Kick() wakes a driver
  uint64_t kick_buf_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread reaper_;

  std::mutex sq_mu_;  // the submission side of the ring
  // errno of a hard submission failure; written under sq_mu_, read by Drive without it.
  std::atomic<int> broken_{0};
  std::atomic<uint64_t> prepped_{0};  // Submit -> Reap ordering, for ThreadSanitizer only

  std::mutex cq_mu_;  // the completion side: held by the reaper or the driving waiter
  // A poller turned the completion signal off (changed under cq_mu_), and when it last
  // polled.
  std::atomic<bool> polled_{false};
  std::atomic<int64_t> last_poll_ns_{0};
  std::vector<IoResult> done_;
  std::atomic<uint32_t> fence_word_{0};

  std::mutex reg_mu_;  // the slot tables below
  std::vector<bool> buffer_slots_;
  std::vector<bool> file_slots_;
  // Set by Setup, constant after: whether the kernel takes a timeout with a wait (5.11;
  // without it Drive declines), and whether the sparse tables exist.
  bool timed_waits_ = false;
  const std::chrono::nanoseconds spin_;  // Drive's spin before sleeping (0: none)
  bool fixed_buffers_ = false;
  bool fixed_files_ = false;
};

}  // namespace

std::unique_ptr<IoEngine> MakeUringEngine(IoSink* sink, unsigned queue_depth, bool register_buffers,
                                          std::chrono::nanoseconds spin, std::string* error) {
  auto e = std::make_unique<UringEngine>(sink, register_buffers, spin);
  if (!e->Init(queue_depth, error)) return nullptr;
  return e;
}

}  // namespace ferry::posix
