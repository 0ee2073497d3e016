// libaio engine, driven by whoever waits (as the io_uring engine is).
//
// io_submit from any thread. Finished I/O is collected by one thread at a time, whoever
// holds reap_mu_:
//  - a thread waiting for a transfer (Drive) sleeps in io_getevents itself and delivers what
//    it finds: the submitting thread then also reaps, with no hand-off to another thread
//    (on tmpfs, where libaio completes the I/O inside io_submit, the waiter finds it at
//    once);
//  - a thread polling a transfer (Poll, from Transfer::Check) takes what the ring holds,
//    in user space, when no other thread is at it;
//  - otherwise the reaper thread: every iocb signals an eventfd, and the reaper sleeps on it,
//    except while waiters drive (and for a millisecond after): then it is parked, watching
//    only its stop fd and looking again every millisecond, so that a completion's signal
//    wakes no second thread (that wake-up cost 3-5 us per request on a disk).
//    A reaper woken while a waiter drives leaves the completions to it (a waiter never
//    waits for the reaper to let go of the lock just because a completion woke both) and
//    marks that it did; the waiter then reaps once more as it stops driving.
// Kick wakes a driving waiter through an armed IOCB_CMD_POLL on a second eventfd (Linux
// 4.18); where the kernel refuses that poll, Drive declines and waiters sleep as before.
// A third eventfd stops the reaper. A pool of iocbs sized to the queue depth lives here; the
// scheduler never has more ops in flight than that.
#include <libaio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "posix_engines.h"
#include "spin_wait.h"

namespace ferry::posix {
namespace {

// Longest single wait inside Drive.
constexpr std::chrono::seconds kMaxSleep{3600};
// How long after the last drive the reaper stays parked (not watching the eventfd), and
// how often it looks again meanwhile.
constexpr std::chrono::milliseconds kPark{1};

// The head of the completion ring the kernel maps at an io_context_t (the ABI fio's
// userspace reap and libaio read too): events are pending while head != tail; the
// io_event slots follow the header.
struct AioRingHeader {
  unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
};
constexpr unsigned kAioRingMagic = 0xa10a10a1;

class AioEngine final : public IoEngine {
 public:
  AioEngine(IoSink* sink, std::chrono::nanoseconds spin) : sink_(sink), spin_(spin) {}

  ~AioEngine() override {
    if (reaper_.joinable()) {
      uint64_t one = 1;
      (void)!write(stop_fd_, &one, sizeof one);
      reaper_.join();
    }
    if (ctx_) io_destroy(ctx_);
    for (int fd : {event_fd_, stop_fd_, kick_fd_})
      if (fd >= 0) close(fd);
  }

  bool Init(unsigned queue_depth, std::string* error) {
    int rc = io_setup(int(queue_depth) + 1, &ctx_);  // + the kick poll
    if (rc < 0) {
      ctx_ = nullptr;
      *error = std::string("io_setup: ") + std::strerror(-rc);
      return false;
    }
    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    kick_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd_ < 0 || stop_fd_ < 0 || kick_fd_ < 0) {
      *error = std::string("eventfd: ") + std::strerror(errno);
      return false;
    }
    iocbs_.resize(queue_depth);
    for (unsigned i = 0; i < queue_depth; ++i) free_.push_back(&iocbs_[i]);
    events_.resize(queue_depth + 1);
    {
      std::lock_guard lk(mu_);
      drivable_.store(ArmKickLocked());
    }
    reaper_ = std::thread([this] { ReaperLoop(); });
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

