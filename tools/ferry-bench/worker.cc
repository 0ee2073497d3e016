#include "worker.h"

#include <memory>

namespace ferry_bench {
namespace {

// xorshift64*: a few cycles per number, so random offsets cost nothing next to an I/O.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(Mix(seed)) {}
  uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1DULL;
  }

 private:
  // splitmix64 finaliser: spreads nearby seeds (worker 0, 1, 2) far apart; never 0.
  static uint64_t Mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return x == 0 ? 1 : x;
  }
  uint64_t state_;
};

struct Slot {
  std::vector<uint32_t> local_idx;                      // fixed: this slot's DRAM region
  std::vector<uint32_t> target_idx;                     // rewritten per request in make mode
  std::unique_ptr<ferry::Transfer> owned;               // make mode: current request
  std::vector<std::unique_ptr<ferry::Transfer>> ready;  // repost mode: made before timing
  ferry::Transfer* current = nullptr;
  uint64_t issued = 0;  // requests this slot has posted
  uint64_t quota = 0;   // requests this slot must post
  bool busy = false;
  Clock::time_point posted{};
};

class Worker {
 public:
  Worker(const WorkerPlan& plan, WorkerResult* result)
      : p_(plan), r_(result), rng_(plan.seed * 1000003 + plan.worker_index) {}

  void Run() {
    bool ready = SetUp();
    p_.start->arrive_and_wait();
    if (!ready) return;
    for (Slot& slot : slots_) {
      if (!Post(slot)) break;
    }
    Loop();
    if (!r_->ok) Drain();
  }

 private:
  void Fail(std::string message) {
    if (r_->ok) {
      r_->ok = false;
      r_->error = std::move(message);
    }
    p_.abort->store(true, std::memory_order_relaxed);
  }

  // Target descriptors of global request `request`: consecutive blocks (wrapping over
  // the files) for sequential ops, uniform random blocks otherwise.
  void FillTargets(uint64_t request, std::vector<uint32_t>* idx) {
    for (uint32_t j = 0; j < p_.batch; ++j) {
      uint64_t block =
          p_.random ? rng_.Next() % p_.target_count : (request * p_.batch + j) % p_.target_count;
      (*idx)[j] = static_cast<uint32_t>(block);
    }
  }

  // Global request number of a slot's k-th request.
  uint64_t RequestOf(uint32_t slot, uint64_t k) const {
    return p_.first_request + slot + k * p_.queue_depth;
  }

  bool Make(Slot& slot, std::unique_ptr<ferry::Transfer>* out) {
    ferry::XferOptions xo;
    xo.backend = p_.backend;
    if (queue_) {
      xo.completion_queue = queue_;
      xo.tag = static_cast<uint64_t>(&slot - slots_.data());
    }
    ferry::Status st = p_.agent->MakeTransfer(p_.op, *p_.local, slot.local_idx, *p_.target,
                                              slot.target_idx, out, xo);
    if (!st.ok()) Fail("MakeTransfer: " + st.ToString());
    return st.ok();
  }

  bool SetUp() {
    r_->latency_ns.reserve(p_.request_count);
    slots_.resize(std::min<uint64_t>(p_.queue_depth, p_.request_count));
    for (uint32_t s = 0; s < slots_.size(); ++s) {
      Slot& slot = slots_[s];
      // The slot's share of the worker's requests s, s+qd, ...
      slot.quota = (p_.request_count - s + p_.queue_depth - 1) / p_.queue_depth;
      slot.local_idx.resize(p_.batch);
      slot.target_idx.resize(p_.batch);
      uint64_t region = (static_cast<uint64_t>(p_.worker_index) * p_.queue_depth + s) * p_.batch;
      for (uint32_t j = 0; j < p_.batch; ++j) {
        slot.local_idx[j] = static_cast<uint32_t>((region + j) % p_.local_count);
      }
      if (p_.mode != XferMode::kRepost) continue;
      uint64_t count = std::min(slot.quota, p_.max_xfers_per_slot);
      slot.ready.resize(count);
      for (uint64_t k = 0; k < count; ++k) {
        if (p_.fixed_working_set && !p_.random) {
          for (uint32_t j = 0; j < p_.batch; ++j)
            slot.target_idx[j] = static_cast<uint32_t>((region + j) % p_.target_count);
        } else {
          FillTargets(RequestOf(s, k), &slot.target_idx);
        }
        if (!Make(slot, &slot.ready[k])) return false;
      }
    }
    return true;
  }

