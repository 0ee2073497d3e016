// Everything the engine does through the agent: the registered buffer, the slot files (or
// per-key files), and the transfers between them. This is the only file of the engine
// that calls the agent, as LMCache's storage backend is the only part that calls NIXL.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ferry/agent.h"
#include "ferry/kv/config.h"
#include "ferry/kv/keys.h"

namespace ferry::kv {

// Where a chunk lives: a slot of the static pool, or the key's own file (dynamic mode).
struct ChunkLocation {
  uint32_t slot = 0;
  ChunkKey key;
};

// A byte range of a chunk's stored image (header + padded payload). The image has the same
// layout in its buffer page and in its file, so one offset names both.
struct IoRange {
  uint64_t offset = 0;
  uint64_t len = 0;
};

// The transfers in flight for one chunk, with what must be released when they finish.
class PendingIo {
 public:
  ~PendingIo();
  // Waits for every transfer posted on it (even after a failure: the page stays in use
  // until the backend is done with it); the first error. Releases the transfers and the
  // per-op file registration.
  Status Wait();
  // Waits for the first transfer posted only (kept for Wait): orders a later transfer
  // after it.
  Status WaitFirst();
  // Whether the first transfer posted has completed (or none was); does not block.
  bool FirstDone() const;

 private:
  friend class Storage;
  Agent* agent_ = nullptr;
  std::vector<std::unique_ptr<Transfer>> xfers_;
  RegHandle file_reg_;    // dynamic mode: the key's file, registered for this chunk only
  uint64_t file_id_ = 0;  // the file the transfers go to
};

class Storage {
 public:
  struct Options {
    ChunkKey seed;
    uint32_t worker_id = 0;
    uint64_t page_bytes = 0;  // header + full chunk, 4 KiB multiple
    std::string agent_name;
    Agent* agent = nullptr;
  };
  // Creates/borrows the agent and backend, allocates and registers the buffer, creates the
  // directory, takes the pool lock and opens (static) slot files.
  static Status Open(const Config& config, const Options& options, std::unique_ptr<Storage>* out);
  ~Storage();

  uint32_t pages() const { return pages_; }
  uint8_t* page(uint32_t p) const { return buffer_ + uint64_t{p} * page_bytes_; }
  uint64_t page_bytes() const { return page_bytes_; }
  bool dynamic() const { return slots_ == 0; }
  uint32_t slots() const { return slots_; }

  // Starts reading `bytes` (a 4 KiB multiple, from offset 0 of the file) of a chunk's file
  // into a page in one transfer.
  Status StartRead(uint32_t page, const ChunkLocation& loc, uint64_t bytes,
                   std::unique_ptr<PendingIo>* out);

  // Piecewise form: Begin opens the chunk's file for `io` (dynamic mode registers it, and
  // for a write reserves `bytes` of disk for it first), then each Post sends one transfer
  // moving `ranges` (4 KiB-aligned) of the page. Lets a store write the first part of a
  // chunk while the engine is still filling the rest. Static slot files are reserved at
  // open.
  Status Begin(XferOp op, const ChunkLocation& loc, uint64_t bytes, PendingIo* io);
  Status Post(XferOp op, uint32_t page, std::span<const IoRange> ranges, PendingIo* io);

  // Static: overwrites the slot's header with zeros so a restart does not bring it back.
  // Dynamic: deletes the key's file.
  Status Invalidate(const ChunkLocation& loc);

  // Recovery: reads every header of the pool (static) or every key file of this pool
  // (dynamic). `visit(loc, header_bytes, file_size)` sees each non-empty one.
  using HeaderVisitor = void (*)(void* ctx, const ChunkLocation& loc, const uint8_t* header,
                                 uint64_t file_size);
  Status ScanHeaders(HeaderVisitor visit, void* ctx);

 private:
  Storage() = default;
  Status Init(const Config& config, const Options& options);
  Status OpenSlots();
  Status Start(XferOp op, uint32_t page, const ChunkLocation& loc, uint64_t bytes,
               std::unique_ptr<PendingIo>* out);
  std::string PathOf(const ChunkLocation& loc) const;

  std::unique_ptr<Agent> owned_agent_;
  Agent* agent_ = nullptr;
  BackendId backend_;
  XferOptions xfer_options_;
  std::string dir_;     // canonical nixl_path
  std::string prefix_;  // pool file prefix
  bool direct_ = false;
  uint32_t slots_ = 0;
  uint32_t pages_ = 0;
  uint64_t page_bytes_ = 0;
  uint8_t* buffer_ = nullptr;  // pages, then one zero page for invalidation
  uint64_t buffer_len_ = 0;
  RegHandle buffer_reg_;
  RegHandle slots_reg_;
  std::shared_ptr<const PreppedList> local_prepped_;
  std::shared_ptr<const PreppedList> slot_prepped_;
  int lock_fd_ = -1;
  // File ids: high 32 bits from the pool name (so engines sharing an agent do not clash),
  // low 32 bits the slot, or a counter with the top bit set for per-op files.
  uint64_t base_id_ = 0;
  std::atomic<uint64_t> next_file_id_{0};
};

}  // namespace ferry::kv
