// Included by fast_hash_{sse2,avx2}.cc, each compiled for its target. Do not
// include elsewhere.
#define XXH_INLINE_ALL
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <cstring>

#include "fast_hash.h"

namespace ferry::kv::FAST_HASH_NS {

static_assert(sizeof(XXH3_state_t) <= ChecksumStream::kStateBytes);
static_assert(alignof(XXH3_state_t) <= 64);

// key' from the previous key and the tokens' own hash. Two levels: the tokens' hash does
// not depend on the previous key, so in a run of chunks the CPU overlaps one chunk's long
// hash with the previous chunk's short one, and only a 40-byte hash is on the chain
// (32k-token chain: p50 7.0 us vs 10.3 us for one hash over key + tokens).
static inline ChunkKey Chain(const ChunkKey& prev, const int32_t* tokens, size_t count) {
  const XXH128_hash_t d = XXH3_128bits(tokens, count * sizeof(int32_t));
  const uint64_t in[5] = {prev.hi, prev.lo, d.high64, d.low64, count};
  const XXH128_hash_t h = XXH3_128bits(in, sizeof in);
  return ChunkKey{h.high64, h.low64};
}

ChunkKey ChainHash(const ChunkKey& prev, const int32_t* tokens, size_t count) {
  return Chain(prev, tokens, count);
}

void ChainHashRun(const ChunkKey& prev, const int32_t* tokens, size_t chunk_size, size_t chunks,
                  ChunkKey* out) {
  ChunkKey key = prev;
  for (size_t i = 0; i < chunks; ++i) {
    key = Chain(key, tokens + i * chunk_size, chunk_size);
    out[i] = key;
  }
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
