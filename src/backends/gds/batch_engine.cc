// GDS's engine: cuFile's batch API. A fixed pool of batch handles, each carrying at most
// `batch_limit` ops per submission and one submission at a time. Ops that find no free
// handle wait in a FIFO here (a busy pool queues work, never fails it). Each handle has a
// waiter thread that collects its batch's completions and hands the handle back.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "cufile_driver.h"
#include "gds_types.h"
#include "thread_pool_engine.h"

namespace ferry::gds {
namespace {

// How long one cuFileBatchIOGetStatus call waits before the waiter checks for shutdown.
constexpr long kStatusWaitNs = 50'000'000;

// Entries in flight across all handles. On the GPU machine in compatibility mode (stock
// cufile.json, io_batchsize 128) a batch of 128 entries never returned from submission,
// two of 64 in flight worked and a third hung. Our reading: each entry holds one of
// cuFile's bounce buffers (max_device_cache_size / per_buffer_cache_size of them), and a
// submission that finds too few waits forever. Half of them, at most, are asked for.
unsigned EntryBudget() {
  CUfileDrvProps_t props{};
  if (cuFileDriverGetProperties(&props).err != CU_FILE_SUCCESS || props.per_buffer_cache_size == 0)
    return 32;
  const unsigned buffers = props.max_device_cache_size / props.per_buffer_cache_size;
  unsigned budget = std::max(1u, buffers / 2);
  if (props.max_batch_io_size > 0) budget = std::min(budget, props.max_batch_io_size);
  return budget;
}

class BatchEngine final : public IoEngine {
 public:
  BatchEngine(IoSink* sink, unsigned batch_limit)
      : sink_(sink), budget_(EntryBudget()), limit_(std::min(batch_limit, budget_)) {}

  ~BatchEngine() override {
    buffered_.reset();
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    for (auto& s : slots_) s->cv.notify_all();
    for (auto& s : slots_) {
      if (s->waiter.joinable()) s->waiter.join();
      cuFileBatchIODestroy(s->handle);
    }
  }

  // Sets up `pool_size` handles of `limit_` entries each.
  bool Start(unsigned pool_size, std::string* error) {
    for (unsigned i = 0; i < pool_size; ++i) {
      auto s = std::make_unique<Slot>();
      CUfileError_t e = cuFileBatchIOSetUp(&s->handle, limit_);
      if (e.err != CU_FILE_SUCCESS) {
        *error = "cuFileBatchIOSetUp(" + std::to_string(limit_) + ") for batch handle " +
                 std::to_string(i) + ": " + CufileErrorText(e.err) +
                 " (batch_limit may exceed cuFile's properties.io_batchsize)";
        return false;
      }
      s->params.resize(limit_);
      s->events.resize(limit_);
      s->ops.resize(limit_);
      s->reported.resize(limit_);
      slots_.push_back(std::move(s));
    }
    for (auto& s : slots_) {
      free_.push_back(s.get());
      s->waiter = std::thread([this, slot = s.get()] { Wait(slot); });
    }
    return true;
  }

  const char* name() const override { return "cufile-batch"; }

  void Submit(std::span<IoOp* const> ops) override {
    std::vector<IoOp*> direct_ops;
    if (buffered_) {
      // Most submissions are all one kind: split only when they are mixed.
      size_t direct = 0;
      for (IoOp* op : ops) direct += op->file->direct;
      if (direct == 0) return buffered_->Submit(ops);
      if (direct < ops.size()) {
        std::vector<IoOp*> buffered;
        for (IoOp* op : ops) (op->file->direct ? direct_ops : buffered).push_back(op);
        buffered_->Submit(buffered);
        ops = direct_ops;
      }
    }
    {
      std::lock_guard lk(mu_);
      pending_.insert(pending_.end(), ops.begin(), ops.end());
    }
    Pump();
  }

  // The synchronous path for buffered files (before Start; destroyed before the handles).
  void set_buffered(std::unique_ptr<IoEngine> e) { buffered_ = std::move(e); }

  std::string DescribeError(int err) const override { return CufileOwnErrorText(err); }

 private:
  struct Slot {
    CUfileBatchHandle_t handle = nullptr;
    std::vector<CUfileIOParams_t> params;
    std::vector<CUfileIOEvents_t> events;
    std::vector<IoOp*> ops;  // by cookie
    std::vector<bool> reported;
    unsigned count = 0;      // ops in the batch
    bool submitted = false;  // cuFile has the batch; the waiter collects it (guarded by mu_)
    std::condition_variable cv;
    std::thread waiter;
  };

  // Moves pending ops into free handles until one of them runs out.
  void Pump() {
    for (;;) {
      Slot* slot;
      std::vector<IoResult> cancelled;
      unsigned n = 0;
      {
        std::lock_guard lk(mu_);
        if (stopping_ || pending_.empty() || free_.empty() || inflight_ >= budget_) return;
        slot = free_.back();
        free_.pop_back();
        const unsigned room = std::min(limit_, budget_ - inflight_);
        while (n < room && !pending_.empty()) {
          IoOp* op = pending_.front();
          pending_.pop_front();
          if (op->req->cancelled.load(std::memory_order_relaxed))
            cancelled.push_back({op, -ECANCELED});
          else
            slot->ops[n++] = op;
        }
        inflight_ += n;
      }
      const unsigned taken = n;
      if (n > 0) n = SubmitBatch(slot, n, &cancelled);
      if (n == 0) {
        std::lock_guard lk(mu_);
        inflight_ -= taken;
        free_.push_back(slot);
      }
      if (!cancelled.empty()) sink_->OnResults(cancelled);
    }
  }

