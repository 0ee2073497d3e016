// Transfer: one READ or WRITE between a local descriptor list and a target list.
//
// Lifecycle: Agent::CreateTransfer / MakeTransfer -> Post -> (Check | Wait | CompletionFd)
// -> Post again (repost) ... -> Release (or destroy). Everything is submitted at Post;
// completion never depends on the caller polling: backends complete requests on their own
// threads, or on a thread blocked in Wait, which may collect finished I/O itself
// (Backend::Drive). A full backend queue delays I/O (backpressure); it is never an error.
//
// Ownership: the caller owns the Transfer (std::unique_ptr). Destroying it releases it:
// an in-flight transfer is cancelled and the destructor waits for the backend to let go
// of the buffers. A Transfer keeps its agent's internals alive, so it may outlive the
// Agent object. The caller keeps local buffers valid until the transfer completes.
//
// Thread safety: every method may be called from any thread, concurrently with the
// others (Wait in one thread, Cancel in another, Check in a third).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "ferry/params.h"
#include "ferry/status.h"

namespace ferry {

// READ copies target -> local; WRITE copies local -> target.
enum class XferOp : uint8_t { kRead, kWrite };
const char* XferOpName(XferOp op);

// Per-transfer arguments for the backend that moves it (NIXL's opt_args): a CUDA stream to
// order GPU copies on, and backend-specific parameters. Each backend's README says which it
// reads; a backend refuses a parameter it does not know, naming it.
struct XferArgs {
  void* stream = nullptr;  // e.g. a cudaStream_t; null = the backend's own
  Params params;
};

struct BackendId {
  uint32_t value = 0;  // 0 = none
  bool valid() const { return value != 0; }
  friend bool operator==(BackendId a, BackendId b) { return a.value == b.value; }
};

// Per-request telemetry, for the most recent post.
struct TransferTelemetry {
  uint64_t bytes = 0;                         // payload bytes of one post
  uint32_t descriptors = 0;                   // descriptor pairs
  uint64_t posts = 0;                         // times posted so far
  std::chrono::nanoseconds post_time{0};      // time spent inside Post()
  std::chrono::nanoseconds transfer_time{0};  // Post() start -> completion (0 while in flight)
};

class TransferState;  // private

class Transfer {
 public:
  ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  // Submits every descriptor. OK means submitted (it may even have completed already);
  // the outcome comes from Check/Wait. kBusy if still in flight; kReleased after Release.
  Status Post();

  // Non-blocking: kOk when the last post completed, kInProgress while in flight, kCancelled,
  // or the I/O error. Before the first post: kBusy ("not posted"). While in flight it
  // first collects whatever the backend has already finished (Backend::Poll; for POSIX a
  // read of the completion ring, no system call), so a caller that spins on Check sees a
  // completion without waiting for a backend thread to wake.
  Status Check() const;

  // Blocks until completion or `timeout`; returns Check()'s result, or kTimedOut.
  Status Wait(std::chrono::nanoseconds timeout);

  // An eventfd that becomes readable when the current post completes and stays readable
  // until the next Post. Owned by the Transfer: do not close it. Valid until Release.
  Status CompletionFd(int* fd);

  // Asks the backend to stop. I/O already in the kernel may still finish; the transfer
  // completes with kCancelled (or kOk if everything had finished). No-op when not in flight.
  Status Cancel();

  // Cancels if in flight, waits for the backend to finish with the buffers, frees
  // backend state. Every later call returns kReleased. Idempotent.
  Status Release();

  TransferTelemetry telemetry() const;
  XferOp op() const;
  BackendId backend() const;  // the backend chosen at creation

 private:
  friend class AgentImpl;
  explicit Transfer(std::shared_ptr<TransferState> state);
  std::shared_ptr<TransferState> state_;
};

}  // namespace ferry
