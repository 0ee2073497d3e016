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
// token copy would cost a third of its hashing) and does not push others out. And only
// when it would be used again before it is pushed out: when the memo is full, a prompt
// whose two sights were further apart (in lookups) than the least recently used prompt's
// idle time is not admitted. So a scheduler cycling through more waiting prompts than the
// memo holds keeps a stable set of them memoized instead of copying each one in just
// before it is evicted.
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

  // `chunk_size` > 0 (the engine's configuration guarantees it).
  explicit PrefixKeyCache(uint32_t chunk_size)
      : chunk_size_(chunk_size),
        max_chunks_(chunk_size == 0 ? 0 : std::min(kMaxChunks, kMaxTokens / chunk_size)) {}

  // Most leading chunks remembered of one prompt.
  size_t max_chunks() const { return max_chunks_; }

  // Copies the keys of the longest run of leading full chunks of `tokens` that a
  // remembered prompt shares, at most `max` of them, into `out`; returns how many. Counts
  // one lookup on the memo's clock: call it once per lookup.
  size_t Match(std::span<const int32_t> tokens, ChunkKey* out, size_t max) const;

  // keys[i] is the key of full chunk i of `tokens` (keys.size() chunks), just hashed.
  // Remembers them if the same keys were offered before and the admission rule above
  // lets them in.
  void Offer(std::span<const int32_t> tokens, std::span<const ChunkKey> keys);

  // Remembers the keys; with `reuse_distance` (lookups between the prompt's last two
  // sights) only if a slot is free, the prompt extends a remembered one, or the least
  // recently used prompt has been idle for at least that long. Replaces a remembered
  // prompt that this one extends, else the least recently used one. A prompt that a
  // remembered one already covers changes nothing.
  void Remember(std::span<const int32_t> tokens, std::span<const ChunkKey> keys,
                uint64_t reuse_distance = 0);

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
  // Doorkeeper: fingerprint (last key, chunk count) of a prompt offered once, and the
  // clock when it was, by hash slot. The two words are not updated together: a torn pair
  // can only misjudge an admission.
  static constexpr size_t kSeenSlots = 256;
  struct Seen {
    std::atomic<uint64_t> fingerprint{0};
    std::atomic<uint64_t> at{0};
  };
  Seen seen_[kSeenSlots];
};

}  // namespace ferry::kv
