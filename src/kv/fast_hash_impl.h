// Included by fast_hash_{sse2,avx2,avx512}.cc, each compiled for its target. Do not
// include elsewhere.
#define XXH_INLINE_ALL
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <cstring>

#include "fast_hash.h"

namespace ferry::kv::FAST_HASH_NS {

static_assert(sizeof(XXH3_state_t) <= ChecksumStream::kStateBytes);
static_assert(alignof(XXH3_state_t) <= 64);

ChunkKey ChainHash(const ChunkKey& prev, const int32_t* tokens, size_t count) {
  const uint64_t head[3] = {prev.hi, prev.lo, count};
  // One-shot hashing of a copy is cheaper than streaming for chunk-sized inputs (the
  // state reset alone costs as much as the copy); both give the same hash.
  constexpr size_t kMaxCopy = 4096;
  if (count <= kMaxCopy) {
    alignas(64) unsigned char buf[sizeof(head) + kMaxCopy * sizeof(int32_t)];
    std::memcpy(buf, head, sizeof(head));
    std::memcpy(buf + sizeof(head), tokens, count * sizeof(int32_t));
    const XXH128_hash_t h = XXH3_128bits(buf, sizeof(head) + count * sizeof(int32_t));
    return ChunkKey{h.high64, h.low64};
  }
  XXH3_state_t state;
  XXH3_128bits_reset(&state);
  XXH3_128bits_update(&state, head, sizeof(head));
  XXH3_128bits_update(&state, tokens, count * sizeof(int32_t));
  const XXH128_hash_t h = XXH3_128bits_digest(&state);
  return ChunkKey{h.high64, h.low64};
}

uint64_t Checksum64(const void* data, size_t len) {
  return XXH3_64bits(data, len);
}

void StreamReset(void* state) {
  XXH3_64bits_reset(static_cast<XXH3_state_t*>(state));
}

void StreamUpdate(void* state, const void* data, size_t len) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state), data, len);
}

uint64_t StreamDigest(const void* state) {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state));
}

}  // namespace ferry::kv::FAST_HASH_NS
