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

// key' from the previous key and the chunk tokens' own hash `d` (see keys.h).
static inline ChunkKey Link(const ChunkKey& prev, const XXH128_hash_t& d, size_t count) {
  const uint64_t in[5] = {prev.hi, prev.lo, d.high64, d.low64, count};
  const XXH128_hash_t h = XXH3_128bits(in, sizeof in);
  return ChunkKey{h.high64, h.low64};
}

ChunkKey ChainHash(const ChunkKey& prev, const int32_t* tokens, size_t count) {
  return Link(prev, XXH3_128bits(tokens, count * sizeof(int32_t)), count);
}

// The keys of a run of chunks. Two levels: a chunk's token hash does not depend on the
// previous key, so only the 40-byte Link is on the chain. Per block of chunks, every token
// hash first, then the links: the out-of-order core overlaps the links with each other
// better than with the long hashes between them. `TokenHash` hashes one chunk's tokens.
// Device machine (KVM, Xeon), 32k-token run, p10 in us, one binary, two rounds at 04:41:
// chunk by chunk 10.8 / 11.0; blocks 9.2 / 9.3; blocks + Hash256Tokens 7.4 / 7.6. On the
// development VM blocks alone were level with chunk by chunk.
template <typename TokenHash>
static inline void ChainBlocks(ChunkKey key, const int32_t* tokens, size_t chunk_size,
                               size_t chunks, ChunkKey* out, TokenHash token_hash) {
  constexpr size_t kBlock = 16;
  XXH128_hash_t d[kBlock];
  for (size_t at = 0; at < chunks; at += kBlock) {
    const size_t n = chunks - at < kBlock ? chunks - at : kBlock;
    for (size_t i = 0; i < n; ++i) d[i] = token_hash(tokens + (at + i) * chunk_size);
    for (size_t i = 0; i < n; ++i) out[at + i] = key = Link(key, d[i], chunk_size);
  }
}

// XXH3-128 of one 256-token chunk (1 KiB). Same value as XXH3_128bits(tokens, 1024), but
// with xxHash 0.8.1 (Debian 12's) it calls XXH3's long-input routine with the length a
// compile-time constant: the routine is then straight-line code for exactly 16 stripes
// rather than a loop over a run-time length (figures above). The routine is an
// internal of xxhash.h (visible with XXH_INLINE_ALL) whose signature changes between
// releases, hence the version check; any other version takes the public call.
// tests/kv/fast_hash_test.cc checks the result against the shared library's.
static inline XXH128_hash_t Hash256Tokens(const int32_t* tokens) {
#if XXH_VERSION_NUMBER == 801
  return XXH3_hashLong_128b_internal(tokens, 1024, XXH3_kSecret, sizeof(XXH3_kSecret),
                                     XXH3_accumulate_512, XXH3_scrambleAcc);
#else
  return XXH3_128bits(tokens, 1024);
#endif
}

void ChainHashRun(const ChunkKey& prev, const int32_t* tokens, size_t chunk_size, size_t chunks,
                  ChunkKey* out) {
  if (chunk_size == 256) {  // LMCache's and Ferry's default chunk size
    ChainBlocks(prev, tokens, 256, chunks, out, [](const int32_t* t) { return Hash256Tokens(t); });
  } else {
    ChainBlocks(prev, tokens, chunk_size, chunks, out, [chunk_size](const int32_t* t) {
      return XXH3_128bits(t, chunk_size * sizeof(int32_t));
    });
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
