// On-storage format of one chunk: a 4 KiB header followed by the payload, padded to 4 KiB so
// the same bytes can be written with O_DIRECT. The header makes every chunk file
// self-describing: recovery rebuilds the index from headers alone, and every read checks
// the header and the payload checksum before any byte reaches the caller.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ferry/kv/keys.h"
#include "ferry/status.h"

namespace ferry::kv {

inline constexpr uint64_t kHeaderBytes = 4096;
inline constexpr uint64_t kAlign = 4096;
inline constexpr uint32_t kFormatVersion = 1;
// Every file the engine creates starts with this prefix; ls/verify/clear touch no others.
inline constexpr const char* kFilePrefix = "ferry-kv.";

inline uint64_t AlignUp(uint64_t v) {
  return (v + kAlign - 1) / kAlign * kAlign;
}
// Header + payload padded: the bytes one chunk occupies in the buffer and in its file.
inline uint64_t StoredBytes(uint64_t payload) {
  return kHeaderBytes + AlignUp(payload);
}

// Which checksum a chunk's payload carries (header byte; chunks written before it existed
// have 0 there and read as kXxh3).
//   kXxh3:      XXH3-64 of the whole payload. The host path's: one streaming pass, hashed
//               while each piece is in cache.
//   kBlockXxh3: XXH3-64, seeded with the payload length, of the little-endian array of
//               XXH3-64 digests of the payload's 4 KiB blocks, block i seeded with i (a
//               short last block is padded with zeros to 4 KiB, as it is stored). Every
//               block hashes independently, so a GPU computes it with eight threads per
//               block and no host copy of the payload (src/kv/gpu); XXH3 over the whole
//               payload is one sequential chain. Written by engines whose buffer is in
//               GPU memory; every engine reads both kinds.
enum class ChecksumKind : uint8_t { kXxh3 = 0, kBlockXxh3 = 1 };
inline constexpr uint64_t kChecksumBlock = 4096;
const char* ChecksumKindName(ChecksumKind kind);  // "xxh3-64", "block-xxh3-64"

struct ChunkHeader {
  ChunkKey key;
  ChunkKey seed;  // identifies model, rank and layout (keys.h ChainSeed)
  KvGeometry geometry;
  uint32_t chunk_size = 0;  // configured tokens per chunk
  uint32_t tokens = 0;      // tokens in this chunk (< chunk_size for a trailing chunk)
  uint64_t payload_bytes = 0;
  uint64_t payload_checksum = 0;  // of the payload, as checksum_kind says
  ChecksumKind checksum_kind = ChecksumKind::kXxh3;
  uint64_t generation = 0;  // store order; larger = more recently stored
  uint32_t world_size = 1;
  uint32_t worker_id = 0;
  std::string model_name;  // truncated to 127 bytes on disk
};

// Writes the header into `dst` (kHeaderBytes, zero-filled first).
void EncodeHeader(const ChunkHeader& h, void* dst);

// Parses and checks magic, version and the header's own checksum. kNotFound for an
// all-zero (empty or invalidated) header, kCorrupt with the reason otherwise.
Status DecodeHeader(const void* src, ChunkHeader* out);

uint64_t PayloadChecksum(const void* data, uint64_t len);  // kXxh3
uint64_t PayloadChecksum(ChecksumKind kind, const void* data, uint64_t len);
// Whether `payload` matches the checksum `h` carries.
bool PayloadMatches(const ChunkHeader& h, const void* payload);

// Deterministic names, derived only from hex digits and numbers (never from user input).
std::string PoolPrefix(const ChunkKey& seed, uint32_t worker_id);  // "ferry-kv.<16 hex>.w<id>"
// Static pool: "<prefix>.slot<N>". Dynamic mode: "<prefix>.k<key hex 32>.g<generation hex
// 16>": each store of a key writes a file of its own, so removing an evicted copy can never
// remove a newer one. Generation 0 names the files of releases before that ("<prefix>.k<key>").
std::string SlotFileName(std::string_view pool_prefix, uint32_t slot);
inline constexpr std::string_view kKeyFileMarker = ".k";
inline constexpr std::string_view kGenerationMarker = ".g";
std::string KeyFileName(std::string_view pool_prefix, const ChunkKey& key, uint64_t generation);
// The key and generation of a dynamic-mode file name of this pool; false for any other name.
bool ParseKeyFileName(std::string_view name, std::string_view pool_prefix, ChunkKey* key,
                      uint64_t* generation);

}  // namespace ferry::kv
