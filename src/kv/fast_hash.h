// XXH3 with the widest vector unit the CPU has. Debian's libxxhash is built for baseline
// x86-64 (SSE2); the same code compiled for AVX2 or AVX-512 and picked at run time hashes
// two to three times faster. XXH3's output does not depend on the vector unit, so keys and
// checksums stay identical across machines (tests compare every build the CPU can run).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ferry/kv/keys.h"

namespace ferry::kv {

// key' = XXH3-128(prev.hi, prev.lo, XXH3-128(tokens), count) — see keys.h.
ChunkKey ChainHash(const ChunkKey& prev, const int32_t* tokens, size_t count);
// The keys of `chunks` consecutive full chunks of `chunk_size` tokens starting at `tokens`,
// chained from `prev`, into out[0..chunks). Same result as calling ChainHash per chunk,
// but the chunks' token hashes run back to back, which lets the CPU overlap them.
void ChainHashRun(const ChunkKey& prev, const int32_t* tokens, size_t chunk_size, size_t chunks,
                  ChunkKey* out);
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

// One build of the functions above, for one vector unit.
struct HashImpl {
  const char* name;  // "sse2", "avx2", "avx512"
  ChunkKey (*chain)(const ChunkKey&, const int32_t*, size_t);
  void (*chain_run)(const ChunkKey&, const int32_t*, size_t, size_t, ChunkKey*);
  uint64_t (*checksum)(const void*, size_t);
  void (*reset)(void*);
  void (*update)(void*, const void*, size_t);
  uint64_t (*digest)(const void*);
};
// The builds this CPU can run, narrowest first; the last one is the one in use.
std::span<const HashImpl> UsableHashImpls();

}  // namespace ferry::kv
