// CompletionQueue: where many transfers report that they finished, so one thread can sleep
// until any of them does (as fio reaps, or a UCX worker waits) instead of waiting on one
// transfer at a time. Waiting on the oldest of many idles the others' slots whenever
// completions come out of order, as random reads do.
//
// Attach a queue with XferOptions::completion_queue and XferOptions::tag when making the
// transfer. Each successful Post of that transfer then puts its tag on the queue exactly
// once, at completion (OK, error or cancelled), atomically with the state that Check()
// reports: a tag taken from the queue means Check() no longer says kInProgress for that
// post. A Post that fails puts nothing there.
//
// Ownership: shared; every attached transfer holds a reference. Thread safety: transfers
// complete into it from any thread; Wait and Poll may be called from several threads at
// once, and each tag goes to exactly one caller.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ferry {

struct BackendEntry;

class CompletionQueue {
 public:
  static std::shared_ptr<CompletionQueue> Create();
  ~CompletionQueue();
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;

  // Appends to `out` the tags of up to `max` completed transfers, in completion order;
  // blocks until there is at least one or `timeout` passed. Returns how many it appended
  // (0 on timeout).
  size_t Wait(std::vector<uint64_t>* out, std::chrono::nanoseconds timeout, size_t max = SIZE_MAX);

  // The same without blocking; when no tag is waiting it first collects what the
  // backends of the transfers in flight have finished (Backend::Poll).
  size_t Poll(std::vector<uint64_t>* out, size_t max = SIZE_MAX);

  // Tags waiting to be taken.
  size_t size() const;

 private:
  friend class TransferState;
  struct Impl;
  CompletionQueue();
  // A transfer of `backend` that reports here is about to be posted; Push or Unexpect
  // follows. While all such transfers in flight belong to one backend, Wait drives it
  // (Backend::Drive) instead of sleeping.
  void Expect(const std::shared_ptr<BackendEntry>& backend);
  void Unexpect(const BackendEntry* backend);  // the post failed
  void Push(uint64_t tag, const BackendEntry* backend);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry
