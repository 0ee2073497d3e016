// Token chunk keys: XXH3-128 prefix chain (see keys.h for the definition).
#include "ferry/kv/keys.h"

#include "fast_hash.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

namespace ferry::kv {
namespace {

// Appends integers in a fixed byte order so the seed is the same on every host.
void PutU64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

ChunkKey FromHash(const XXH128_hash_t& h) {
  return ChunkKey{h.high64, h.low64};
}

}  // namespace

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kBf16:
      return "bf16";
    case DType::kFp16:
      return "fp16";
    case DType::kFp32:
      return "fp32";
    case DType::kFp8:
      return "fp8";
  }
  return "?";
}

std::optional<DType> ParseDType(std::string_view name) {
  if (name == "bf16" || name == "bfloat16") return DType::kBf16;
  if (name == "fp16" || name == "float16" || name == "half") return DType::kFp16;
  if (name == "fp32" || name == "float32" || name == "float") return DType::kFp32;
  if (name == "fp8" || name == "float8_e4m3fn") return DType::kFp8;
  return std::nullopt;
}

uint32_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kBf16:
    case DType::kFp16:
      return 2;
    case DType::kFp32:
      return 4;
    case DType::kFp8:
      return 1;
  }
  return 0;
}

uint64_t KvGeometry::RowBytes() const {
  return uint64_t{kv_heads} * head_size * DTypeSize(dtype);
}

uint64_t KvGeometry::BytesPerToken() const {
  return uint64_t{planes()} * layers * RowBytes();
}

bool KvGeometry::Valid() const {
  // The bounds keep BytesPerToken far from overflow (at most 2^43).
  return layers > 0 && layers <= 4096 && kv_heads > 0 && kv_heads <= 4096 && head_size > 0 &&
         head_size <= 65536 && DTypeSize(dtype) > 0 && (!mla || kv_heads == 1);
}

std::string ChunkKey::Hex() const {
  static const char* kDigits = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[15 - i] = kDigits[(hi >> (4 * i)) & 0xf];
    out[31 - i] = kDigits[(lo >> (4 * i)) & 0xf];
  }
  return out;
}

ChunkKey ChainSeed(const ModelId& model, const KvGeometry& g, uint32_t chunk_size) {
  std::string buf = "ferry-kv-chain-v1";
  PutU64(&buf, model.model_name.size());
  buf += model.model_name;
  PutU64(&buf, model.world_size);
  PutU64(&buf, model.worker_id);
  PutU64(&buf, static_cast<uint64_t>(g.dtype));
  PutU64(&buf, g.layers);
  PutU64(&buf, g.kv_heads);
  PutU64(&buf, g.head_size);
  PutU64(&buf, g.mla ? 1 : 0);
  PutU64(&buf, chunk_size);
  return FromHash(XXH3_128bits(buf.data(), buf.size()));
}

ChunkKey NextKey(const ChunkKey& prev, std::span<const int32_t> chunk_tokens) {
  // The token count is hashed too, so a partial chunk never equals a full one.
  return ChainHash(prev, chunk_tokens.data(), chunk_tokens.size());
}

std::vector<ChunkKey> ChunkKeys(const ChunkKey& seed, std::span<const int32_t> tokens,
                                uint32_t chunk_size, bool include_partial, size_t max_chunks) {
  std::vector<ChunkKey> keys;
  if (chunk_size == 0) return keys;
  const size_t full = std::min(max_chunks, tokens.size() / chunk_size);
  const bool partial =
      include_partial && tokens.size() % chunk_size != 0 && tokens.size() / chunk_size < max_chunks;
  keys.resize(full + (partial ? 1 : 0));
  ChainHashRun(seed, tokens.data(), chunk_size, full, keys.data());
  if (partial) {
    const size_t begin = full * chunk_size;
    keys[full] = NextKey(full > 0 ? keys[full - 1] : seed, tokens.subspan(begin));
  }
  return keys;
}

}  // namespace ferry::kv