  // Submits slot->ops[0, n). Returns n, or 0 (every op then in `failed`) when cuFile
  // refuses the batch.
  unsigned SubmitBatch(Slot* slot, unsigned n, std::vector<IoResult>* failed) {
    for (unsigned i = 0; i < n; ++i) {
      const IoOp& op = *slot->ops[i];
      const GpuMem& mem = MemOf(op);
      CUfileIOParams_t& p = slot->params[i];
      p = {};
      p.mode = CUFILE_BATCH;
      // libcufile 1.15's batch path ignores devPtr_offset for host memory (seen on the H200
      // machine in compatibility mode: every entry moved the bytes at devPtr_base), so host
      // buffers go by their exact address. GPU buffers keep the registered base cuFile
      // looks their registration up by.
      const uint64_t at = op.buf + op.done;
      p.u.batch.devPtr_base = reinterpret_cast<void*>(mem.device < 0 ? at : mem.addr);
      p.u.batch.devPtr_offset = mem.device < 0 ? 0 : off_t(at - mem.addr);
      p.u.batch.file_offset = off_t(op.off + op.done);
      p.u.batch.size = op.len - op.done;
      p.fh = FileOf(op).handle;
      p.opcode = op.req->write ? CUFILE_WRITE : CUFILE_READ;
      p.cookie = reinterpret_cast<void*>(uintptr_t(i));
      slot->reported[i] = false;
    }
    slot->count = n;  // the slot is this thread's until it is marked submitted
    CUfileError_t e = cuFileBatchIOSubmit(slot->handle, n, slot->params.data(), 0);
    if (e.err == CU_FILE_SUCCESS) {
      {
        std::lock_guard lk(mu_);
        slot->submitted = true;
      }
      slot->cv.notify_one();
      return n;
    }
    slot->count = 0;
    for (unsigned i = 0; i < n; ++i) failed->push_back({slot->ops[i], -int64_t(e.err)});
    return 0;
  }

  static int64_t ResultOf(const CUfileIOEvents_t& ev) {
    const auto ret = static_cast<int64_t>(ev.ret);
    switch (ev.status) {
      case CUFILE_COMPLETE:
        return ret;
      case CUFILE_CANCELED:
        return -ECANCELED;
      case CUFILE_TIMEOUT:
        return -ETIMEDOUT;
      default:  // CUFILE_FAILED, CUFILE_INVALID
        return ret < 0 ? ret : -EIO;
    }
  }

  // The waiter of one handle: collects each op's event exactly once, reports it, and
  // frees the handle when the whole batch is back.
  void Wait(Slot* slot) {
    std::vector<IoResult> results;
    for (;;) {
      unsigned count;
      {
        std::unique_lock lk(mu_);
        // Stopping waits for a batch in flight: cuFile must not write into freed memory.
        slot->cv.wait(lk, [&] { return stopping_ || slot->submitted; });
        if (!slot->submitted) return;  // stopping and idle
        count = slot->count;
      }
      unsigned left = count;
      unsigned failures = 0;
      while (left > 0) {
        unsigned nr = count;
        timespec timeout{0, kStatusWaitNs};
        CUfileError_t e =
            cuFileBatchIOGetStatus(slot->handle, 1, &nr, slot->events.data(), &timeout);
        results.clear();
        if (e.err != CU_FILE_SUCCESS) {
          // Status unknown. Retried a few times; then the batch is cancelled and what is
          // not yet reported fails (cancel waits for the ops, so no buffer is touched later).
          if (++failures < 8) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
          }
          cuFileBatchIOCancel(slot->handle);
          for (unsigned i = 0; i < count; ++i)
            if (!slot->reported[i]) {
              slot->reported[i] = true;
              results.push_back({slot->ops[i], -int64_t(e.err)});
            }
          left = 0;
        }
        for (unsigned k = 0; e.err == CU_FILE_SUCCESS && k < nr && k < count; ++k) {
          const CUfileIOEvents_t& ev = slot->events[k];
          const auto i = unsigned(reinterpret_cast<uintptr_t>(ev.cookie));
          if (i >= count || slot->reported[i]) continue;
          if (ev.status == CUFILE_WAITING || ev.status == CUFILE_PENDING) continue;
          slot->reported[i] = true;
          results.push_back({slot->ops[i], ResultOf(ev)});
          --left;
        }
        if (!results.empty()) sink_->OnResults(results);
      }
      {
        std::lock_guard lk(mu_);
        slot->submitted = false;
        inflight_ -= slot->count;
        slot->count = 0;
        free_.push_back(slot);
      }
      Pump();
    }
  }

  IoSink* const sink_;
  const unsigned budget_;  // entries in flight across all handles (EntryBudget)
  const unsigned limit_;   // entries per batch
  std::unique_ptr<IoEngine> buffered_;
  std::mutex mu_;
  bool stopping_ = false;
  std::deque<IoOp*> pending_;
  std::vector<Slot*> free_;
  unsigned inflight_ = 0;  // entries taken from pending_ and not yet back
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace

std::unique_ptr<IoEngine> MakeBatchEngine(IoSink* sink, unsigned batch_limit, unsigned pool_size,
                                          unsigned buffered_threads, std::string* error) {
  auto e = std::make_unique<BatchEngine>(sink, batch_limit);
  if (buffered_threads > 0) {
    auto b = kit::MakeThreadPoolEngine(sink, buffered_threads, {&RunCufileOp, &CufileOwnErrorText},
                                       "cufile-buffered", error);
    if (!b) return nullptr;
    e->set_buffered(std::move(b));
  }
  if (!e->Start(pool_size, error)) return nullptr;
  return e;
}

}  // namespace ferry::gds
