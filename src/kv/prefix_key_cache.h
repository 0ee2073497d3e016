// Chunk keys of recently looked-up prompts, so that looking the same prompt up again costs
// a comparison of its tokens instead of hashing them again.
//
// Why: a scheduler asks for the cached prefix of every waiting request at every step until
// it runs (vLLM's connector calls lookup from its scheduler loop), and a 32k-token prompt
// takes ~6 us to hash but ~1 us to compare. The cache is exact: a remembered key is used
// for a chunk only when that chunk's tokens and every token before it equal the tokens the
// key was computed from. Keys are a pure function of the tokens (and the engine's seed), so
// this can never change what Lookup answers, only how fast.
//
// Only prompts seen twice are remembered: a doorkeeper table of recent prompts' last keys
// admits a prompt on its second sight, so a one-off prompt costs nothing extra (the
// token copy would cost a third of its hashing) and does not push others out.
//
// Bounded: at most kEntries prompts, each remembered up to kMaxTokens tokens and kMaxChunks
// chunks (~2 MiB in all); the least recently used prompt is replaced. Thread safety: every method
// may be called from any thread; matching takes a shared lock and runs concurrently.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>
#include <vector>

#include "ferry/kv/keys.h"

namespace ferry::kv {

class PrefixKeyCache {
 public:
  static constexpr size_t kEntries = 8;
  static constexpr size_t kMaxTokens = 65536;
  static constexpr size_t kMaxChunks = 1024;

  explicit PrefixKeyCache(uint32_t chunk_size)
      : chunk_size_(chunk_size), max_chunks_(std::min(kMaxChunks, kMaxTokens / chunk_size)) {}

  // Copies the keys of the longest run of leading full chunks of `tokens` that a
  // remembered prompt shares, at most `max` of them, into `out`; returns how many.
  size_t Match(std::span<const int32_t> tokens, ChunkKey* out, size_t max) const;

  // keys[i] is the key of full chunk i of `tokens` (keys.size() chunks), just hashed.
  // Remembers them (see Remember) if the same keys were offered recently.
  void Offer(std::span<const int32_t> tokens, std::span<const ChunkKey> keys);

  // Remembers the keys unconditionally. Replaces a remembered prompt that this one
  // extends, else the least recently used one.
  void Remember(std::span<const int32_t> tokens, std::span<const ChunkKey> keys);

 private:
  struct Entry {
    std::vector<int32_t> tokens;  // keys.size() full chunks
    std::vector<ChunkKey> keys;
    mutable std::atomic<uint64_t> last_use{0};
  };
  // Leading full chunks (at most `limit`) that `tokens` and `e` share.
  size_t CommonChunks(std::span<const int32_t> tokens, const Entry& e, size_t limit) const;

  const uint32_t chunk_size_;
  const size_t max_chunks_;  // chunks remembered per prompt
  mutable std::shared_mutex mu_;
  std::shared_ptr<const Entry> entries_[kEntries];
  mutable std::atomic<uint64_t> clock_{0};
  // Doorkeeper: fingerprints (last key, chunk count) of prompts offered once, by hash slot.
  static constexpr size_t kSeenSlots = 256;
  std::atomic<uint64_t> seen_[kSeenSlots] = {};
};

}  // namespace ferry::kv
