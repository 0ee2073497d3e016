// The engine's private state, shared by engine.cc (setup, index API, async) and
// engine_io.cc (the store and retrieve pipelines).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "chunk_index.h"
#include "chunk_store.h"
#include "ferry/kv/engine.h"
#include "page_pool.h"
#include "prefix_key_cache.h"
#include "slot_format.h"

namespace ferry::kv {

class EngineImpl {
 public:
  ~EngineImpl();
  Status Init(const Config& config, const EngineOptions& options);

  std::vector<ChunkKey> Keys(std::span<const int32_t> tokens, size_t max_chunks = SIZE_MAX) const;
  Status StoreMany(std::span<const StoreRequest> requests, std::vector<StoreResult>* results);
  Status RetrieveMany(std::span<const StoreRequest> requests, std::vector<uint64_t>* restored);
  uint64_t Lookup(std::span<const int32_t> tokens) const;
  Status RemoveChunk(const ChunkKey& key);
  std::shared_ptr<StoreHandle> StoreAsync(std::span<const int32_t> tokens, const KvLayout& kv);
  EngineStats Stats() const;

  // A chunk write whose header has not been sent yet (engine_io.cc): it goes out, with the
  // payload's tail, once the first piece is on disk.
  struct ChunkTail {
    uint64_t payload = 0;   // payload bytes
    uint64_t posted = 0;    // payload bytes already posted
    uint64_t checksum = 0;  // of the whole payload
    bool sent = false;      // header and tail posted
  };

  // Fills `page` with the chunk (payload, checksum) and posts its write in pieces on `io`
  // as it goes; a chunk that fits in one piece goes out whole, header included, and
  // `tail->sent` is set. Otherwise PostTail sends the rest.
  Status WriteChunk(const KvLayout& kv, const ChunkKey& key, const ChunkLocation& loc, uint64_t t0,
                    uint32_t n, uint32_t page, uint64_t generation, PendingIo* io, ChunkTail* tail);
  // Writes the header into `page` and posts it with the payload's tail. Only once the
  // first piece has completed (it carried the page's zeroed header bytes).
  Status PostTail(const ChunkKey& key, uint32_t n, uint32_t page, uint64_t generation,
                  ChunkTail* tail, PendingIo* io);

  ChunkHeader MakeHeader(const ChunkKey& key, uint32_t n, uint64_t payload, uint64_t checksum,
                         uint64_t generation, ChecksumKind kind = ChecksumKind::kXxh3) const;
  // WriteChunk for a buffer in GPU memory: gathered and checksummed there, one write.
  Status WriteChunkFromGpu(DeviceCodec& codec, const KvLayout& kv, const ChunkKey& key, uint64_t t0,
                           uint32_t n, uint32_t page, uint64_t generation, PendingIo* io,
                           ChunkTail* tail);
  // Whether page `page` holds chunk `key` of `n` tokens intact: OK, kCorrupt (a miss), or
  // the error of a GPU that failed to check it.
  Status CheckPage(uint32_t page, const ChunkKey& key, uint32_t n, void* stream);
  // Copies a checked page's payload into the caller's KV.
  Status CopyOut(uint32_t page, uint64_t t0, uint32_t n, const KvLayout& kv);
  // The layout's shape, and that its memory is where this engine's buffer can reach it.
  Status CheckKvMemory(const KvLayout& kv) const;

  // Drops a chunk found corrupt and wipes its stored copy.
  void DropCorrupt(const ChunkKey& key, uint64_t generation);
  // A store of `loc` failed: the index forgets it and (dynamic mode, when `opened`: the
  // store had opened its file) its file goes.
  void AbortStore(const ChunkLocation& loc, bool opened);

  Config config_;
  EngineOptions options_;
  KvGeometry g_;
  ChunkKey seed_;
  uint32_t chunk_size_ = 0;
  uint64_t chunk_bytes_ = 0;  // payload of a full chunk
  uint32_t queue_depth_ = 1;
  std::unique_ptr<ChunkStore> storage_;
  std::unique_ptr<PagePool> pages_;
  std::unique_ptr<ChunkIndex> index_;
  std::unique_ptr<PrefixKeyCache> key_memo_;  // Lookup's keys of recent prompts; may be null
  std::atomic<uint64_t> generation_{1};

  struct Counters {
    std::atomic<uint64_t> chunks_stored{0}, bytes_stored{0}, chunks_loaded{0}, bytes_loaded{0};
    std::atomic<uint64_t> present_on_store{0}, no_space{0}, store_io{0}, corrupt{0}, load_io{0};
    std::atomic<uint64_t> recovered{0}, recovery_skipped{0};
    std::atomic<uint64_t> codec_ns{0};  // GPU gathers, scatters and checksums
  } counters_;

 private:
  Status Recover();
  void AsyncLoop();

  std::mutex async_mu_;
  std::condition_variable async_cv_;
  std::deque<std::function<void()>> async_tasks_;
  bool async_stop_ = false;
  std::vector<std::thread> async_threads_;
};

}  // namespace ferry::kv
