// The GDS and GDS_MT backends: DRAM and VRAM <-> FILE through cuFile. One class, two
// engines: GDS submits ops with cuFile's batch API from a pool of batch handles; GDS_MT
// runs synchronous cuFileRead/cuFileWrite on a pool of threads. Both sit on backend_kit's
// scheduler (queueing, short I/O, cancel, first error) and the kit's file table.
#pragma once

#include <memory>
#include <string>

#include "ferry/backend.h"
#include "gds_types.h"
#include "io_scheduler.h"

namespace ferry::gds {

struct GdsOptions {
  bool multi_thread = false;     // GDS_MT
  int64_t batch_limit = 128;     // GDS: ops per cuFile batch
  int64_t batch_pool_size = 16;  // GDS: batch handles
  int64_t buffered_threads = 4;  // GDS: synchronous calls for non-O_DIRECT files (0 = batch)
  bool compat_batch = false;     // GDS: batch API for O_DIRECT files in compatibility mode too
  int64_t thread_count = 8;      // GDS_MT: threads
  uint64_t max_request_size = 16ull << 20;
  bool register_buffers = true;
};

// Also the storage namespace of files (query, remove, list), and an allocator of device
// memory (VRAM) and pinned host memory (DRAM).
class GdsBackend final : public Backend, StorageNamespace, MemoryAllocator {
 public:
  static Status Create(const GdsOptions& options, std::unique_ptr<Backend>* out);
  ~GdsBackend() override;

  Status RegisterMem(MemKind kind, const MemDesc& desc, void** md) override;
  void DeregisterMem(MemKind kind, void* md) override;
  Status Prepare(const PrepareSpec& spec, std::span<const IoSegment> segments,
                 std::unique_ptr<BackendRequest>* out) override;
  Status Post(BackendRequest* request, CompletionSink* sink) override;
  void Cancel(BackendRequest* request) override;
  StorageNamespace* storage() override { return this; }
  MemoryAllocator* allocator() override { return this; }

  Status Query(MemKind kind, std::span<const MemDesc> descs,
               std::vector<QueryResult>* out) override;
  Status Remove(MemKind kind, std::span<const MemDesc> descs) override;
  Status List(MemKind kind, std::string_view prefix, std::vector<ListEntry>* out) override;
  Status AllocMem(MemKind kind, uint64_t len, uint64_t dev_id, void** addr) override;
  void FreeMem(MemKind kind, void* addr, uint64_t len, uint64_t dev_id) override;

 private:
  explicit GdsBackend(const GdsOptions& options, unsigned queue_depth);
  Status RegisterFile(const MemDesc& desc, void** md);
  Status RegisterBuffer(MemKind kind, const MemDesc& desc, void** md);

  const GdsOptions options_;
  const char* const name_;  // "GDS" or "GDS_MT", for messages
  kit::IoScheduler scheduler_;
  std::unique_ptr<IoEngine> engine_;  // destroyed first: its threads call the scheduler
};

}  // namespace ferry::gds
