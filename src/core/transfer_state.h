// The state behind a Transfer handle. It is the backend's CompletionSink, so the backend
// reports completion straight into it, from whatever thread finished the last I/O.
//
// Two locks: op_mu_ serialises Post/Cancel/Release on one transfer (the backend contract
// promises that); mu_ guards the phase and result and is the only lock Complete() takes,
// so a backend may complete from inside Post or Cancel without deadlock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "backend_entry.h"
#include "ferry/completion_queue.h"
#include "ferry/transfer.h"
#include "registry.h"

namespace ferry {
class PreppedList;
}

namespace ferry {

class TransferState final : public CompletionSink {
 public:
  TransferState(XferOp op, std::shared_ptr<BackendEntry> backend,
                std::unique_ptr<BackendRequest> request,
                std::vector<std::shared_ptr<const PreppedList>> holds, uint64_t bytes,
                uint32_t descriptors, std::shared_ptr<CompletionQueue> queue, uint64_t tag);
  ~TransferState();

  Status Post();
  Status Check() const;
  Status Wait(std::chrono::nanoseconds timeout);
  Status CompletionFd(int* fd);
  Status Cancel();
  Status Release();
  TransferTelemetry telemetry() const;
  XferOp op() const { return op_; }
  BackendId backend() const { return backend_->id; }

  void Complete(Status status) override;

 private:
  enum class Phase { kNew, kInFlight, kDone, kReleased };
  Status CheckLocked() const;

  const XferOp op_;
  std::shared_ptr<BackendEntry> backend_;
  std::unique_ptr<BackendRequest> request_;
  std::vector<std::shared_ptr<const PreppedList>> holds_;

  std::mutex op_mu_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Phase phase_ = Phase::kNew;
  Status result_;
  int event_fd_ = -1;
  std::thread::id driver_;  // a Wait driving the backend (Backend::Drive), if any
  const std::shared_ptr<CompletionQueue> queue_;  // may be null
  const uint64_t tag_;
  TransferTelemetry telemetry_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace ferry
