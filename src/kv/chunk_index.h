// The in-memory index of stored chunks: key -> slot, LRU order, pins, readers.
//
// A chunk is visible (Lookup/Contains/AcquireRead) only in state kReady, i.e. after its
// write completed. Eviction takes the least recently used ready chunk that is neither
// pinned nor being read. One reader/writer lock guards everything; every call is short (no
// I/O under the lock). Lookups (PrefixReady, Contains) take it shared, so prompts looked up
// from many threads do not queue behind each other.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <vector>

#include <tsl/robin_map.h>

#include "ferry/kv/keys.h"
#include "ferry/status.h"

namespace ferry::kv {

class ChunkIndex {
 public:
  // `slots` > 0: static pool of that many slots. 0: dynamic, bounded by `max_bytes`
  // (0 = unbounded), slot numbers are then meaningless.
  ChunkIndex(uint32_t slots, uint64_t max_bytes);

  enum class ReserveResult { kReserved, kPresent, kNoSpace };
  // A stored copy of a chunk: where it is and which generation wrote it.
  struct Copy {
    ChunkKey key;
    uint32_t slot = 0;
    uint64_t generation = 0;
  };
  struct Reservation {
    uint32_t slot = 0;
    std::vector<Copy> evicted;  // chunks dropped to make room (their stored copies remain)
  };
  // Makes room for a new chunk and records it as being written (invisible).
  ReserveResult Reserve(const ChunkKey& key, uint64_t stored_bytes, uint32_t tokens,
                        Reservation* out);
  void Publish(const ChunkKey& key, uint64_t generation);  // write completed: visible
  void Abort(const ChunkKey& key);                         // write failed: slot freed

  struct ReadRef {
    uint32_t slot = 0;
    uint64_t stored_bytes = 0;
    uint32_t tokens = 0;
    uint64_t generation = 0;  // tells this copy from a later re-store of the same key
  };
  // Marks a ready chunk as being read (not evictable) and makes it most recently used.
  bool AcquireRead(const ChunkKey& key, ReadRef* out);
  // `drop`: the chunk was found corrupt; it leaves the index. Returns true when this call
  // dropped it: the caller then invalidates the stored bytes and calls FreeSlot(*slot).
  bool ReleaseRead(const ChunkKey& key, uint64_t generation, bool drop, uint32_t* slot);

  // Number of leading keys that are ready.
  size_t PrefixReady(std::span<const ChunkKey> keys) const;
  bool Contains(const ChunkKey& key) const;

  // Removes a ready, unpinned, unread chunk; its slot stays reserved until FreeSlot.
  // `*removed` says which copy to invalidate.
  Status Remove(const ChunkKey& key, Copy* removed);
  void FreeSlot(uint32_t slot);
  Status Pin(const ChunkKey& key);
  Status Unpin(const ChunkKey& key);

  // Recovery: a chunk found on storage. Duplicates keep the newest generation; the losing
  // copy is returned for invalidation.
  std::optional<Copy> Recover(const ChunkKey& key, uint32_t slot, uint64_t stored_bytes,
                              uint32_t tokens, uint64_t generation);
  // After recovery: every slot not holding a chunk becomes free; LRU ordered by generation.
  void FinishRecovery();

  size_t ready_chunks() const;
  uint64_t evictions() const;

 private:
  enum class State : uint8_t { kWriting, kReady };
  struct Entry {
    uint32_t slot = 0;
    uint32_t tokens = 0;
    uint64_t stored_bytes = 0;
    uint64_t generation = 0;
    uint32_t pins = 0;
    uint32_t readers = 0;
    State state = State::kWriting;
    std::list<ChunkKey>::iterator lru;  // valid when kReady
  };
  bool Evictable(const Entry& e) const { return e.pins == 0 && e.readers == 0; }
  // Keys come from prompts, which a client controls, and XXH3 is not made to resist
  // chosen inputs: mixing the key with a per-index random salt keeps anyone from
  // predicting which keys share a bucket (and so from making lookups probe long runs).
  // Every bit of both words reaches the low bits robin_map masks with.
  struct SaltedKeyHash {
    uint64_t salt = 0;
    size_t operator()(const ChunkKey& k) const {
      uint64_t x = (k.lo ^ salt) * 0x9E3779B97F4A7C15ull;
      x = ((x ^ (x >> 32)) ^ k.hi) * 0xC2B2AE3D27D4EB4Full;
      return static_cast<size_t>(x ^ (x >> 32));
    }
  };
  // Open addressing (Robin Hood, power-of-two buckets): a lookup of a present key usually
  // reads one bucket, where std::unordered_map pays a modulo and a pointer chase; a
  // 32k-token prompt's 128 finds took half the time. Iterators do not survive an insert or erase;
  // nothing here keeps one across either. Memory: 72-byte buckets at load 0.25-0.5, so
  // 150-300 bytes per chunk, about 10 MB for 32k chunks (std::unordered_map: ~100 bytes).
  // A load of 0.8 made finds in a 200k-entry map 4x slower, so the default stays.
  using Map = tsl::robin_map<ChunkKey, Entry, SaltedKeyHash>;
  // Under mu_: drops the least recently used evictable chunk; `slot` gets its slot.
  bool EvictOne(Reservation* out, uint32_t* slot);
  void EraseReady(Map::iterator it);  // under mu_: a ready chunk leaves index and LRU

  const uint32_t slots_;
  const uint64_t max_bytes_;
  mutable std::shared_mutex mu_;
  Map map_;
  std::list<ChunkKey> lru_;  // front = most recently used (ready entries only)
  std::vector<uint32_t> free_slots_;
  uint64_t used_bytes_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace ferry::kv
