// DeviceCodec over the CUDA runtime: per page a table of run addresses in device memory
// (with a host mirror, uploaded when it changes), and block digests, a bad-slot flag and
// a header in mapped pinned host memory that the kernels write and read directly, so a
// call is one or two launches on the caller's stream and one synchronize, and never
// waits in a copy engine's queue behind a backend's transfers.
#define XXH_STATIC_LINKING_ONLY  // XXH3_generateSecret_fromSeed
#include <cuda_runtime_api.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "block_hash.h"
#include "device_memory.h"
#include "kv/device_codec.h"
#include "kv/kv_copy.h"
#include "kv/slot_format.h"
#include "kv_kernels.h"

namespace ferry::kv {
namespace {

using gpu::HashSecret;
using gpu::RowMap;

Status GpuError(const char* what, cudaError_t err) {
  return Status(Code::kIoError, std::string("GPU ") + what + ": " + cuda::CudaErrorText(err));
}

cudaStream_t StreamOf(void* stream) {
  return stream != nullptr ? static_cast<cudaStream_t>(stream) : cudaStreamPerThread;
}

class CudaCodec final : public DeviceCodec {
 public:
  ~CudaCodec() override {
    cuda::ScopedDevice on(device_);
    if (copy_stream_ != nullptr) cudaStreamDestroy(copy_stream_);
    if (tables_ != nullptr) cuda::FreeDevice(tables_, device_);
    if (host_ != nullptr) cuda::FreePinned(host_);
  }

  Status Init(uint32_t device, uint32_t pages, uint64_t page_bytes, uint32_t max_runs) {
    device_ = device;
    std::string why;
    const int count = cuda::DeviceCount(&why);
    if (device >= static_cast<uint32_t>(count)) {
      return InvalidArgument("nixl_buffer_device 'cuda': GPU " + std::to_string(device) +
                             " does not exist (" + std::to_string(count) + " GPUs" +
                             (why.empty() ? "" : ": " + why) + ")");
    }
    max_runs_ = max_runs;
    blocks_ = AlignUp(page_bytes) / gpu::kHashBlock;
    // Per page in host memory: the run table's mirror, digests, flag (8 bytes), a header;
    // in device memory: the run table.
    stride_ = (uint64_t{max_runs} + blocks_ + 1) * 8 + kHeaderBytes;
    const uint32_t n = std::max<uint32_t>(pages, 1);
    Status s = cuda::AllocDevice(uint64_t{max_runs} * 8 * n, device, &tables_);
    if (s.ok()) s = cuda::AllocPinned(stride_ * n, &host_);
    if (!s.ok()) return s.WithContext("allocating the GPU checksum tables");
    if (const cudaError_t err = cudaHostGetDevicePointer(&mapped_, host_, 0); err != cudaSuccess)
      return GpuError("mapping the checksum tables", err);
    uploaded_.assign(n, 0);
    // ToDevice and ToHost copy on a stream of their own that does not wait for the legacy
    // default stream, so they never wait for a caller's unrelated GPU work.
    cuda::ScopedDevice on(device);
    if (!on.status().ok()) return on.status();
    const cudaError_t err = cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking);
    if (err != cudaSuccess) return GpuError("creating a stream", err);
    unsigned char secret[192];
    XXH3_generateSecret_fromSeed(secret, 0);  // seed 0: XXH3's default secret
    std::memcpy(secret_.words, secret, sizeof(secret));
    return Status::Ok();
  }

  uint32_t device() const override { return device_; }

