// The registered buffer cut into one-chunk pages, handed out to store/retrieve pipelines.
//
// A pipeline that already holds pages never blocks here (TryAcquire); it completes one of
// its own transfers instead. Only a pipeline holding nothing waits (Acquire). So no set
// of threads can each hold pages while waiting for the others' pages.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace ferry::kv {

class PagePool {
 public:
  explicit PagePool(uint32_t pages) {
    for (uint32_t p = pages; p-- > 0;) free_.push_back(p);
  }
  std::optional<uint32_t> TryAcquire() {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) return std::nullopt;
    uint32_t p = free_.back();
    free_.pop_back();
    return p;
  }
  uint32_t Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    uint32_t p = free_.back();
    free_.pop_back();
    return p;
  }
  void Release(uint32_t page) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      free_.push_back(page);
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint32_t> free_;
};

}  // namespace ferry::kv
