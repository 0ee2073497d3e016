// Chunk header encoding. The struct below is the on-disk layout (little-endian hosts).
#include "slot_format.h"

#include "fast_hash.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace ferry::kv {
namespace {

constexpr char kMagic[8] = {'F', 'E', 'R', 'R', 'Y', 'K', 'V', '1'};

struct DiskHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t key_hi, key_lo;
  uint64_t seed_hi, seed_lo;
  uint32_t layers, kv_heads, head_size;
  uint8_t dtype, mla;
  uint8_t checksum_kind;  // ChecksumKind; 0 in chunks written before it existed
  uint8_t pad1;
  uint32_t chunk_size, tokens;
  uint64_t payload_bytes;
  uint64_t payload_checksum;
  uint64_t generation;
  uint32_t world_size, worker_id;
  char model_name[128];
  uint64_t header_checksum;  // XXH3-64 of every byte before this field
};
static_assert(sizeof(DiskHeader) < kHeaderBytes);
static_assert(offsetof(DiskHeader, header_checksum) % 8 == 0);

}  // namespace

void EncodeHeader(const ChunkHeader& h, void* dst) {
  std::memset(dst, 0, kHeaderBytes);
  DiskHeader d{};
  std::memcpy(d.magic, kMagic, sizeof(kMagic));
  d.version = kFormatVersion;
  d.header_bytes = kHeaderBytes;
  d.key_hi = h.key.hi;
  d.key_lo = h.key.lo;
  d.seed_hi = h.seed.hi;
  d.seed_lo = h.seed.lo;
  d.layers = h.geometry.layers;
  d.kv_heads = h.geometry.kv_heads;
  d.head_size = h.geometry.head_size;
  d.dtype = static_cast<uint8_t>(h.geometry.dtype);
  d.mla = h.geometry.mla ? 1 : 0;
  d.checksum_kind = static_cast<uint8_t>(h.checksum_kind);
  d.chunk_size = h.chunk_size;
  d.tokens = h.tokens;
  d.payload_bytes = h.payload_bytes;
  d.payload_checksum = h.payload_checksum;
  d.generation = h.generation;
  d.world_size = h.world_size;
  d.worker_id = h.worker_id;
  std::memcpy(d.model_name, h.model_name.data(),
              std::min(h.model_name.size(), sizeof(d.model_name) - 1));
  d.header_checksum = XXH3_64bits(&d, offsetof(DiskHeader, header_checksum));
  std::memcpy(dst, &d, sizeof(d));
}

Status DecodeHeader(const void* src, ChunkHeader* out) {
  DiskHeader d;
  std::memcpy(&d, src, sizeof(d));
  const auto* bytes = static_cast<const unsigned char*>(src);
  if (std::all_of(bytes, bytes + sizeof(d), [](unsigned char b) { return b == 0; })) {
    return NotFound("empty slot");
  }
  if (std::memcmp(d.magic, kMagic, sizeof(kMagic)) != 0) {
    return Status(Code::kCorrupt, "bad magic (not a Ferry chunk)");
  }
  if (d.header_checksum != XXH3_64bits(&d, offsetof(DiskHeader, header_checksum))) {
    return Status(Code::kCorrupt, "header checksum mismatch");
  }
  if (d.version != kFormatVersion || d.header_bytes != kHeaderBytes) {
    return Status(Code::kCorrupt, "unsupported format version " + std::to_string(d.version));
  }
  ChunkHeader h;
  h.key = {d.key_hi, d.key_lo};
  h.seed = {d.seed_hi, d.seed_lo};
  h.geometry.layers = d.layers;
  h.geometry.kv_heads = d.kv_heads;
  h.geometry.head_size = d.head_size;
  h.geometry.dtype = static_cast<DType>(d.dtype);
  h.geometry.mla = d.mla != 0;
  h.chunk_size = d.chunk_size;
  h.tokens = d.tokens;
  h.payload_bytes = d.payload_bytes;
  h.payload_checksum = d.payload_checksum;
  if (d.checksum_kind > static_cast<uint8_t>(ChecksumKind::kBlockXxh3))
    return Status(Code::kCorrupt,
                  "unknown payload checksum kind " + std::to_string(d.checksum_kind));
  h.checksum_kind = static_cast<ChecksumKind>(d.checksum_kind);
  h.generation = d.generation;
  h.world_size = d.world_size;
  h.worker_id = d.worker_id;
  d.model_name[sizeof(d.model_name) - 1] = '\0';
  h.model_name = d.model_name;
  if (!h.geometry.Valid() || h.tokens == 0 || h.tokens > h.chunk_size ||
      h.payload_bytes != h.geometry.BytesPerToken() * h.tokens) {
    return Status(Code::kCorrupt, "header geometry does not add up");
  }
  *out = std::move(h);
  return Status::Ok();
}

