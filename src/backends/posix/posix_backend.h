// The POSIX storage backend: DRAM <-> FILE through io_uring, libaio or a thread pool.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "copy_pool.h"
#include "ferry/backend.h"
#include "io_scheduler.h"
#include "posix_engines.h"

namespace ferry::posix {

struct PosixOptions {
  std::string engine = "auto";  // auto | uring | aio | threads
  int64_t queue_depth = 256;
  uint64_t max_request_size = 32ull << 20;
  int64_t threads = 8;
  bool registered_buffers = true;
  uint64_t inline_max = 1ull << 30;         // see inline_io.h; 0 = never inline
  int64_t spin_us = 0;                      // a driving waiter's spin before it sleeps
  int64_t copy_threads = 3;                 // helpers of large inline reads (copy_pool.h)
  uint64_t parallel_read_min = 8ull << 20;  // inline reads from this size are split
  int64_t vram_threads = 8;                 // VRAM staging workers (built with CUDA)
  uint64_t vram_bounce_size = 4ull << 20;   // each worker's two pinned buffers; VRAM op size
  uint64_t vram_inline_max = 2ull << 20;    // VRAM requests up to this run inside Post
};

// Also the storage namespace of files (query, remove, list) and an allocator of
// page-aligned DRAM (transparent huge pages for 2 MiB and more).
class PosixBackend final : public Backend, StorageNamespace, MemoryAllocator {
 public:
  static Status Create(const PosixOptions& options, std::unique_ptr<Backend>* out);
  ~PosixBackend() override;

  Status RegisterMem(MemKind kind, const MemDesc& desc, void** md) override;
  void DeregisterMem(MemKind kind, void* md) override;
  Status Prepare(const PrepareSpec& spec, std::span<const IoSegment> segments,
                 std::unique_ptr<BackendRequest>* out) override;
  Status Post(BackendRequest* request, CompletionSink* sink) override;
  void Cancel(BackendRequest* request) override;
  bool Drive(std::chrono::steady_clock::time_point deadline,
             const std::function<bool()>& done) override {
    return engine_->Drive(deadline, done);
  }
  void Kick() override { engine_->Kick(); }
  void Poll() override { engine_->Poll(); }
  StorageNamespace* storage() override { return this; }
  MemoryAllocator* allocator() override { return this; }

  Status Query(MemKind kind, std::span<const MemDesc> descs,
               std::vector<QueryResult>* out) override;
  Status Remove(MemKind kind, std::span<const MemDesc> descs) override;
  Status List(MemKind kind, std::string_view prefix, std::vector<ListEntry>* out) override;
  Status AllocMem(MemKind kind, uint64_t len, uint64_t dev_id, void** addr) override;
  void FreeMem(MemKind kind, void* addr, uint64_t len, uint64_t dev_id) override;

 private:
  explicit PosixBackend(const PosixOptions& options);

  kit::IoScheduler& SchedulerOf(const PosixRequest& r) {
    return r.vram ? vram_scheduler_ : scheduler_;
  }

  const PosixOptions options_;
  CopyPool copy_pool_;  // large inline reads
  kit::IoScheduler scheduler_;
  kit::IoScheduler vram_scheduler_;
  std::unique_ptr<IoEngine> engine_;       // destroyed first: its threads call the scheduler
  std::unique_ptr<IoEngine> vram_engine_;  // null when built without CUDA
#ifdef FERRY_POSIX_VRAM
  // What an inline VRAM request borrows: a stager and a scratch request for its staged
  // ops. Lent to posting threads; the list grows to the most that ever posted at once.
  struct VramLend {
    explicit VramLend(uint64_t bounce) : stager(bounce) {}
    cuda::BounceStager stager;
    PosixRequest staged;
  };
  Status RunVramInlineRequest(PosixRequest& req);
  std::mutex stagers_mu_;
  std::vector<std::unique_ptr<VramLend>> stagers_;
#endif
};

}  // namespace ferry::posix
