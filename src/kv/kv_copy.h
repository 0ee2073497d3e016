// Copies between a caller's KV layout and a chunk payload [planes, layers, tokens, row].
#pragma once

#include <cstdint>

#include "ferry/kv/engine.h"

namespace ferry::kv {

// Checks that `kv` can be used with `g` (pointers present, per-layer vectors sized, paged
// parameters consistent; host slot mappings inside the cache). Says nothing of whether
// the engine takes its memory kind (engine_io.cc).
Status CheckLayout(const KvLayout& kv, const KvGeometry& g);

// Bytes from one paged block's start to the next's.
uint64_t BlockStride(const KvLayout& kv, const KvGeometry& g);

// Sequence tokens [t0, t0 + n) must lie inside the layout's window.
// Copies payload bytes [from, to) of the chunk into payload + from: lets the store path
// fill a page block by block and hash each block while it is still in cache.
void GatherRange(const KvLayout& kv, const KvGeometry& g, uint64_t t0, uint64_t n, uint64_t from,
                 uint64_t to, uint8_t* payload);
void ScatterChunk(const uint8_t* src, const KvGeometry& g, uint64_t t0, uint64_t n,
                  const KvLayout& kv);

}  // namespace ferry::kv