uint64_t PayloadChecksum(const void* data, uint64_t len) {
  return Checksum64(data, len);
}

const char* ChecksumKindName(ChecksumKind kind) {
  return kind == ChecksumKind::kBlockXxh3 ? "block-xxh3-64" : "xxh3-64";
}

uint64_t PayloadChecksum(ChecksumKind kind, const void* data, uint64_t len) {
  if (kind == ChecksumKind::kXxh3) return Checksum64(data, len);
  const auto* p = static_cast<const unsigned char*>(data);
  const uint64_t blocks = (len + kChecksumBlock - 1) / kChecksumBlock;
  std::vector<uint64_t> digests(blocks);
  unsigned char last[kChecksumBlock];  // the short last block, zero-padded
  for (uint64_t i = 0; i < blocks; ++i) {
    const uint64_t n = std::min(kChecksumBlock, len - i * kChecksumBlock);
    const unsigned char* block = p + i * kChecksumBlock;
    if (n < kChecksumBlock) {
      std::memcpy(last, block, n);
      std::memset(last + n, 0, kChecksumBlock - n);
      block = last;
    }
    const uint64_t d = XXH3_64bits_withSeed(block, kChecksumBlock, i);
    // Little-endian bytes whatever the host (the GPU writes them so).
    unsigned char le[8];
    for (int b = 0; b < 8; ++b) le[b] = static_cast<unsigned char>(d >> (8 * b));
    std::memcpy(&digests[i], le, 8);
  }
  return XXH3_64bits_withSeed(digests.data(), blocks * 8, len);
}

bool PayloadMatches(const ChunkHeader& h, const void* payload) {
  return PayloadChecksum(h.checksum_kind, payload, h.payload_bytes) == h.payload_checksum;
}

std::string PoolPrefix(const ChunkKey& seed, uint32_t worker_id) {
  return std::string(kFilePrefix) + seed.Hex().substr(0, 16) + ".w" + std::to_string(worker_id);
}

std::string SlotFileName(std::string_view pool_prefix, uint32_t slot) {
  return std::string(pool_prefix) + ".slot" + std::to_string(slot);
}

std::string KeyFileName(std::string_view pool_prefix, const ChunkKey& key, uint64_t generation) {
  std::string name = std::string(pool_prefix) + std::string(kKeyFileMarker) + key.Hex();
  if (generation == 0) return name;  // written before generations were in the name
  static const char* kDigits = "0123456789abcdef";
  std::string g(16, '0');
  for (int i = 0; i < 16; ++i) g[15 - i] = kDigits[(generation >> (4 * i)) & 0xf];
  return name + std::string(kGenerationMarker) + g;
}

namespace {
bool ParseHex(std::string_view hex, size_t digits, uint64_t* out) {
  if (hex.size() != digits) return false;
  uint64_t v = 0;
  for (char c : hex) {
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    v = v << 4 | uint64_t(d);
  }
  *out = v;
  return true;
}
}  // namespace

bool ParseKeyFileName(std::string_view name, std::string_view pool_prefix, ChunkKey* key,
                      uint64_t* generation) {
  const std::string want = std::string(pool_prefix) + std::string(kKeyFileMarker);
  if (!name.starts_with(want)) return false;
  name.remove_prefix(want.size());
  if (name.size() < 32 || !ParseHex(name.substr(0, 16), 16, &key->hi) ||
      !ParseHex(name.substr(16, 16), 16, &key->lo))
    return false;
  name.remove_prefix(32);
  if (name.empty()) {
    *generation = 0;
    return true;
  }
  if (!name.starts_with(kGenerationMarker)) return false;
  name.remove_prefix(kGenerationMarker.size());
  return ParseHex(name, 16, generation) && *generation != 0;
}

}  // namespace ferry::kv
