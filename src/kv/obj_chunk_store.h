// The object store: chunks as objects of one bucket, for nixl_backend OBJ.
//
// Every chunk is one object holding the same image as a file (header, then the padded
// payload), written by one PUT: S3 replaces an object whole, so a reader never sees a new
// header over an old payload and a crash mid-write leaves the old object (or none). Keys
// are "<root><pool>.slot<N>" (static mode) or "<root><pool>.k<key>.g<generation>" (dynamic),
// with <root> from nixl_path (leading '/' dropped, '/' appended: "/mnt/nixl/cache/" ->
// "mnt/nixl/cache/"), so caches can share a bucket. Recovery lists "<root><pool>." and
// reads each chunk's header with a ranged GET; eviction and invalidation DELETE. One engine
// per pool: a lease object (obj_lease.h).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "chunk_store.h"
#include "obj_lease.h"

namespace ferry::kv {

class ObjChunkStore final : public ChunkStore {
 public:
  static Status Open(const Config& config, const Options& options,
                     std::unique_ptr<ChunkStore>* out);
  ~ObjChunkStore() override;

  uint32_t pages() const override { return pages_; }
  uint8_t* page(uint32_t p) const override { return buffer_ + uint64_t{p} * page_bytes_; }
  DeviceCodec* codec() const override { return nullptr; }
  uint64_t page_bytes() const override { return page_bytes_; }
  bool dynamic() const override { return slots_ == 0; }
  uint32_t slots() const override { return slots_; }

  Status StartRead(uint32_t page, const ChunkLocation& loc, uint64_t bytes,
                   std::unique_ptr<PendingIo>* out) override;
  bool piecewise_writes() const override { return false; }
  Status Begin(const ChunkLocation& loc, uint64_t bytes, PendingIo* io) override;
  Status Post(uint32_t page, std::span<const IoRange> ranges, PendingIo* io) override;
  Status Invalidate(const ChunkLocation& loc) override;
  Status ScanHeaders(HeaderVisitor visit, void* ctx, uint64_t* skipped) override;

  static constexpr std::chrono::seconds kLeaseTtl{30};

 private:
  ObjChunkStore() = default;
  Status Init(const Config& config, const Options& options);
  Status Register(const ChunkLocation& loc, PendingIo* io);
  Status Move(XferOp op, uint32_t page, uint64_t offset_in_page, uint64_t bytes, PendingIo* io);
  std::string KeyOf(const ChunkLocation& loc) const;
  struct Found {
    ChunkLocation loc;
    uint64_t size;
  };
  Status ReadHeaders(std::span<const Found> found, HeaderVisitor visit, void* ctx,
                     uint64_t* skipped);
  uint64_t NextId() { return base_id_ + (next_id_.fetch_add(1) & 0x7fffffff) + 0x80000000u; }

  std::unique_ptr<Agent> owned_agent_;
  Agent* agent_ = nullptr;
  BackendId backend_;
  XferOptions xfer_options_;
  std::string root_;    // key prefix from nixl_path
  std::string prefix_;  // pool name
  std::unique_ptr<ObjLease> lease_;
  uint32_t slots_ = 0;
  uint32_t pages_ = 0;
  uint64_t page_bytes_ = 0;
  uint8_t* buffer_ = nullptr;
  uint64_t buffer_len_ = 0;
  RegHandle buffer_reg_;
  RegHandle slots_reg_;
  uint64_t base_id_ = 0;  // object key ids, as the file store's file ids
  std::atomic<uint64_t> next_id_{0};
};

}  // namespace ferry::kv
