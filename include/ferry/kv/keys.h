// Chunk keys: a stable 128-bit prefix hash chain over token chunks.
//
// key_0 = XXH3-128(model name, world size, worker id, dtype, KV geometry, chunk size)
// key_i = XXH3-128(key_{i-1}, XXH3-128(tokens of chunk i), token count)
// so a chunk matches only when the whole prefix before it, the model, the rank and the
// layout all match. The hash is the same in every process and on every run (unlike a
// per-process string hash), which is what lets a restarted engine find its chunks again.
// Tokens are hashed as little-endian int32.
//
// Ownership/thread safety: value types and pure functions; use from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::kv {

enum class DType : uint8_t { kBf16 = 1, kFp16 = 2, kFp32 = 3, kFp8 = 4 };
const char* DTypeName(DType dtype);  // "bf16", "fp16", "fp32", "fp8"
std::optional<DType> ParseDType(std::string_view name);
uint32_t DTypeSize(DType dtype);

// The KV cache shape of one worker. Standard attention stores K and V per layer, each
// [tokens, kv_heads * head_size]. MLA stores one latent vector per token per layer
// ([tokens, head_size], kv_heads must be 1).
struct KvGeometry {
  uint32_t layers = 0;
  uint32_t kv_heads = 0;
  uint32_t head_size = 0;
  DType dtype = DType::kBf16;
  bool mla = false;

  uint32_t planes() const { return mla ? 1 : 2; }  // K and V, or one latent
  uint64_t RowBytes() const;                       // one token of one layer of one plane
  uint64_t BytesPerToken() const;                  // all layers and planes
  bool Valid() const;
  friend bool operator==(const KvGeometry&, const KvGeometry&) = default;
};

struct ModelId {
  std::string model_name;
  uint32_t world_size = 1;
  uint32_t worker_id = 0;
};

struct ChunkKey {
  uint64_t hi = 0;
  uint64_t lo = 0;
  std::string Hex() const;  // 32 lower-case hex digits, hi first
  friend bool operator==(const ChunkKey&, const ChunkKey&) = default;
};

struct ChunkKeyHash {
  size_t operator()(const ChunkKey& k) const { return static_cast<size_t>(k.lo ^ (k.hi >> 7)); }
};

// key_0 for a model/rank/layout/chunk size.
ChunkKey ChainSeed(const ModelId& model, const KvGeometry& geometry, uint32_t chunk_size);

// key_i from key_{i-1} and the tokens of chunk i (full or trailing partial).
ChunkKey NextKey(const ChunkKey& prev, std::span<const int32_t> chunk_tokens);

// Keys of consecutive chunks of `tokens`: one per full chunk, plus one for the trailing
// partial chunk when `include_partial`. `max_chunks` stops early (lookups that miss).
std::vector<ChunkKey> ChunkKeys(const ChunkKey& seed, std::span<const int32_t> tokens,
                                uint32_t chunk_size, bool include_partial,
                                size_t max_chunks = SIZE_MAX);

}  // namespace ferry::kv
