// Layout copies: one memcpy per (plane, layer) run, so a chunk is 2 x layers copies.
#include "kv_copy.h"

#include <algorithm>
#include <cstring>

namespace ferry::kv {

uint64_t BlockStride(const KvLayout& kv, const KvGeometry& g) {
  return kv.block_stride != 0 ? kv.block_stride : kv.block_size * g.RowBytes();
}

namespace {

// Row `row` of the window (token first_token + row) of one (plane, layer) run.
uint8_t* RowPtr(const KvLayout& kv, const KvGeometry& g, uint32_t plane, uint32_t layer,
                uint64_t row) {
  const uint64_t rb = g.RowBytes();
  if (kv.form == KvLayout::Form::kContiguous) {
    return static_cast<uint8_t*>(kv.base) +
           ((uint64_t{plane} * g.layers + layer) * kv.capacity_tokens + row) * rb;
  }
  auto* base = static_cast<uint8_t*>(plane == 0 ? kv.k[layer] : kv.v[layer]);
  if (kv.form == KvLayout::Form::kPerLayer) return base + row * rb;
  // Paged: slots were checked against num_blocks * block_size by CheckLayout.
  const auto slot = static_cast<uint64_t>(kv.slot_mapping[row]);
  return base + (slot / kv.block_size) * BlockStride(kv, g) + (slot % kv.block_size) * rb;
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

KvLayout KvLayout::Paged(std::vector<void*> k, std::vector<void*> v, const int64_t* slot_mapping,
                         uint64_t tokens, uint64_t block_size, uint64_t num_blocks,
                         uint64_t first_token) {
  KvLayout l;
  l.form = Form::kPaged;
  l.k = std::move(k);
  l.v = std::move(v);
  l.slot_mapping = slot_mapping;
  l.capacity_tokens = tokens;
  l.block_size = block_size;
  l.num_blocks = num_blocks;
  l.first_token = first_token;
  return l;
}

KvLayout KvLayout::OnGpu(uint64_t dev, void* cuda_stream) const {
  KvLayout l = *this;
  l.kind = MemKind::kVram;
  l.device = dev;
  l.stream = cuda_stream;
  return l;
}

Status CheckLayout(const KvLayout& kv, const KvGeometry& g) {
  if (kv.kind != MemKind::kDram && kv.kind != MemKind::kVram) {
    return InvalidArgument("KV layout: KV memory must be DRAM or VRAM, got " +
                           std::string(MemKindName(kv.kind)));
  }
  if (kv.capacity_tokens == 0) return Status::Ok();  // an empty window stores nothing
  if (kv.first_token > UINT64_MAX - kv.capacity_tokens) {
    return InvalidArgument("KV layout: first_token + capacity_tokens overflows");
  }
  if (kv.form == KvLayout::Form::kContiguous) {
    if (kv.base == nullptr) return InvalidArgument("KV layout: contiguous base is null");
    return Status::Ok();
  }
  if (kv.k.size() != g.layers || (!g.mla && kv.v.size() != g.layers)) {
    return InvalidArgument(
        "KV layout: " + std::string(kv.form == KvLayout::Form::kPaged ? "paged" : "per-layer") +
        " form needs " + std::to_string(g.layers) + " K" + (g.mla ? "" : " and V") +
        " pointers, got " + std::to_string(kv.k.size()) + " and " + std::to_string(kv.v.size()));
  }
  for (uint32_t l = 0; l < g.layers; ++l) {
    if (kv.k[l] == nullptr || (!g.mla && kv.v[l] == nullptr)) {
      return InvalidArgument("KV layout: null pointer for layer " + std::to_string(l));
    }
  }
  if (kv.form != KvLayout::Form::kPaged) return Status::Ok();
  if (kv.slot_mapping == nullptr)
    return InvalidArgument("KV layout: paged form needs a slot_mapping");
  if (kv.block_size == 0 || kv.num_blocks == 0) {
    return InvalidArgument("KV layout: paged form needs block_size and num_blocks > 0, got " +
                           std::to_string(kv.block_size) + " and " + std::to_string(kv.num_blocks));
  }
  uint64_t block_bytes = 0, slots = 0, span = 0;
  if (__builtin_mul_overflow(kv.block_size, g.RowBytes(), &block_bytes) ||
      __builtin_mul_overflow(kv.num_blocks, kv.block_size, &slots)) {
    return InvalidArgument("KV layout: num_blocks * block_size rows overflow 64 bits");
  }
  if (kv.block_stride != 0 && kv.block_stride < block_bytes) {
    return InvalidArgument("KV layout: block_stride " + std::to_string(kv.block_stride) +
                           " bytes is less than a block (" + std::to_string(kv.block_size) +
                           " rows of " + std::to_string(g.RowBytes()) + " bytes)");
  }
  if (__builtin_mul_overflow(kv.num_blocks, BlockStride(kv, g), &span)) {
    return InvalidArgument("KV layout: num_blocks * block_stride overflows 64 bits");
  }
  if (kv.kind == MemKind::kVram) return Status::Ok();  // the GPU checks its slots as it copies
  for (uint64_t i = 0; i < kv.capacity_tokens; ++i) {
    const int64_t s = kv.slot_mapping[i];
    if (s < 0 || static_cast<uint64_t>(s) >= slots) {
      return InvalidArgument("KV layout: slot_mapping[" + std::to_string(i) +
                             "] = " + std::to_string(s) + " is outside the cache's " +
                             std::to_string(slots) + " slots (num_blocks * block_size)");
    }
  }
  return Status::Ok();
}

// Paged rows are not adjacent: each copy stops at the end of its row there.
void GatherRange(const KvLayout& kv, const KvGeometry& g, uint64_t t0, uint64_t n, uint64_t from,
                 uint64_t to, uint8_t* payload) {
  const uint64_t rb = g.RowBytes();
  const uint64_t run = n * rb;
  const uint64_t row = t0 - kv.first_token;
  const bool paged = kv.form == KvLayout::Form::kPaged;
  while (from < to) {
    // Payload runs are (plane, layer) in order, each `run` bytes.
    const uint64_t r = from / run;
    const uint64_t in_run = from % run;
    uint64_t len = std::min(run - in_run, to - from);
    const auto p = static_cast<uint32_t>(r / g.layers);
    const auto l = static_cast<uint32_t>(r % g.layers);
    if (paged) len = std::min(len, rb - in_run % rb);
    const uint8_t* src = paged ? RowPtr(kv, g, p, l, row + in_run / rb) + in_run % rb
                               : RowPtr(kv, g, p, l, row) + in_run;
    std::memcpy(payload + from, src, len);
    from += len;
  }
}

void ScatterChunk(const uint8_t* src, const KvGeometry& g, uint64_t t0, uint64_t n,
                  const KvLayout& kv) {
  const uint64_t rb = g.RowBytes();
  const uint64_t run = n * rb;
  const uint64_t row = t0 - kv.first_token;
  for (uint32_t p = 0; p < g.planes(); ++p) {
    for (uint32_t l = 0; l < g.layers; ++l) {
      if (kv.form != KvLayout::Form::kPaged) {
        std::memcpy(RowPtr(kv, g, p, l, row), src, run);
        src += run;
        continue;
      }
      for (uint64_t t = 0; t < n; ++t, src += rb)
        std::memcpy(RowPtr(kv, g, p, l, row + t), src, rb);
    }
  }
}

}  // namespace ferry::kv