  bool Post(Slot& slot) {
    if (slot.issued == slot.quota || p_.abort->load(std::memory_order_relaxed)) return false;
    uint32_t s = static_cast<uint32_t>(&slot - slots_.data());
    if (p_.mode == XferMode::kRepost) {
      // Later passes repost the transfers made before timing (repost after completion).
      slot.current = slot.ready[slot.issued % slot.ready.size()].get();
    } else {
      FillTargets(RequestOf(s, slot.issued), &slot.target_idx);
      if (!Make(slot, &slot.owned)) return false;
      slot.current = slot.owned.get();
    }
    slot.posted = Clock::now();
    if (r_->requests == 0 && inflight_ == 0) r_->first_post = slot.posted;
    ferry::Status st = slot.current->Post();
    if (!st.ok()) {
      Fail("Post: " + st.ToString());
      return false;
    }
    ++slot.issued;
    slot.busy = true;
    ++inflight_;
    return true;
  }

  void Finish(Slot& slot, const ferry::Status& st) {
    Clock::time_point now = Clock::now();
    slot.busy = false;
    --inflight_;
    if (!st.ok()) {
      Fail("request failed: " + st.ToString());
      return;
    }
    ferry::TransferTelemetry t = slot.current->telemetry();
    // The library's own Post-start -> completion stamp is the exact definition of request
    // latency; our clock (which includes waking up) is only the fallback.
    auto latency = t.transfer_time.count() > 0 ? t.transfer_time : now - slot.posted;
    r_->latency_ns.push_back(static_cast<uint64_t>(latency.count()));
    r_->post_ns += static_cast<uint64_t>(t.post_time.count());
    ++r_->requests;
    r_->last_done = now;
    p_.done_bytes->fetch_add(p_.bytes_per_request, std::memory_order_relaxed);
    if (p_.mode == XferMode::kMake) slot.owned.reset();
    slot.current = nullptr;
  }

  // Reaps whichever requests finish first, as fio does: waiting on one particular request
  // would leave the slots of those that finish before it idle.
  void LoopOnQueue() {
    std::vector<uint64_t> tags;
    while (inflight_ > 0) {
      tags.clear();
      if (queue_->Wait(&tags, p_.timeout) == 0) {
        Fail("no request completed within the --timeout");
        return;
      }
      for (uint64_t tag : tags) {
        Slot& slot = slots_[tag];
        Finish(slot, slot.current->Check());
        if (!r_->ok) return;
        Post(slot);
        if (!r_->ok) return;
      }
    }
  }

  void Loop() { queue_ ? LoopOnQueue() : LoopPolling(); }

  // --wait poll: spins on Check over every busy slot; the oldest request is the first to
  // overrun the timeout.
  void LoopPolling() {
    while (inflight_ > 0) {
      Slot* oldest = nullptr;
      for (Slot& slot : slots_) {
        if (!slot.busy) continue;
        ferry::Status st = slot.current->Check();
        if (st.code() == ferry::Code::kInProgress) {
          if (oldest == nullptr || slot.posted < oldest->posted) oldest = &slot;
          continue;
        }
        Finish(slot, st);
        if (!r_->ok) return;
        Post(slot);
        if (!r_->ok) return;
      }
      if (oldest != nullptr && Clock::now() - oldest->posted > p_.timeout) {
        Fail("a request did not complete within the --timeout");
        return;
      }
    }
  }

  // After a failure: cancel what is still in flight and let the destructors release it.
  void Drain() {
    for (Slot& slot : slots_) {
      if (slot.busy && slot.current != nullptr) {
        (void)slot.current->Cancel();
        (void)slot.current->Wait(p_.timeout);
      }
    }
  }

  const WorkerPlan& p_;
  WorkerResult* r_;
  Rng rng_;
  std::vector<Slot> slots_;
  uint64_t inflight_ = 0;
  // --wait block: every transfer reports here (tag = slot index).
  std::shared_ptr<ferry::CompletionQueue> queue_ =
      p_.wait == WaitMode::kBlock ? ferry::CompletionQueue::Create() : nullptr;
};

}  // namespace

void RunWorker(const WorkerPlan& plan, WorkerResult* result) {
  Worker(plan, result).Run();
}

}  // namespace ferry_bench
