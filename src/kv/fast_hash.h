// XXH3 with the widest vector unit the CPU has. Debian's libxxhash is built for baseline
// x86-64 (SSE2), which makes hashing a 32k-token prompt cost ~30 us; the same code
// compiled for AVX2 and picked at run time is several times faster. XXH3's output does not
// depend on the vector unit, so keys and checksums stay identical across machines.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ferry/kv/keys.h"

namespace ferry::kv {

// key' = XXH3-128(prev.hi, prev.lo, count, tokens) — see keys.h.
ChunkKey ChainHash(const ChunkKey& prev, const int32_t* tokens, size_t count);
// XXH3-64 of a payload.
uint64_t Checksum64(const void* data, size_t len);

}  // namespace ferry::kv
