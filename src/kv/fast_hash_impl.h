// Included by fast_hash_sse2.cc and fast_hash_avx2.cc, each compiled for its target.
// Do not include elsewhere.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstring>

#include "ferry/kv/keys.h"

namespace ferry::kv::FAST_HASH_NS {

ChunkKey ChainHash(const ChunkKey& prev, const int32_t* tokens, size_t count) {
  const uint64_t head[3] = {prev.hi, prev.lo, count};
  // One-shot hashing of a copy is cheaper than streaming for chunk-sized inputs; both give
  // the same hash for the same bytes.
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

}  // namespace ferry::kv::FAST_HASH_NS
