// Run-time choice between the SSE2 and AVX2 builds of XXH3.
#include "fast_hash.h"

namespace ferry::kv {
namespace sse2 {
ChunkKey ChainHash(const ChunkKey& prev, const int32_t* tokens, size_t count);
uint64_t Checksum64(const void* data, size_t len);
}  // namespace sse2
namespace avx2 {
ChunkKey ChainHash(const ChunkKey& prev, const int32_t* tokens, size_t count);
uint64_t Checksum64(const void* data, size_t len);
}  // namespace avx2
namespace {

const bool kHaveAvx2 = __builtin_cpu_supports("avx2");

}  // namespace

ChunkKey ChainHash(const ChunkKey& prev, const int32_t* tokens, size_t count) {
  return kHaveAvx2 ? avx2::ChainHash(prev, tokens, count) : sse2::ChainHash(prev, tokens, count);
}

uint64_t Checksum64(const void* data, size_t len) {
  return kHaveAvx2 ? avx2::Checksum64(data, len) : sse2::Checksum64(data, len);
}

}  // namespace ferry::kv
