// XXH3 with the widest vector unit the CPU has. Debian's libxxhash is built for baseline
// x86-64 (SSE2), which makes hashing a 32k-token prompt cost ~30 us; the same code compiled
// for AVX2 and picked at run time is several times faster. XXH3's output does
// not depend on the vector unit, so keys and checksums stay identical across machines.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ferry/kv/keys.h"

namespace ferry::kv {

// key' = XXH3-128(prev.hi, prev.lo, count, tokens) — see keys.h.
ChunkKey ChainHash(const ChunkKey& prev, const int32_t* tokens, size_t count);
// XXH3-64 of a payload.
uint64_t Checksum64(const void* data, size_t len);

// Streaming XXH3-64: Digest() equals Checksum64 over everything passed to Update, in order.
// Lets a payload be hashed piece by piece while each piece is still in cache (the store
// path copies and hashes in one pass instead of two).
class ChecksumStream {
 public:
  ChecksumStream();
  void Update(const void* data, size_t len);
  uint64_t Digest() const;
  // XXH3_state_t's size and alignment, checked where xxhash.h is included.
  static constexpr size_t kStateBytes = 640;

 private:
  alignas(64) unsigned char state_[kStateBytes];
};

}  // namespace ferry::kv
