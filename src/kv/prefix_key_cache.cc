// See prefix_key_cache.h.
#include "prefix_key_cache.h"

#include <algorithm>
#include <cstring>
#include <mutex>

namespace ferry::kv {

size_t PrefixKeyCache::CommonChunks(std::span<const int32_t> tokens, const Entry& e,
                                    size_t limit) const {
  // Blocks of 16 chunks, then chunk by chunk inside the first block that differs: the
  // usual case, the same prompt again, is a few long memcmps, and a prompt that forks
  // from a remembered one is compared about once.
  constexpr size_t kBlock = 16;
  const size_t chunk_bytes = size_t{chunk_size_} * sizeof(int32_t);
  size_t n = 0;
  while (n < limit) {
    const size_t b = std::min(kBlock, limit - n);
    const size_t at = n * chunk_size_;
    if (std::memcmp(tokens.data() + at, e.tokens.data() + at, b * chunk_bytes) == 0) {
      n += b;
      continue;
    }
    while (std::memcmp(tokens.data() + n * chunk_size_, e.tokens.data() + n * chunk_size_,
                       chunk_bytes) == 0) {
      ++n;  // stops inside this block: it differs somewhere
    }
    break;
  }
  return n;
}

size_t PrefixKeyCache::Match(std::span<const int32_t> tokens, ChunkKey* out, size_t max) const {
  const size_t want = std::min({max, tokens.size() / chunk_size_, max_chunks_});
  const uint64_t now = clock_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (want == 0) return 0;
  std::shared_lock<std::shared_mutex> lock(mu_);
  const Entry* best = nullptr;
  size_t best_n = 0;
  for (const auto& e : entries_) {
    if (!e) continue;
    const size_t limit = std::min(want, e->keys.size());
    // Cheap rejection first: most remembered prompts differ from this one in chunk 0, or
    // cannot beat the best match found so far.
    if (limit <= best_n || e->tokens[0] != tokens[0]) continue;
    const size_t n = CommonChunks(tokens, *e, limit);
    if (n > best_n) {
      best = e.get();
      best_n = n;
      if (n == want) break;
    }
  }
  if (best == nullptr) return 0;
  best->last_use.store(now, std::memory_order_relaxed);
  std::copy_n(best->keys.begin(), best_n, out);
  return best_n;
}

void PrefixKeyCache::Offer(std::span<const int32_t> tokens, std::span<const ChunkKey> keys) {
  const size_t n = std::min(keys.size(), max_chunks_);
  if (n == 0) return;
  // The last key stands for all the tokens before it. A false match (two prompts with one
  // fingerprint) only admits a prompt early.
  const uint64_t fp = (keys[n - 1].lo ^ (keys[n - 1].hi * 0x9E3779B97F4A7C15ull)) + n;
  Seen& seen = seen_[(fp >> 32) % kSeenSlots];
  const uint64_t now = clock_.load(std::memory_order_relaxed);
  if (seen.fingerprint.load(std::memory_order_relaxed) != fp) {
    seen.at.store(now, std::memory_order_relaxed);
    seen.fingerprint.store(fp, std::memory_order_relaxed);
    return;
  }
  // Second sight: the doorkeeper forgets it either way, so a prompt turned away is
  // judged again, on a fresh reuse distance, two sights later.
  const uint64_t first = seen.at.load(std::memory_order_relaxed);
  seen.fingerprint.store(0, std::memory_order_relaxed);
  Remember(tokens, keys.first(n), now > first ? now - first : 0);
}

void PrefixKeyCache::Remember(std::span<const int32_t> tokens, std::span<const ChunkKey> keys,
                              uint64_t reuse_distance) {
  const size_t n = std::min(keys.size(), max_chunks_);
  if (n == 0 || tokens.size() < n * chunk_size_) return;
  {
    // Cheap checks first, under the shared lock: already covered, or not worth a slot.
    std::shared_lock<std::shared_mutex> lock(mu_);
    bool free_or_extends = false;
    uint64_t oldest = UINT64_MAX;
    for (const auto& e : entries_) {
      if (!e) {
        free_or_extends = true;
        continue;
      }
      const size_t k = e->keys.size();
      if (k >= n && e->keys[n - 1] == keys[n - 1]) return;  // covers this prompt
      if (k < n && e->keys[k - 1] == keys[k - 1]) free_or_extends = true;
      oldest = std::min(oldest, e->last_use.load(std::memory_order_relaxed));
    }
    const uint64_t now = clock_.load(std::memory_order_relaxed);
    const uint64_t idle = now > oldest ? now - oldest : 0;
    if (!free_or_extends && reuse_distance > idle) return;
  }
  // Built outside the lock: the copy is the expensive part.
  auto e = std::make_shared<Entry>();
  e->tokens.assign(tokens.begin(), tokens.begin() + n * chunk_size_);
  e->keys.assign(keys.begin(), keys.begin() + n);
  e->last_use.store(clock_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  std::lock_guard<std::shared_mutex> lock(mu_);
  size_t victim = 0;
  uint64_t oldest = UINT64_MAX;
  bool empty_found = false;
  for (size_t i = 0; i < kEntries; ++i) {
    const auto& old = entries_[i];
    if (!old) {
      if (!empty_found) victim = i, empty_found = true;
      continue;
    }
    // A remembered prompt that this one covers entirely (a conversation that grew, or the
    // same prompt hashed twice by racing lookups) is replaced rather than kept twice.
    if (old->keys.size() <= n && old->keys.back() == e->keys[old->keys.size() - 1]) {
      victim = i;
      break;
    }
    const uint64_t used = old->last_use.load(std::memory_order_relaxed);
    if (!empty_found && used < oldest) victim = i, oldest = used;
  }
  entries_[victim] = std::move(e);
}

}  // namespace ferry::kv
