#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "agent_impl.h"
#include "deadline.h"
#include "transfer_state.h"

namespace ferry {

const char* XferOpName(XferOp op) {
  return op == XferOp::kRead ? "READ" : "WRITE";
}

namespace {
Status ReleasedError() {
  return {Code::kReleased, "transfer was released"};
}
}  // namespace

TransferState::TransferState(XferOp op, std::shared_ptr<BackendEntry> backend,
                             std::unique_ptr<BackendRequest> request,
                             std::vector<std::shared_ptr<const PreppedList>> holds, uint64_t bytes,
                             uint32_t descriptors, std::shared_ptr<CompletionQueue> queue,
                             uint64_t tag)
    : op_(op),
      backend_(std::move(backend)),
      request_(std::move(request)),
      holds_(std::move(holds)),
      queue_(std::move(queue)),
      tag_(tag) {
  telemetry_.bytes = bytes;
  telemetry_.descriptors = descriptors;
}

TransferState::~TransferState() {
  (void)Release();
}

Status TransferState::Post() {
  std::lock_guard op_lk(op_mu_);
  const auto start = std::chrono::steady_clock::now();
  {
    std::lock_guard lk(mu_);
    if (phase_ == Phase::kReleased) return ReleasedError();
    if (phase_ == Phase::kInFlight)
      return {Code::kBusy, "transfer is still in flight: wait for it before reposting"};
    phase_ = Phase::kInFlight;
    result_ = Status::InProgress();
    started_ = start;
    telemetry_.posts++;
    telemetry_.transfer_time = {};
    if (event_fd_ >= 0) {
      uint64_t v;
      while (read(event_fd_, &v, sizeof v) > 0) {
      }  // drain: readable again only when this post completes
    }
  }
  if (queue_) queue_->Expect(backend_);
  Status s = backend_->backend->Post(request_.get(), this);
  std::lock_guard lk(mu_);
  telemetry_.post_time = std::chrono::steady_clock::now() - start;
  if (!s.ok()) {
    if (queue_) queue_->Unexpect(backend_.get());
    // The backend did not take the request: it never completes, so finish it here.
    phase_ = Phase::kDone;
    result_ = s;
    cv_.notify_all();
    if (event_fd_ >= 0) {
      uint64_t one = 1;
      (void)!write(event_fd_, &one, sizeof one);
    }
  }
  return s;
}

void TransferState::Complete(Status status) {
  std::lock_guard lk(mu_);
  phase_ = Phase::kDone;
  result_ = std::move(status);
  telemetry_.transfer_time = std::chrono::steady_clock::now() - started_;
  if (event_fd_ >= 0) {
    uint64_t one = 1;
    (void)!write(event_fd_, &one, sizeof one);
  }
  // Under mu_, so the tag is visible only together with the finished state (the queue
  // never takes a transfer's lock: no ordering problem).
  if (queue_) queue_->Push(tag_, backend_.get());
  cv_.notify_all();
  // A waiter driving the backend sleeps there, not in cv_: wake it, unless this
  // completion is its own doing.
  if (driver_ != std::thread::id{} && driver_ != std::this_thread::get_id())
    backend_->backend->Kick();
}

Status TransferState::CheckLocked() const {
  switch (phase_) {
    case Phase::kNew:
      return {Code::kBusy, "transfer has not been posted"};
    case Phase::kInFlight:
      return Status::InProgress();
    case Phase::kDone:
      return result_;
    case Phase::kReleased:
      return ReleasedError();
  }
  return Internal("bad transfer phase");
}

Status TransferState::Check() const {
  {
    std::lock_guard lk(mu_);
    if (phase_ != Phase::kInFlight) return CheckLocked();
  }
  // Still in flight: collect what the backend has finished (it may be this transfer's
  // completion, delivered into Complete, which takes mu_: not held here).
  backend_->backend->Poll();
  std::lock_guard lk(mu_);
  return CheckLocked();
}

Status TransferState::Wait(std::chrono::nanoseconds timeout) {
  const auto deadline = DeadlineAfter(timeout);
  std::unique_lock lk(mu_);
  while (phase_ == Phase::kInFlight) {
    if (std::chrono::steady_clock::now() >= deadline)
      return {Code::kTimedOut, "transfer did not complete within the timeout"};
    // Collect the backend's completions on this thread rather than sleep until its
    // thread wakes us (Backend::Drive); one waiter drives, others sleep.
    if (driver_ == std::thread::id{}) {
      driver_ = std::this_thread::get_id();
      lk.unlock();
      const bool drove = backend_->backend->Drive(deadline, [this] {
        std::lock_guard g(mu_);
        return phase_ != Phase::kInFlight;
      });
      lk.lock();
      driver_ = {};
      if (drove) continue;
    }
    cv_.wait_until(lk, deadline, [&] { return phase_ != Phase::kInFlight; });
  }
  return CheckLocked();
}

Status TransferState::CompletionFd(int* fd) {
  std::lock_guard lk(mu_);
  if (phase_ == Phase::kReleased) return ReleasedError();
  if (event_fd_ < 0) {
    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd_ < 0) return ErrnoStatus(errno, "eventfd");
    if (phase_ == Phase::kDone) {
      uint64_t one = 1;
      (void)!write(event_fd_, &one, sizeof one);
    }
  }
  *fd = event_fd_;
  return Status::Ok();
}

Status TransferState::Cancel() {
  std::lock_guard op_lk(op_mu_);
  {
    std::lock_guard lk(mu_);
    if (phase_ == Phase::kReleased) return ReleasedError();
    if (phase_ != Phase::kInFlight) return Status::Ok();
  }
  backend_->backend->Cancel(request_.get());
  return Status::Ok();
}

Status TransferState::Release() {
  std::lock_guard op_lk(op_mu_);
  std::unique_lock lk(mu_);
  if (phase_ == Phase::kReleased) return Status::Ok();
  if (phase_ == Phase::kInFlight) {
    lk.unlock();
    backend_->backend->Cancel(request_.get());
    lk.lock();
    // The backend may still be writing into the caller's buffers: wait for it to let go.
    cv_.wait(lk, [&] { return phase_ != Phase::kInFlight; });
  }
  phase_ = Phase::kReleased;
  if (event_fd_ >= 0) close(event_fd_);
  event_fd_ = -1;
  lk.unlock();
  request_.reset();
  holds_.clear();
  return Status::Ok();
}

TransferTelemetry TransferState::telemetry() const {
  std::lock_guard lk(mu_);
  return telemetry_;
}

Transfer::Transfer(std::shared_ptr<TransferState> state) : state_(std::move(state)) {}
Transfer::~Transfer() {
  (void)state_->Release();
}
Status Transfer::Post() {
  return state_->Post();
}
Status Transfer::Check() const {
  return state_->Check();
}
Status Transfer::Wait(std::chrono::nanoseconds timeout) {
  return state_->Wait(timeout);
}
Status Transfer::CompletionFd(int* fd) {
  return state_->CompletionFd(fd);
}
Status Transfer::Cancel() {
  return state_->Cancel();
}
Status Transfer::Release() {
  return state_->Release();
}
TransferTelemetry Transfer::telemetry() const {
  return state_->telemetry();
}
XferOp Transfer::op() const {
  return state_->op();
}
BackendId Transfer::backend() const {
  return state_->backend();
}

}  // namespace ferry
