#include "ferry/completion_queue.h"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "backend_entry.h"
#include "deadline.h"

namespace ferry {

struct CompletionQueue::Impl {
  // A backend with transfers in flight that report here.
  struct Source {
    std::shared_ptr<BackendEntry> backend;
    size_t inflight;
  };

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<uint64_t> tags;
  size_t waiters = 0;  // sleeping in cv
  std::vector<Source> sources;
  // The Wait that is driving a backend, if any (at most one at a time per queue).
  std::thread::id driver;
  BackendEntry* driving = nullptr;

  size_t TakeLocked(std::vector<uint64_t>* out, size_t max) {
    size_t n = 0;
    while (n < max && !tags.empty()) {
      out->push_back(tags.front());
      tags.pop_front();
      ++n;
    }
    return n;
  }

  std::vector<Source>::iterator FindLocked(const BackendEntry* backend) {
    return std::find_if(sources.begin(), sources.end(),
                        [&](const Source& s) { return s.backend.get() == backend; });
  }

  void DropLocked(const BackendEntry* backend) {
    auto it = FindLocked(backend);
    if (it != sources.end() && --it->inflight == 0) sources.erase(it);
  }
};

std::shared_ptr<CompletionQueue> CompletionQueue::Create() {
  return std::shared_ptr<CompletionQueue>(new CompletionQueue());
}

CompletionQueue::CompletionQueue() : impl_(std::make_unique<Impl>()) {}
CompletionQueue::~CompletionQueue() = default;

void CompletionQueue::Expect(const std::shared_ptr<BackendEntry>& backend) {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->FindLocked(backend.get());
  if (it != impl_->sources.end())
    ++it->inflight;
  else
    impl_->sources.push_back({backend, 1});
}

void CompletionQueue::Unexpect(const BackendEntry* backend) {
  std::lock_guard lk(impl_->mu);
  impl_->DropLocked(backend);
}

void CompletionQueue::Push(uint64_t tag, const BackendEntry* backend) {
  std::lock_guard lk(impl_->mu);
  impl_->tags.push_back(tag);
  impl_->DropLocked(backend);
  // Only a sleeping waiter costs a wake-up; a consumer that is busy finds the tag later.
  if (impl_->waiters > 0) impl_->cv.notify_one();
  // A waiter driving a backend sleeps in that backend, not in cv: wake it there, unless
  // this completion is its own doing.
  if (impl_->driving != nullptr && impl_->driver != std::this_thread::get_id())
    impl_->driving->backend->Kick();
}

size_t CompletionQueue::Wait(std::vector<uint64_t>* out, std::chrono::nanoseconds timeout,
                             size_t max) {
  if (max == 0) return 0;
  const auto deadline = DeadlineAfter(timeout);
  std::unique_lock lk(impl_->mu);
  while (impl_->tags.empty() && std::chrono::steady_clock::now() < deadline) {
    // Drive when every transfer in flight here belongs to one backend, and no other
    // waiter already does.
    if (impl_->sources.size() == 1 && impl_->driving == nullptr) {
      std::shared_ptr<BackendEntry> backend = impl_->sources.front().backend;
      impl_->driver = std::this_thread::get_id();
      impl_->driving = backend.get();
      lk.unlock();
      const bool drove = backend->backend->Drive(deadline, [this] {
        std::lock_guard g(impl_->mu);
        return !impl_->tags.empty();
      });
      // Stop advertising the backend before letting go of it: a Push on another thread
      // reads `driving` under mu, and this may be the backend's last reference.
      lk.lock();
      impl_->driver = {};
      impl_->driving = nullptr;
      lk.unlock();
      backend.reset();  // not under mu: destroying a backend may join its threads
      lk.lock();
      if (drove) continue;
    }
    ++impl_->waiters;
    impl_->cv.wait_until(lk, deadline, [&] { return !impl_->tags.empty(); });
    --impl_->waiters;
  }
  const size_t n = impl_->TakeLocked(out, max);
  // Tags left over (max reached) may be another waiter's to take.
  if (!impl_->tags.empty() && impl_->waiters > 0) impl_->cv.notify_one();
  return n;
}

size_t CompletionQueue::Poll(std::vector<uint64_t>* out, size_t max) {
  std::unique_lock lk(impl_->mu);
  if (impl_->tags.empty() && !impl_->sources.empty()) {
    // Nothing here yet: collect what the backends of the transfers in flight have
    // finished (Backend::Poll), without the lock, which their completions take.
    constexpr size_t kMaxPolled = 4;
    std::array<std::shared_ptr<BackendEntry>, kMaxPolled> polled;
    const size_t n = std::min(kMaxPolled, impl_->sources.size());
    for (size_t i = 0; i < n; ++i) polled[i] = impl_->sources[i].backend;
    lk.unlock();
    for (size_t i = 0; i < n; ++i) polled[i]->backend->Poll();
    for (size_t i = 0; i < n; ++i) polled[i].reset();  // not under mu (see Wait)
    lk.lock();
  }
  return impl_->TakeLocked(out, max);
}

size_t CompletionQueue::size() const {
  std::lock_guard lk(impl_->mu);
  return impl_->tags.size();
}

}  // namespace ferry
