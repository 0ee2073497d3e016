// Kernels of kv_kernels.h. One CUDA block per (token, run) row for the copies, moving 16
// bytes per thread when the row allows it; eight threads per 4 KiB block for the hashes
// and for the gather fused with them.
#include "block_hash.h"
#include "kv_kernels.h"

namespace ferry::kv::gpu {
namespace {

constexpr uint32_t kCopyThreads = 128;
constexpr uint32_t kHashThreads = 256;

__device__ __forceinline__ bool RowAddress(const RowMap& m, uint32_t i, uint64_t* offset) {
  const int64_t s = m.slots != nullptr ? m.slots[m.first + i] : static_cast<int64_t>(m.first + i);
  if (s < 0 || static_cast<uint64_t>(s) >= m.num_slots) return false;
  const uint64_t slot = static_cast<uint64_t>(s);
  *offset = m.block_size == 0
                ? slot * m.row_bytes
                : (slot / m.block_size) * m.block_stride + (slot % m.block_size) * m.row_bytes;
  return true;
}

__device__ __forceinline__ void CopyRow(uint8_t* dst, const uint8_t* src, uint64_t n) {
  const bool wide =
      ((reinterpret_cast<uint64_t>(dst) | reinterpret_cast<uint64_t>(src) | n) & 15) == 0;
  if (wide) {
    auto* d = reinterpret_cast<uint4*>(dst);
    const auto* s = reinterpret_cast<const uint4*>(src);
    for (uint64_t w = threadIdx.x; w < n / 16; w += blockDim.x) d[w] = s[w];
  } else {
    for (uint64_t b = threadIdx.x; b < n; b += blockDim.x) dst[b] = src[b];
  }
}

template <bool kToPayload>
__global__ void CopyRows(const uint64_t* bases, uint32_t tokens, RowMap m, uint8_t* payload,
                         uint32_t* bad) {
  const uint32_t i = blockIdx.x;
  const uint32_t r = blockIdx.y;
  uint8_t* chunk_row = payload + (uint64_t{r} * tokens + i) * m.row_bytes;
  uint64_t offset = 0;
  if (!RowAddress(m, i, &offset)) {
    if (threadIdx.x == 0) *reinterpret_cast<volatile uint32_t*>(bad) = 1;
    return;
  }
  uint8_t* kv_row = reinterpret_cast<uint8_t*>(bases[r]) + offset;
  if (kToPayload)
    CopyRow(chunk_row, kv_row, m.row_bytes);
  else
    CopyRow(kv_row, chunk_row, m.row_bytes);
}

// Lane j of the eight threads of block b owns accumulator j (block_hash.h); every thread
// of the grid takes part in the shuffles, those past the last block on a copy of it.
__global__ void BlockHashes(const uint8_t* payload, uint64_t blocks, HashSecret secret,
                            uint64_t* digests) {
  using namespace xxh3;
  const uint64_t t = uint64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const uint32_t lane = threadIdx.x % kLanes;
  const uint64_t real = t / kLanes;
  const uint64_t b = real < blocks ? real : blocks - 1;
  const auto* words = reinterpret_cast<const uint64_t*>(payload + b * kHashBlock) + lane;
  const uint64_t* sec = secret.words;
  uint64_t acc = InitAcc(lane);
  // Unrolled so that the loads of many stripes are in flight before the first is used.
#pragma unroll 16
  for (uint32_t s = 0; s < 64; ++s) {
    const uint64_t data = words[s * (kStripe / 8)];
    const uint64_t other = __shfl_xor_sync(0xffffffffu, data, 1);
    acc += LaneProduct(data, SecretAt(sec, StripeSecret(s) + 8 * lane, b)) + other;
    if (ScrambleAfter(s)) acc = Scramble(acc, SecretAt(sec, kScrambleAt + 8 * lane, b));
  }
  const uint64_t odd = __shfl_xor_sync(0xffffffffu, acc, 1);
  uint64_t term = (lane & 1) == 0 ? MergeTerm(sec, lane / 2, acc, odd, b) : 0;
  term += __shfl_xor_sync(0xffffffffu, term, 2);
  term += __shfl_xor_sync(0xffffffffu, term, 4);
  if (lane == 0 && real < blocks) digests[b] = Finish(term);
}

// Where row q of the payload (run q / tokens, token q % tokens) comes from; null for the
// padding after the last row and for a slot outside the cache (flagged in *bad).
__device__ __forceinline__ const uint8_t* RowSource(const uint64_t* bases, uint32_t runs,
                                                    uint32_t tokens, const RowMap& m, uint64_t q,
                                                    uint32_t* bad) {
  if (q >= uint64_t{runs} * tokens) return nullptr;
  uint64_t offset = 0;
  if (!RowAddress(m, static_cast<uint32_t>(q % tokens), &offset)) {
    *reinterpret_cast<volatile uint32_t*>(bad) = 1;
    return nullptr;
  }
  return reinterpret_cast<const uint8_t*>(bases[q / tokens]) + offset;
}

// BlockHashes' lanes and schedule, each lane fetching its words from the KV rows instead
// of the payload and storing them there. A round's 16 words are loaded before any is
// hashed so that they are in flight together.
__global__ void GatherHashes(const uint64_t* bases, uint32_t runs, uint32_t tokens, RowMap m,
                             uint8_t* payload, uint64_t blocks, HashSecret secret,
                             uint64_t* digests, uint32_t* bad) {
  using namespace xxh3;
  const uint64_t t = uint64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const uint32_t lane = threadIdx.x % kLanes;
  const uint64_t real = t / kLanes;
  const bool mine = real < blocks;
  const uint64_t b = mine ? real : blocks - 1;
  uint64_t q = b * kHashBlock / m.row_bytes;
  // The lane's byte inside the current row; a stripe never straddles two rows.
  uint64_t within = b * kHashBlock % m.row_bytes + 8 * lane;
  const uint8_t* src = RowSource(bases, runs, tokens, m, q, bad);
  uint64_t* out = reinterpret_cast<uint64_t*>(payload + b * kHashBlock) + lane;
  const uint64_t* sec = secret.words;
  uint64_t acc = InitAcc(lane);
  for (uint32_t round = 0; round < 4; ++round) {
    uint64_t w[kStripesPerRound];
#pragma unroll
    for (uint32_t k = 0; k < kStripesPerRound; ++k) {
      w[k] = src != nullptr ? *reinterpret_cast<const uint64_t*>(src + within) : 0;
      within += kStripe;
      if (within >= m.row_bytes) {
        within -= m.row_bytes;
        src = RowSource(bases, runs, tokens, m, ++q, bad);
      }
    }
#pragma unroll
    for (uint32_t k = 0; k < kStripesPerRound; ++k) {
      const uint32_t s = round * kStripesPerRound + k;
      if (mine) out[s * (kStripe / 8)] = w[k];
      const uint64_t other = __shfl_xor_sync(0xffffffffu, w[k], 1);
      acc += LaneProduct(w[k], SecretAt(sec, StripeSecret(s) + 8 * lane, b)) + other;
      if (ScrambleAfter(s)) acc = Scramble(acc, SecretAt(sec, kScrambleAt + 8 * lane, b));
    }
  }
  const uint64_t odd = __shfl_xor_sync(0xffffffffu, acc, 1);
  uint64_t term = (lane & 1) == 0 ? MergeTerm(sec, lane / 2, acc, odd, b) : 0;
  term += __shfl_xor_sync(0xffffffffu, term, 2);
  term += __shfl_xor_sync(0xffffffffu, term, 4);
  if (lane == 0 && mine) digests[b] = Finish(term);
}

__global__ void CopyWords(uint64_t* dst, const uint64_t* src, uint32_t words) {
  for (uint32_t w = threadIdx.x; w < words; w += blockDim.x) dst[w] = src[w];
}

uint32_t CopyThreads(uint64_t row_bytes) {
  const uint64_t units = row_bytes % 16 == 0 ? row_bytes / 16 : row_bytes;
  const uint64_t warps = (units + 31) / 32;
  return static_cast<uint32_t>(warps >= kCopyThreads / 32 ? kCopyThreads : warps * 32);
}

}  // namespace

cudaError_t LaunchGather(const uint64_t* bases, uint32_t runs, uint32_t tokens, RowMap map,
                         uint8_t* payload, uint32_t* bad, cudaStream_t stream) {
  if (runs == 0 || tokens == 0) return cudaSuccess;
  CopyRows<true><<<dim3(tokens, runs), CopyThreads(map.row_bytes), 0, stream>>>(bases, tokens, map,
                                                                                payload, bad);
  return cudaGetLastError();
}

cudaError_t LaunchScatter(const uint64_t* bases, uint32_t runs, uint32_t tokens, RowMap map,
                          const uint8_t* payload, uint32_t* bad, cudaStream_t stream) {
  if (runs == 0 || tokens == 0) return cudaSuccess;
  CopyRows<false><<<dim3(tokens, runs), CopyThreads(map.row_bytes), 0, stream>>>(
      bases, tokens, map, const_cast<uint8_t*>(payload), bad);
  return cudaGetLastError();
}

bool GatherHashesFit(const RowMap& map, uint64_t bases_or, const uint8_t* payload) {
  const uint64_t addresses = bases_or | map.block_stride | reinterpret_cast<uint64_t>(payload);
  return map.row_bytes != 0 && map.row_bytes % xxh3::kStripe == 0 && addresses % 8 == 0;
}

cudaError_t LaunchGatherHashes(const uint64_t* bases, uint32_t runs, uint32_t tokens, RowMap map,
                               uint8_t* payload, uint64_t blocks, const HashSecret& secret,
                               uint64_t* digests, uint32_t* bad, cudaStream_t stream) {
  if (blocks == 0) return cudaSuccess;
  const uint64_t grid = (blocks * kLanes + kHashThreads - 1) / kHashThreads;
  if (grid > 0x7fffffffu) return cudaErrorInvalidValue;
  GatherHashes<<<static_cast<uint32_t>(grid), kHashThreads, 0, stream>>>(
      bases, runs, tokens, map, payload, blocks, secret, digests, bad);
  return cudaGetLastError();
}

cudaError_t LaunchBlockHashes(const uint8_t* payload, uint64_t blocks, const HashSecret& secret,
                              uint64_t* digests, cudaStream_t stream) {
  if (blocks == 0) return cudaSuccess;
  const uint64_t threads = blocks * kLanes;
  const uint64_t grid = (threads + kHashThreads - 1) / kHashThreads;
  if (grid > 0x7fffffffu) return cudaErrorInvalidValue;
  BlockHashes<<<static_cast<uint32_t>(grid), kHashThreads, 0, stream>>>(payload, blocks, secret,
                                                                        digests);
  return cudaGetLastError();
}

cudaError_t LaunchCopyWords(uint64_t* dst, const uint64_t* src, uint32_t words,
                            cudaStream_t stream) {
  if (words == 0) return cudaSuccess;
  CopyWords<<<1, 256, 0, stream>>>(dst, src, words);
  return cudaGetLastError();
}

}  // namespace ferry::kv::gpu
