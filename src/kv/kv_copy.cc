// Layout copies: one memcpy per (plane, layer) run, so a chunk is 2 x layers copies.
#include "kv_copy.h"

#include <algorithm>
#include <cstring>

namespace ferry::kv {
namespace {

uint8_t* RowPtr(const KvLayout& kv, const KvGeometry& g, uint32_t plane, uint32_t layer,
                uint64_t row) {
  const uint64_t rb = g.RowBytes();
  if (kv.form == KvLayout::Form::kContiguous) {
    return static_cast<uint8_t*>(kv.base) +
           ((uint64_t{plane} * g.layers + layer) * kv.capacity_tokens + row) * rb;
  }
  void* base = plane == 0 ? kv.k[layer] : kv.v[layer];
  return static_cast<uint8_t*>(base) + row * rb;
}

}  // namespace

KvLayout KvLayout::Contiguous(void* base, uint64_t capacity_tokens, uint64_t first_token) {
  KvLayout l;
  l.form = Form::kContiguous;
  l.base = base;
  l.capacity_tokens = capacity_tokens;
  l.first_token = first_token;
  return l;
}

KvLayout KvLayout::PerLayer(std::vector<void*> k, std::vector<void*> v, uint64_t capacity_tokens,
                            uint64_t first_token) {
  KvLayout l;
  l.form = Form::kPerLayer;
  l.k = std::move(k);
  l.v = std::move(v);
  l.capacity_tokens = capacity_tokens;
  l.first_token = first_token;
  return l;
}

Status CheckLayout(const KvLayout& kv, const KvGeometry& g) {
  if (kv.kind != MemKind::kDram) {
    return Unsupported("KV layout: the engine reads and writes host (DRAM) KV memory; " +
                       std::string(MemKindName(kv.kind)) + " KV needs the GPU path");
  }
  if (kv.capacity_tokens == 0) return Status::Ok();  // an empty window stores nothing
  if (kv.form == KvLayout::Form::kContiguous) {
    if (kv.base == nullptr) return InvalidArgument("KV layout: contiguous base is null");
    return Status::Ok();
  }
  if (kv.k.size() != g.layers || (!g.mla && kv.v.size() != g.layers)) {
    return InvalidArgument("KV layout: per-layer form needs " + std::to_string(g.layers) + " K" +
                           (g.mla ? "" : " and V") + " pointers, got " +
                           std::to_string(kv.k.size()) + " and " + std::to_string(kv.v.size()));
  }
  for (uint32_t l = 0; l < g.layers; ++l) {
    if (kv.k[l] == nullptr || (!g.mla && kv.v[l] == nullptr)) {
      return InvalidArgument("KV layout: null pointer for layer " + std::to_string(l));
    }
  }
  return Status::Ok();
}

void GatherRange(const KvLayout& kv, const KvGeometry& g, uint64_t t0, uint64_t n, uint64_t from,
                 uint64_t to, uint8_t* payload) {
  const uint64_t run = n * g.RowBytes();
  const uint64_t row = t0 - kv.first_token;
  while (from < to) {
    // Payload runs are (plane, layer) in order, each `run` bytes.
    const uint64_t r = from / run;
    const uint64_t in_run = from % run;
    const uint64_t len = std::min(run - in_run, to - from);
    const auto p = static_cast<uint32_t>(r / g.layers);
    const auto l = static_cast<uint32_t>(r % g.layers);
    std::memcpy(payload + from, RowPtr(kv, g, p, l, row) + in_run, len);
    from += len;
  }
}

void ScatterChunk(const uint8_t* src, const KvGeometry& g, uint64_t t0, uint64_t n,
                  const KvLayout& kv) {
  const uint64_t run = n * g.RowBytes();
  const uint64_t row = t0 - kv.first_token;
  for (uint32_t p = 0; p < g.planes(); ++p) {
    for (uint32_t l = 0; l < g.layers; ++l) {
      std::memcpy(RowPtr(kv, g, p, l, row), src, run);
      src += run;
    }
  }
}

}  // namespace ferry::kv
