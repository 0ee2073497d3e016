// The file store: chunks in files under nixl_path, for POSIX, GDS, GDS_MT and HF3FS.
//
// Static mode (nixl_pool_size > 0) opens that many slot files at start, reserved on disk
// up front (refused, before anything is written, when the filesystem lacks the space);
// dynamic mode gives each stored chunk a file named by key and generation. Files are
// created 0600 by the backend, never through a link, and never reused when another user
// owns them or they have another hard link (FileOpenFlags::owned_only).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "chunk_store.h"
#include "pool_lock.h"

namespace ferry::kv {

class FileChunkStore final : public ChunkStore {
 public:
  static Status Open(const Config& config, const Options& options,
                     std::unique_ptr<ChunkStore>* out);
  ~FileChunkStore() override;

  uint32_t pages() const override { return pages_; }
  uint8_t* page(uint32_t p) const override { return buffer_ + uint64_t{p} * page_bytes_; }
  DeviceCodec* codec() const override { return codec_.get(); }
  uint64_t page_bytes() const override { return page_bytes_; }
  bool dynamic() const override { return slots_ == 0; }
  uint32_t slots() const override { return slots_; }

  Status StartRead(uint32_t page, const ChunkLocation& loc, uint64_t bytes,
                   std::unique_ptr<PendingIo>* out) override;
  bool piecewise_writes() const override { return true; }
  Status Begin(const ChunkLocation& loc, uint64_t bytes, PendingIo* io) override;
  Status Post(uint32_t page, std::span<const IoRange> ranges, PendingIo* io) override;
  Status Invalidate(const ChunkLocation& loc) override;
  Status ScanHeaders(HeaderVisitor visit, void* ctx, uint64_t* skipped) override;

 private:
  FileChunkStore() = default;
  Status Init(const Config& config, const Options& options);
  Status AllocateBuffer(const Config& config, const Options& options);
  Status OpenSlots();
  Status Register(XferOp op, const ChunkLocation& loc, uint64_t bytes, PendingIo* io);
  Status PostOn(XferOp op, uint32_t page, std::span<const IoRange> ranges, PendingIo* io);
  std::string PathOf(const ChunkLocation& loc) const;
  uint64_t NextFileId() {
    return base_id_ + (next_file_id_.fetch_add(1) & 0x7fffffff) + 0x80000000u;
  }
  // Recovery helpers (file_chunk_scan.cc).
  struct Found;
  Status ReadHeaders(std::span<const Found> found, HeaderVisitor visit, void* ctx,
                     uint64_t* skipped);

  std::unique_ptr<Agent> owned_agent_;
  Agent* agent_ = nullptr;
  BackendId backend_;
  XferOptions xfer_options_;
  std::string dir_;     // canonical nixl_path
  std::string prefix_;  // pool file prefix
  std::unique_ptr<PoolLock> lock_;
  bool direct_ = false;
  uint32_t slots_ = 0;
  uint32_t pages_ = 0;
  uint64_t page_bytes_ = 0;
  uint8_t* buffer_ = nullptr;  // pages, then one zero page for invalidation (AllocMem)
  uint64_t buffer_len_ = 0;
  MemKind buffer_kind_ = MemKind::kDram;  // kVram: nixl_buffer_device cuda
  uint32_t device_ = 0;
  std::unique_ptr<DeviceCodec> codec_;
  RegHandle buffer_reg_;
  RegHandle slots_reg_;
  std::shared_ptr<const PreppedList> local_prepped_;
  std::shared_ptr<const PreppedList> slot_prepped_;
  // File ids: high 32 bits from the pool name (so engines sharing an agent do not clash),
  // low 32 bits the slot, or a counter with the top bit set for per-op files.
  uint64_t base_id_ = 0;
  std::atomic<uint64_t> next_file_id_{0};
};

}  // namespace ferry::kv
