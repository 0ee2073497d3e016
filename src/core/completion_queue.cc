#include "ferry/completion_queue.h"

#include <condition_variable>
#include <deque>
#include <mutex>

namespace ferry {

struct CompletionQueue::Impl {
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<uint64_t> tags;
  size_t waiters = 0;

  size_t TakeLocked(std::vector<uint64_t>* out, size_t max) {
    size_t n = 0;
    while (n < max && !tags.empty()) {
      out->push_back(tags.front());
      tags.pop_front();
      ++n;
    }
    return n;
  }
};

std::shared_ptr<CompletionQueue> CompletionQueue::Create() {
  return std::shared_ptr<CompletionQueue>(new CompletionQueue());
}

CompletionQueue::CompletionQueue() : impl_(std::make_unique<Impl>()) {}
CompletionQueue::~CompletionQueue() = default;

void CompletionQueue::Push(uint64_t tag) {
  std::lock_guard lk(impl_->mu);
  impl_->tags.push_back(tag);
  // Only a sleeping waiter costs a wake-up; a consumer that is busy finds the tag later.
  if (impl_->waiters > 0) impl_->cv.notify_one();
}

size_t CompletionQueue::Wait(std::vector<uint64_t>* out, std::chrono::nanoseconds timeout,
                             size_t max) {
  if (max == 0) return 0;
  std::unique_lock lk(impl_->mu);
  if (impl_->tags.empty()) {
    ++impl_->waiters;
    impl_->cv.wait_for(lk, timeout, [&] { return !impl_->tags.empty(); });
    --impl_->waiters;
  }
  const size_t n = impl_->TakeLocked(out, max);
  // Tags left over (max reached) may be another waiter's to take.
  if (!impl_->tags.empty() && impl_->waiters > 0) impl_->cv.notify_one();
  return n;
}

size_t CompletionQueue::Poll(std::vector<uint64_t>* out, size_t max) {
  std::lock_guard lk(impl_->mu);
  return impl_->TakeLocked(out, max);
}

size_t CompletionQueue::size() const {
  std::lock_guard lk(impl_->mu);
  return impl_->tags.size();
}

}  // namespace ferry
