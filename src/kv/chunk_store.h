// The storage seam under the engine: where chunks live on a medium and how they get there.
// A ChunkStore owns the staging buffer (pages of one chunk each, allocated through the
// agent on nixl_buffer_device), the write protocol, invalidation and the recovery scan;
// the engine above it speaks only of pages, locations and byte ranges. The file store
// (file_chunk_store.h) serves POSIX, GDS, GDS_MT and HF3FS; the object store
// (obj_chunk_store.h: one PUT per chunk, LIST to recover, DELETE to invalidate) serves OBJ.
//
// Everything here goes through the agent API, as LMCache's storage backend goes through
// NIXL; the only filesystem calls of the engine's own are in pool_lock.h.
//
// Thread safety: every method may be called from many threads at once, for different
// pages and locations.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "device_codec.h"
#include "ferry/agent.h"
#include "ferry/kv/config.h"
#include "ferry/kv/keys.h"

namespace ferry::kv {

// Where a chunk lives: a slot of the static pool, or (dynamic mode) the file of its key
// written by one generation.
struct ChunkLocation {
  uint32_t slot = 0;
  ChunkKey key;
  uint64_t generation = 0;
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
  // The first transfer posted: kInProgress while in flight, else its outcome (OK when
  // none was posted). Does not block.
  Status FirstState() const;
  // Whether Begin opened the chunk's home (so a failed store may remove what it made).
  bool opened() const { return opened_; }

 private:
  friend class FileChunkStore;
  friend class ObjChunkStore;
  Agent* agent_ = nullptr;
  std::vector<std::unique_ptr<Transfer>> xfers_;
  RegHandle file_reg_;    // dynamic mode: the key's file or object, registered for this op only
  uint64_t file_id_ = 0;  // the file (or object key id) the transfers go to
  bool opened_ = false;
};

class ChunkStore {
 public:
  struct Options {
    ChunkKey seed;
    uint32_t worker_id = 0;
    uint64_t page_bytes = 0;  // header + full chunk, 4 KiB multiple
    std::string agent_name;
    Agent* agent = nullptr;
    uint32_t device = 0;   // nixl_buffer_device cuda: the buffer's GPU
    uint32_t kv_runs = 0;  // (plane, layer) runs of the model's KV
  };
  // Creates/borrows the agent and backend, allocates and registers the staging buffer,
  // locks the pool and opens it. The store for config.nixl_backend: files for POSIX, GDS,
  // GDS_MT and HF3FS, objects for OBJ.
  static Status Open(const Config& config, const Options& options,
                     std::unique_ptr<ChunkStore>* out);
  virtual ~ChunkStore() = default;

  virtual uint32_t pages() const = 0;
  // Staging page `p`: host memory, or device memory when codec() is set.
  virtual uint8_t* page(uint32_t p) const = 0;
  // The GPU side of a buffer in GPU memory (nixl_buffer_device cuda); null for host pages.
  virtual DeviceCodec* codec() const = 0;
  virtual uint64_t page_bytes() const = 0;
  virtual bool dynamic() const = 0;  // one file (object) per chunk, not a pool of slots
  virtual uint32_t slots() const = 0;

  // Reading: `bytes` (a 4 KiB multiple, from the start of the image) of a chunk into a page.
  virtual Status StartRead(uint32_t page, const ChunkLocation& loc, uint64_t bytes,
                           std::unique_ptr<PendingIo>* out) = 0;

  // Writing, in pieces: Begin opens the chunk's home for `io` (reserving `bytes` of space),
  // then each Post sends `ranges` (4 KiB-aligned) of the page. The protocol the engine
  // follows: the first piece carries a zeroed header, the header goes last, and only after
  // the first piece completed OK. A store that cannot write in pieces says so here and
  // takes one Post of the whole image.
  virtual bool piecewise_writes() const = 0;
  virtual Status Begin(const ChunkLocation& loc, uint64_t bytes, PendingIo* io) = 0;
  virtual Status Post(uint32_t page, std::span<const IoRange> ranges, PendingIo* io) = 0;

  // The chunk at `loc` is gone for good: static slots get a zeroed header (so a restart
  // does not bring it back), a dynamic chunk's file is removed. Also for failed writes.
  virtual Status Invalidate(const ChunkLocation& loc) = 0;

  // Recovery: `visit(ctx, loc, header_bytes, stored_size)` sees the header of every chunk
  // of this pool. A file that cannot be read is skipped and counted in `*skipped`, never
  // an error; kIoError only when the pool itself cannot be listed.
  using HeaderVisitor = void (*)(void* ctx, const ChunkLocation& loc, const uint8_t* header,
                                 uint64_t file_size);
  virtual Status ScanHeaders(HeaderVisitor visit, void* ctx, uint64_t* skipped) = 0;
};

}  // namespace ferry::kv
