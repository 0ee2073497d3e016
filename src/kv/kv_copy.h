// Copies between a caller's KV layout and a chunk payload [planes, layers, tokens, row].
#pragma once

#include <cstdint>

#include "ferry/kv/engine.h"

namespace ferry::kv {

// Checks that `kv` can be used with `g` (pointers present, per-layer vectors sized).
Status CheckLayout(const KvLayout& kv, const KvGeometry& g);

// Sequence tokens [t0, t0 + n) must lie inside the layout's window.
void GatherChunk(const KvLayout& kv, const KvGeometry& g, uint64_t t0, uint64_t n, uint8_t* dst);
void ScatterChunk(const uint8_t* src, const KvGeometry& g, uint64_t t0, uint64_t n,
                  const KvLayout& kv);

}  // namespace ferry::kv