  bool Drive(std::chrono::steady_clock::time_point deadline,
             const std::function<bool()>& done) override {
    if (!drivable_.load()) return false;
    std::unique_lock lk(reap_mu_, std::try_to_lock);
    if (!lk.owns_lock()) return false;  // the reaper or another waiter is at it
    driving_.store(true);
    bool ok = true;
    for (;;) {
      // `done` is asked with reap_mu_ held: what was delivered before is seen here, what
      // completes after wakes the wait below (or a Kick does).
      if (EventsPending()) (void)ReapLocked(nullptr);
      if (done()) break;
      if (SpinUntil(spin_, deadline, [this] { return EventsPending(); })) continue;
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds::zero()) break;
      const auto wait = std::min<std::chrono::nanoseconds>(left, kMaxSleep);
      timespec ts{static_cast<time_t>(wait.count() / 1000000000),
                  static_cast<long>(wait.count() % 1000000000)};
      if (ReapLocked(&ts) < 0) {
        ok = false;  // the caller sleeps instead, and the reaper delivers
        break;
      }
    }
    last_drive_ns_.store(SteadyNowNs());
    driving_.store(false);
    lk.unlock();
    // The reaper was woken while we drove and left its completions to us: one of them may
    // have come in after our last reap. Collect it, unless someone else holds the lock
    // now (the reaper reaps then; another driver sees the mark again when it leaves).
    while (reaper_deferred_.exchange(false)) {
      if (!lk.try_lock()) {
        reaper_deferred_.store(true);
        break;
      }
      (void)ReapLocked(nullptr);
      lk.unlock();
    }
    return ok;
  }

  void Kick() override {
    uint64_t one = 1;
    (void)!write(kick_fd_, &one, sizeof one);
  }

  // Reaps the completion ring in user space when no other thread is at it. A poller
  // counts as a driver for the reaper: it stays parked, so a completion the poller takes
  // does not also wake it.
  void Poll() override {
    last_drive_ns_.store(SteadyNowNs(), std::memory_order_relaxed);
    std::unique_lock lk(reap_mu_, std::try_to_lock);
    if (lk.owns_lock() && EventsPending()) (void)ReapLocked(nullptr);
  }

 private:
  // Arms a poll of kick_fd_ in the context, so a Kick ends an io_getevents wait. Caller
  // holds mu_. False when the kernel has no IOCB_CMD_POLL.
  bool ArmKickLocked() {
    io_prep_poll(&kick_cb_, kick_fd_, POLLIN);
    io_set_eventfd(&kick_cb_, event_fd_);  // a kick nobody drives for is re-armed by the reaper
    kick_cb_.data = nullptr;
    iocb* cbs[1] = {&kick_cb_};
    return io_submit(ctx_, 1, cbs) == 1;
  }

  // Whether the kernel has completions for us, without a system call. True when the ring
  // cannot be read (then io_getevents answers).
  bool EventsPending() const {
    const auto* ring = reinterpret_cast<const AioRingHeader*>(ctx_);
    if (__atomic_load_n(&ring->magic, __ATOMIC_RELAXED) != kAioRingMagic) return true;
    return __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) !=
           __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
  }

  // Moves up to events_.size() finished events from the ring into events_ without a
  // system call, as io_getevents does in the kernel: read the tail, copy, publish the new
  // head (the kernel reads it back to reuse the slots). Caller holds reap_mu_, so no
  // io_getevents runs meanwhile. Returns -1 when the ring is not in the layout expected.
  int TakeFromRing() {
    auto* ring = reinterpret_cast<AioRingHeader*>(ctx_);
    if (__atomic_load_n(&ring->magic, __ATOMIC_RELAXED) != kAioRingMagic) return -1;
    const unsigned nr = ring->nr;
    unsigned head = __atomic_load_n(&ring->head, __ATOMIC_RELAXED);
    const unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
    if (head >= nr || tail >= nr) return -1;
    const auto* ring_events = reinterpret_cast<const io_event*>(ring + 1);
    int got = 0;
    while (head != tail && size_t(got) < events_.size()) {
      events_[size_t(got++)] = ring_events[head];
      head = head + 1 == nr ? 0 : head + 1;
    }
    if (got > 0) __atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
    return got;
  }

