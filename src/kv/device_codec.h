// The GPU side of a staging buffer in GPU memory (nixl_buffer_device: cuda): chunks are
// gathered from the caller's GPU KV into a device page and scattered back by kernels on
// the caller's stream, checksummed on the GPU (ChecksumKind::kBlockXxh3: only eight bytes
// per 4 KiB block come to the host), and headers move between host and page. No payload
// byte crosses to the host on this path. The per-chunk results (digests, the bad-slot flag,
// headers) travel through mapped host memory, written and read by kernels, never by
// copy-engine transfers: those queue behind a storage backend's bulk copies to and from
// other pages, which made each call wait for them.
//
// Ownership: the file store opens one per engine and owns it; pages are the store's.
// Thread safety: calls for different pages may run at once from any threads.
// Errors: kInvalidArgument for KV that is not on this GPU or a slot outside the cache,
// kIoError (with the CUDA error's name) when the GPU fails, kUnsupported from
// OpenDeviceCodec in a build without CUDA.
#pragma once

#include <cstdint>
#include <memory>

#include "ferry/kv/engine.h"

namespace ferry::kv {

class DeviceCodec {
 public:
  virtual ~DeviceCodec() = default;
  virtual uint32_t device() const = 0;

  // A VRAM layout of this GPU whose every run (and slot mapping) lies inside device
  // allocations; CheckLayout (kv_copy.h) has checked its shape.
  virtual Status CheckLayout(const KvLayout& kv, const KvGeometry& g) = 0;

  // Copies tokens [t0, t0 + n) of `kv` into `payload` (device memory of page `page`),
  // zeroes the payload's padding to 4 KiB and computes its kBlockXxh3 checksum. Returns
  // once the GPU is done.
  virtual Status Gather(const KvLayout& kv, const KvGeometry& g, uint64_t t0, uint32_t n,
                        uint32_t page, uint8_t* payload, uint64_t* checksum) = 0;
  // The kBlockXxh3 checksum of `len` bytes at `payload` (zeroing its padding first, as
  // the definition pads with zeros), on `stream` (a cudaStream_t; null: this thread's).
  // With `header`, the kHeaderBytes before `payload` are copied there in the same wait.
  virtual Status Checksum(uint32_t page, uint8_t* payload, uint64_t len, void* stream,
                          uint64_t* checksum, uint8_t* header = nullptr) = 0;
  // Copies the chunk at `payload` back into tokens [t0, t0 + n) of `kv`. Returns once the
  // GPU is done (the page may be reused then).
  virtual Status Scatter(const uint8_t* payload, const KvGeometry& g, uint64_t t0, uint32_t n,
                         uint32_t page, const KvLayout& kv) = 0;

  // Copies the kHeaderBytes at `header` (host memory) to `dst`, the start of page `page`,
  // on `stream` (null: this thread's), and returns once the GPU is done.
  virtual Status PutHeader(uint32_t page, uint8_t* dst, const uint8_t* header, void* stream) = 0;

  // Synchronous copies between host memory and device memory of this GPU.
  virtual Status ToDevice(void* dst, const void* src, uint64_t len) = 0;
  virtual Status ToHost(void* dst, const void* src, uint64_t len) = 0;
};

// For `pages` pages of `page_bytes` on GPU `device`, KV of at most `max_runs`
// (planes * layers) runs.
Status OpenDeviceCodec(uint32_t device, uint32_t pages, uint64_t page_bytes, uint32_t max_runs,
                       std::unique_ptr<DeviceCodec>* out);

}  // namespace ferry::kv
