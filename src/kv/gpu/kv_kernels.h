// The engine's CUDA kernels: chunk gather and scatter between a caller's KV (contiguous,
// per-layer or vLLM's paged blocks) and a payload in device memory, and the per-block
// digests of ChecksumKind::kBlockXxh3. Plain launch wrappers; device_codec.cc owns the
// memory, the streams and the error reporting.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ferry::kv::gpu {

// Where token i of a chunk sits inside each (plane, layer) run of the caller's KV: slot
// s = slots ? slots[first + i] : first + i, at byte offset
//   block_size == 0:  s * row_bytes
//   else:             (s / block_size) * block_stride + (s % block_size) * row_bytes
// from the run's base. A slot outside [0, num_slots) is never touched: the kernel sets
// *bad instead (a plain store of 1, so *bad may be mapped host memory).
struct RowMap {
  const int64_t* slots = nullptr;  // device memory, or null for consecutive slots
  uint64_t first = 0;
  uint64_t row_bytes = 0;
  uint64_t block_size = 0;
  uint64_t block_stride = 0;
  uint64_t num_slots = 0;
};

// XXH3's default secret as little-endian words (block_hash.h).
struct HashSecret {
  uint64_t words[24];
};

// payload[(r * tokens + i) * row_bytes ...] = row i of run r; bases[r] (device memory) is
// run r's base address. runs <= 65535.
cudaError_t LaunchGather(const uint64_t* bases, uint32_t runs, uint32_t tokens, RowMap map,
                         uint8_t* payload, uint32_t* bad, cudaStream_t stream);
cudaError_t LaunchScatter(const uint64_t* bases, uint32_t runs, uint32_t tokens, RowMap map,
                          const uint8_t* payload, uint32_t* bad, cudaStream_t stream);
// digests[b] = XXH3-64(payload + b * 4096, 4096, seed b), for b < blocks.
cudaError_t LaunchBlockHashes(const uint8_t* payload, uint64_t blocks, const HashSecret& secret,
                              uint64_t* digests, cudaStream_t stream);

// LaunchGather, zeroing the payload's padding up to `blocks` * 4096 bytes, and
// LaunchBlockHashes in one pass: each 8-byte word is read from the KV once, written to
// the payload and hashed from the register, so the payload is never read back. Only for
// rows that are a whole number of 64-byte stripes at 8-byte aligned addresses
// (GatherHashesFit); `blocks` covers the runs * tokens rows.
bool GatherHashesFit(const RowMap& map, uint64_t bases_or, const uint8_t* payload);
cudaError_t LaunchGatherHashes(const uint64_t* bases, uint32_t runs, uint32_t tokens, RowMap map,
                               uint8_t* payload, uint64_t blocks, const HashSecret& secret,
                               uint64_t* digests, uint32_t* bad, cudaStream_t stream);

// dst[0, words) = src[0, words) by one block of threads: for a header between a page and
// mapped host memory without a copy-engine transfer.
cudaError_t LaunchCopyWords(uint64_t* dst, const uint64_t* src, uint32_t words,
                            cudaStream_t stream);

}  // namespace ferry::kv::gpu