  // Collects finished I/O (waiting up to `timeout` for the first when it is not null) and
  // delivers it. Caller holds reap_mu_. Returns the events seen, or -errno when the wait
  // failed. Only a wait enters the kernel.
  int ReapLocked(timespec* timeout) {
    int total = 0;
    for (;;) {
      timespec zero{0, 0};
      const bool wait = timeout != nullptr && total == 0;
      int got = wait ? -1 : TakeFromRing();
      if (got < 0)
        got = io_getevents(ctx_, wait ? 1 : 0, long(events_.size()), events_.data(),
                           wait ? timeout : &zero);
      if (got == -EINTR) continue;
      if (got < 0) return got;
      if (got == 0) return total;
      total += got;
      results_.clear();
      bool rearm = false;
      {
        std::lock_guard lk(mu_);
        for (int i = 0; i < got; ++i) {
          if (events_[i].obj == &kick_cb_) {
            rearm = true;
            continue;
          }
          free_.push_back(events_[i].obj);
          results_.push_back({static_cast<IoOp*>(events_[i].data),
                              static_cast<int64_t>(static_cast<long>(events_[i].res))});
        }
        if (rearm) {
          uint64_t n;
          (void)!read(kick_fd_, &n, sizeof n);
          if (!ArmKickLocked()) drivable_.store(false);
        }
      }
      if (!results_.empty()) sink_->OnResults(results_);  // may Submit more, on this thread
      if (timeout != nullptr && rearm && results_.empty()) return total;  // kicked
      if (size_t(got) < events_.size()) return total;  // drained: no second system call
    }
  }

  void ReaperLoop() {
    for (;;) {
      // Parked while waiters drive (and for kPark after): it watches only the stop fd, so
      // a completion's eventfd signal wakes no thread but the driving one. A request that
      // completes with nobody driving is delivered at most kPark after the last drive.
      const bool parked =
          driving_.load() || SteadyNowNs() - last_drive_ns_.load() < kPark.count() * 1000000;
      pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {event_fd_, POLLIN, 0}};
      if (poll(fds, parked ? 1 : 2, parked ? int(kPark.count()) : -1) < 0) continue;
      if (fds[0].revents & POLLIN) return;
      if (parked || !(fds[1].revents & POLLIN)) continue;
      uint64_t n;
      (void)!read(event_fd_, &n, sizeof n);
      // Reaped already (by a driving waiter, most often): nothing to take the lock for, so
      // the waiter's next Drive does not find it held.
      if (!EventsPending()) continue;
      // A driving waiter delivers these itself. Mark them as left to it, then look again:
      // either the lock is free now (reap here), or a driver holds it and sees the mark
      // once it lets go (and reaps again), so nothing is left unreaped.
      std::unique_lock lk(reap_mu_, std::try_to_lock);
      if (!lk.owns_lock()) {
        reaper_deferred_.store(true);
        if (!lk.try_lock()) continue;
        reaper_deferred_.store(false);
      }
      (void)ReapLocked(nullptr);
    }
  }

  IoSink* sink_;
  const std::chrono::nanoseconds spin_;  // Drive's spin before sleeping (0: none)
  io_context_t ctx_ = nullptr;
  int event_fd_ = -1;  // every iocb signals it: wakes the reaper
  int stop_fd_ = -1;
  int kick_fd_ = -1;  // polled by kick_cb_: Kick() ends a driver's wait
  std::mutex mu_;     // the iocb pool, submission, the kick poll
  std::vector<iocb> iocbs_;
  std::vector<iocb*> free_;
  iocb kick_cb_{};
  std::atomic<bool> drivable_{false};  // the kernel took the kick poll
  std::mutex reap_mu_;  // the completion side: held by the reaper or the driving waiter
  std::atomic<bool> reaper_deferred_{false};  // the reaper was woken while a waiter drove
  std::atomic<bool> driving_{false};          // a waiter is in Drive
  std::atomic<int64_t> last_drive_ns_{0};     // steady clock when the last Drive ended
  std::vector<io_event> events_;              // reap_mu_
  std::vector<IoResult> results_;             // reap_mu_
  std::thread reaper_;
};

}  // namespace

std::unique_ptr<IoEngine> MakeAioEngine(IoSink* sink, unsigned queue_depth,
                                        std::chrono::nanoseconds spin, std::string* error) {
  auto e = std::make_unique<AioEngine>(sink, spin);
  if (!e->Init(queue_depth, error)) return nullptr;
  return e;
}

}  // namespace ferry::posix
