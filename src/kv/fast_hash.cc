// Run-time choice between the baseline, AVX2 and AVX-512 builds of XXH3. The baseline
// build is SSE2 on x86-64 and the platform's own vectors elsewhere (NEON on aarch64); the
// wide builds exist on x86-64 only (FERRY_WIDE_HASH, set by CMake).
#include "fast_hash.h"

#include <vector>

namespace ferry::kv {

#define FERRY_DECLARE_HASH_NS(ns)                                                                  \
  namespace ns {                                                                                   \
  ChunkKey ChainHash(const ChunkKey& prev, const int32_t* tokens, size_t n);                       \
  void ChainHashRun(const ChunkKey& prev, const int32_t* tokens, size_t chunk_size, size_t chunks, \
                    ChunkKey* out);                                                                \
  uint64_t Checksum64(const void* data, size_t len);                                               \
  void StreamReset(void* state);                                                                   \
  void StreamUpdate(void* state, const void* data, size_t len);                                    \
  uint64_t StreamDigest(const void* state);                                                        \
  }
FERRY_DECLARE_HASH_NS(sse2)
#ifdef FERRY_WIDE_HASH
FERRY_DECLARE_HASH_NS(avx2)
FERRY_DECLARE_HASH_NS(avx512)
#endif
#undef FERRY_DECLARE_HASH_NS

namespace {

#define FERRY_HASH_IMPL(ns)                                                                  \
  HashImpl {                                                                                 \
#ns, ns::ChainHash, ns::ChainHashRun, ns::Checksum64, ns::StreamReset, ns::StreamUpdate, \
        ns::StreamDigest                                                                     \
  }

std::vector<HashImpl> Usable() {
  std::vector<HashImpl> v{FERRY_HASH_IMPL(sse2)};
#ifdef FERRY_WIDE_HASH
  __builtin_cpu_init();  // may run before libgcc's own initializer in a shared library
  if (__builtin_cpu_supports("avx2")) v.push_back(FERRY_HASH_IMPL(avx2));
  // The AVX-512 build is compiled for x86-64-v4 (F, BW, CD, DQ, VL). libgcc's check
  // includes the OS's consent (XCR0) to save the AVX-512 registers.
  if (__builtin_cpu_supports("x86-64-v4")) v.push_back(FERRY_HASH_IMPL(avx512));
#endif
  return v;
}
#undef FERRY_HASH_IMPL

const std::vector<HashImpl>& Impls() {
  static const std::vector<HashImpl> impls = Usable();
  return impls;
}

// Picked once: one indirect call per hash instead of a CPU check per call.
const HashImpl kFns = Impls().back();

}  // namespace

std::span<const HashImpl> UsableHashImpls() {
  return Impls();
}

ChunkKey ChainHash(const ChunkKey& prev, const int32_t* tokens, size_t count) {
  return kFns.chain(prev, tokens, count);
}

void ChainHashRun(const ChunkKey& prev, const int32_t* tokens, size_t chunk_size, size_t chunks,
                  ChunkKey* out) {
  kFns.chain_run(prev, tokens, chunk_size, chunks, out);
}

uint64_t Checksum64(const void* data, size_t len) {
  return kFns.checksum(data, len);
}

ChecksumStream::ChecksumStream() {
  kFns.reset(state_);
}

void ChecksumStream::Update(const void* data, size_t len) {
  kFns.update(state_, data, len);
}

uint64_t ChecksumStream::Digest() const {
  return kFns.digest(state_);
}

}  // namespace ferry::kv