  Status CheckLayout(const KvLayout& kv, const KvGeometry& g) override {
    if (kv.kind != MemKind::kVram) {
      return InvalidArgument(
          "KV layout: the engine's buffer is in GPU memory (nixl_buffer_device cuda) and takes "
          "KV in GPU memory (VRAM); this KV is " +
          std::string(MemKindName(kv.kind)));
    }
    if (kv.device != device_) {
      return InvalidArgument("KV layout: KV is on GPU " + std::to_string(kv.device) +
                             ", the engine's buffer on GPU " + std::to_string(device_));
    }
    if (kv.capacity_tokens == 0) return Status::Ok();
    const uint64_t rb = g.RowBytes();
    auto check = [&](const void* p, uint64_t len, const std::string& what) {
      Status s = cuda::CheckDeviceRange(reinterpret_cast<uint64_t>(p), len, device_);
      return s.ok() ? s : s.WithContext("KV layout: " + what);
    };
    uint64_t run_bytes = 0, all = 0;
    if (__builtin_mul_overflow(kv.capacity_tokens, rb, &run_bytes) ||
        __builtin_mul_overflow(run_bytes, uint64_t{g.planes()} * g.layers, &all)) {
      return InvalidArgument("KV layout: capacity_tokens rows overflow 64 bits");
    }
    if (kv.form == KvLayout::Form::kContiguous) return check(kv.base, all, "contiguous base");
    uint64_t span = run_bytes;
    if (kv.form == KvLayout::Form::kPaged) {
      span = (kv.num_blocks - 1) * BlockStride(kv, g) + kv.block_size * rb;  // CheckLayout: fits
      Status s = check(kv.slot_mapping, kv.capacity_tokens * 8, "slot_mapping");
      if (!s.ok()) return s;
    }
    for (uint32_t l = 0; l < g.layers; ++l) {
      Status s = check(kv.k[l], span, "K of layer " + std::to_string(l));
      if (s.ok() && !g.mla) s = check(kv.v[l], span, "V of layer " + std::to_string(l));
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  Status Gather(const KvLayout& kv, const KvGeometry& g, uint64_t t0, uint32_t n, uint32_t page,
                uint8_t* payload, uint64_t* checksum) override {
    cuda::ScopedDevice on(device_);
    if (!on.status().ok()) return on.status();
    const cudaStream_t stream = StreamOf(kv.stream);
    RowMap map;
    uint64_t bases_or = 0;
    Status s = PrepareRuns(kv, g, t0, page, stream, &map, &bases_or);
    if (!s.ok()) return s;
    const uint64_t len = uint64_t{n} * g.BytesPerToken();
    const uint64_t blocks = AlignUp(len) / gpu::kHashBlock;
    if (blocks > blocks_) return InvalidArgument("GPU gather: chunk larger than a page");
    cudaError_t err = cudaSuccess;
    if (gpu::GatherHashesFit(map, bases_or, payload)) {
      err = gpu::LaunchGatherHashes(DevTable(page), Runs(g), n, map, payload, blocks, secret_,
                                    DevDigests(page), DevFlag(page), stream);
    } else {
      err = gpu::LaunchGather(DevTable(page), Runs(g), n, map, payload, DevFlag(page), stream);
      if (err == cudaSuccess) err = LaunchHashes(page, payload, len, stream);
    }
    if (err != cudaSuccess) return GpuError("gathering a chunk", err);
    bool bad = false;  // only a slot mapping can point outside
    s = Collect(page, len, stream, map.slots != nullptr ? &bad : nullptr, checksum);
    return s.ok() && bad ? BadSlot(kv) : s;
  }

  Status Checksum(uint32_t page, uint8_t* payload, uint64_t len, void* stream, uint64_t* checksum,
                  uint8_t* header) override {
    cuda::ScopedDevice on(device_);
    if (!on.status().ok()) return on.status();
    const cudaStream_t s = StreamOf(stream);
    if (header != nullptr) {
      const cudaError_t err = gpu::LaunchCopyWords(
          MappedHeader(page), reinterpret_cast<const uint64_t*>(payload - kHeaderBytes),
          kHeaderBytes / 8, s);
      if (err != cudaSuccess) return GpuError("copying a chunk header", err);
    }
    if (AlignUp(len) / gpu::kHashBlock > blocks_)
      return InvalidArgument("GPU checksum: payload larger than a page");
    const cudaError_t err = LaunchHashes(page, payload, len, s);
    if (err != cudaSuccess) return GpuError("checksumming a chunk", err);
    Status st = Collect(page, len, s, nullptr, checksum);
    if (st.ok() && header != nullptr) std::memcpy(header, HostHeader(page), kHeaderBytes);
    return st;
  }

  Status Scatter(const uint8_t* payload, const KvGeometry& g, uint64_t t0, uint32_t n,
                 uint32_t page, const KvLayout& kv) override {
    cuda::ScopedDevice on(device_);
    if (!on.status().ok()) return on.status();
    const cudaStream_t stream = StreamOf(kv.stream);
    RowMap map;
    uint64_t bases_or = 0;
    Status s = PrepareRuns(kv, g, t0, page, stream, &map, &bases_or);
    if (!s.ok()) return s;
    const bool paged = map.slots != nullptr;  // only a slot mapping can point outside
    cudaError_t err =
        gpu::LaunchScatter(DevTable(page), Runs(g), n, map, payload, DevFlag(page), stream);
    if (err == cudaSuccess) err = cudaStreamSynchronize(stream);
    if (err != cudaSuccess) return GpuError("scattering a chunk", err);
    return paged && *HostFlag(page) != 0 ? BadSlot(kv) : Status::Ok();
  }

  Status PutHeader(uint32_t page, uint8_t* dst, const uint8_t* header, void* stream) override {
    cuda::ScopedDevice on(device_);
    if (!on.status().ok()) return on.status();
    const cudaStream_t s = StreamOf(stream);
    std::memcpy(HostHeader(page), header, kHeaderBytes);
    cudaError_t err = gpu::LaunchCopyWords(reinterpret_cast<uint64_t*>(dst), MappedHeader(page),
                                           kHeaderBytes / 8, s);
    if (err == cudaSuccess) err = cudaStreamSynchronize(s);
    return err == cudaSuccess ? Status::Ok() : GpuError("writing a chunk header", err);
  }

  Status ToDevice(void* dst, const void* src, uint64_t len) override {
    return Copy(dst, src, len, cudaMemcpyHostToDevice, "copying to the buffer");
  }

  Status ToHost(void* dst, const void* src, uint64_t len) override {
    return Copy(dst, src, len, cudaMemcpyDeviceToHost, "copying from the buffer");
  }

 private:
  // A synchronous copy on the codec's own stream.
  Status Copy(void* dst, const void* src, uint64_t len, cudaMemcpyKind kind, const char* what) {
    cuda::ScopedDevice on(device_);
    if (!on.status().ok()) return on.status();
    cudaError_t err = cudaMemcpyAsync(dst, src, len, kind, copy_stream_);
    if (err == cudaSuccess) err = cudaStreamSynchronize(copy_stream_);
    return err == cudaSuccess ? Status::Ok() : GpuError(what, err);
  }

  static uint32_t Runs(const KvGeometry& g) { return g.planes() * g.layers; }
  uint64_t* DevTable(uint32_t page) const {
    return static_cast<uint64_t*>(tables_) + uint64_t{page} * max_runs_;
  }
  uint64_t* HostTable(uint32_t page) const {
    return reinterpret_cast<uint64_t*>(static_cast<uint8_t*>(host_) + page * stride_);
  }
  // The device's view of a host pointer into host_.
  template <typename T>
  T* Mapped(T* host) const {
    return reinterpret_cast<T*>(static_cast<uint8_t*>(mapped_) +
                                (reinterpret_cast<uint8_t*>(host) - static_cast<uint8_t*>(host_)));
  }
  uint64_t* HostDigests(uint32_t page) const { return HostTable(page) + max_runs_; }
  uint64_t* DevDigests(uint32_t page) const { return Mapped(HostDigests(page)); }
  uint32_t* HostFlag(uint32_t page) const {
    return reinterpret_cast<uint32_t*>(HostDigests(page) + blocks_);
  }
  uint32_t* DevFlag(uint32_t page) const { return Mapped(HostFlag(page)); }
  uint8_t* HostHeader(uint32_t page) const {
    return reinterpret_cast<uint8_t*>(HostDigests(page) + blocks_ + 1);
  }
  uint64_t* MappedHeader(uint32_t page) const {
    return reinterpret_cast<uint64_t*>(Mapped(HostHeader(page)));
  }

  static Status BadSlot(const KvLayout& kv) {
    return InvalidArgument("KV layout: slot_mapping holds a slot outside the cache's " +
                           std::to_string(kv.num_blocks * kv.block_size) +
                           " slots (num_blocks * block_size); those rows were not copied");
  }

  // The run addresses of `kv` go to the page's device table; `map` says where a token's
  // row is inside each run; `bases_or` is the bitwise or of the run addresses.
  Status PrepareRuns(const KvLayout& kv, const KvGeometry& g, uint64_t t0, uint32_t page,
                     cudaStream_t stream, RowMap* map, uint64_t* bases_or) {
    const uint32_t runs = Runs(g);
    if (runs > max_runs_ || runs > 65535) {
      return InvalidArgument("KV layout: " + std::to_string(runs) +
                             " (plane, layer) runs; the GPU path takes at most " +
                             std::to_string(std::min<uint32_t>(max_runs_, 65535)));
    }
    const uint64_t rb = g.RowBytes();
    // The page's table keeps what was last uploaded (every call waits for its copies): a
    // caller whose tensors stay put, as a server's do, skips the upload.
    uint64_t* table = HostTable(page);
    bool same = uploaded_[page] == runs;
    for (uint32_t r = 0; r < runs; ++r) {
      const uint32_t p = r / g.layers, l = r % g.layers;
      const uint64_t base =
          kv.form == KvLayout::Form::kContiguous
              ? reinterpret_cast<uint64_t>(kv.base) + uint64_t{r} * kv.capacity_tokens * rb
              : reinterpret_cast<uint64_t>(p == 0 ? kv.k[l] : kv.v[l]);
      same = same && table[r] == base;
      table[r] = base;
      *bases_or |= base;
    }
    map->row_bytes = rb;
    map->first = t0 - kv.first_token;
    map->num_slots = kv.capacity_tokens;
    if (kv.form == KvLayout::Form::kPaged) {
      map->slots = kv.slot_mapping;
      map->block_size = kv.block_size;
      map->block_stride = BlockStride(kv, g);
      map->num_slots = kv.num_blocks * kv.block_size;
    }
    cudaError_t err = cudaSuccess;
    if (!same) {
      uploaded_[page] = 0;  // until the copy is queued
      err = cudaMemcpyAsync(DevTable(page), table, uint64_t{runs} * 8, cudaMemcpyHostToDevice,
                            stream);
      if (err == cudaSuccess) uploaded_[page] = runs;
    }
    // The page's previous call has returned, so no kernel still writes the flag.
    if (map->slots != nullptr) *reinterpret_cast<volatile uint32_t*>(HostFlag(page)) = 0;
    return err == cudaSuccess ? Status::Ok() : GpuError("preparing a chunk copy", err);
  }

  // Zeroes the padding of a payload of `len` bytes (at most a page) and queues the hashes
  // of its blocks into the page's digests.
  cudaError_t LaunchHashes(uint32_t page, uint8_t* payload, uint64_t len, cudaStream_t stream) {
    cudaError_t err = cudaSuccess;
    if (AlignUp(len) > len) err = cudaMemsetAsync(payload + len, 0, AlignUp(len) - len, stream);
    if (err != cudaSuccess) return err;
    return gpu::LaunchBlockHashes(payload, AlignUp(len) / gpu::kHashBlock, secret_,
                                  DevDigests(page), stream);
  }

  // Waits for the kernels that write the page's digests of a `len`-byte payload (and, with
  // `bad`, the bad-slot flag) into host memory, combines the digests into the checksum.
  Status Collect(uint32_t page, uint64_t len, cudaStream_t stream, bool* bad, uint64_t* checksum) {
    const uint64_t blocks = AlignUp(len) / gpu::kHashBlock;
    const cudaError_t err = cudaStreamSynchronize(stream);
    if (err != cudaSuccess) return GpuError("checksumming a chunk", err);
    if (bad != nullptr) *bad = *HostFlag(page) != 0;
    // The digests are little-endian words, which is what the host holds too (x86-64 and
    // aarch64 Linux).
    *checksum = XXH3_64bits_withSeed(HostDigests(page), blocks * 8, len);
    return Status::Ok();
  }

  uint32_t device_ = 0;
  uint32_t max_runs_ = 0;
  uint64_t blocks_ = 0;             // digests per page
  uint64_t stride_ = 0;             // bytes per page of the tables
  void* tables_ = nullptr;          // device memory: max_runs_ words per page
  void* host_ = nullptr;            // pinned, mapped: stride_ bytes per page
  void* mapped_ = nullptr;          // the device's address of host_
  std::vector<uint32_t> uploaded_;  // per page: runs in its device table (0: unknown)
  cudaStream_t copy_stream_ = nullptr;
  HashSecret secret_{};
};

}  // namespace

Status OpenDeviceCodec(uint32_t device, uint32_t pages, uint64_t page_bytes, uint32_t max_runs,
                       std::unique_ptr<DeviceCodec>* out) {
  auto codec = std::make_unique<CudaCodec>();
  Status s = codec->Init(device, pages, page_bytes, max_runs);
  if (!s.ok()) return s;
  *out = std::move(codec);
  return Status::Ok();
}

}  // namespace ferry::kv
