#include "bounce_stager.h"

#include <cuda_runtime_api.h>
#include <sys/mman.h>

#include <algorithm>

#include "device_memory.h"

namespace ferry::cuda {
namespace {

int64_t CudaFail(cudaError_t e) {
  (void)cudaGetLastError();
  return -int64_t(kCudaErrorBase + int(e));
}

constexpr uint64_t kHugePage = 2 << 20;

uint64_t HugeRound(uint64_t len) {
  return (len + kHugePage - 1) & ~(kHugePage - 1);
}

// A bounce buffer: page-locked, and built of huge pages where the kernel gives them
// (anonymous memory, 2 MiB aligned, MADV_HUGEPAGE, then cudaHostRegister), as the DRAM
// path's buffers from POSIX AllocMem are: an O_DIRECT request from either is then made of
// 2 MiB pieces, whatever pages cudaHostAlloc's driver would have picked. cudaHostAlloc for
// buffers below 2 MiB and where registering fails; *mapped says which, for FreeBounce.
cudaError_t AllocBounce(uint64_t len, uint8_t** out, bool* mapped) {
  const uint64_t size = HugeRound(len);
  void* m = len < kHugePage ? MAP_FAILED
                            : mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m != MAP_FAILED) {
    // Keep the 2 MiB aligned part: the rest goes back.
    auto* base = static_cast<uint8_t*>(m);
    auto* p = reinterpret_cast<uint8_t*>(HugeRound(reinterpret_cast<uint64_t>(base)));
    if (p > base) munmap(base, uint64_t(p - base));
    if (uint64_t tail = uint64_t(base + size + kHugePage - (p + size)); tail > 0)
      munmap(p + size, tail);
    (void)madvise(p, size, MADV_HUGEPAGE);
    (void)madvise(p, size, MADV_DONTFORK);  // a forked child never shares pinned pages
    if (cudaHostRegister(p, size, cudaHostRegisterPortable) == cudaSuccess) {
      *out = p;
      *mapped = true;
      return cudaSuccess;
    }
    (void)cudaGetLastError();
    munmap(p, size);
  }
  void* h = nullptr;
  const cudaError_t e = cudaHostAlloc(&h, len, cudaHostAllocPortable);
  *out = static_cast<uint8_t*>(h);
  *mapped = false;
  return e;
}

void FreeBounce(uint8_t* p, uint64_t len, bool mapped) {
  if (mapped) {
    (void)cudaHostUnregister(p);
    munmap(p, HugeRound(len));
  } else {
    (void)cudaFreeHost(p);
  }
  (void)cudaGetLastError();
}

cudaStream_t S(void* s) {
  return static_cast<cudaStream_t>(s);
}
cudaEvent_t E(void* e) {
  return static_cast<cudaEvent_t>(e);
}

}  // namespace

std::string StagingErrorText(int err) {
  if (err < kCudaErrorBase) return {};
  return "staging through host memory: " + CudaErrorText(err - kCudaErrorBase);
}

BounceStager::~BounceStager() {
  Release();
}

void BounceStager::Release() {
  if (device_ < 0) return;
  // Possibly on a caller's thread (a backend's destructor): leave its device as it was.
  ScopedDevice scope{uint64_t(device_)};
  if (scope.status().ok()) {
    if (stream_) (void)cudaStreamSynchronize(S(stream_));
    for (void* e : done_)
      if (e) (void)cudaEventDestroy(E(e));
    if (stream_) (void)cudaStreamDestroy(S(stream_));
  }
  for (int i = 0; i < 2; ++i)
    if (host_[i]) FreeBounce(host_[i], chunk_, mapped_[i]);
  host_[0] = host_[1] = nullptr;
  for (void*& e : done_) e = nullptr;
  stream_ = nullptr;
  device_ = -1;
}

int BounceStager::Prepare(int device) {
  if (device == device_) return 0;
  Release();
  std::string why;
  if (!MakeCurrent(device, &why)) return int(cudaErrorInvalidDevice);
  cudaError_t e = cudaSuccess;
  cudaStream_t s = nullptr;
  if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  stream_ = s;
  for (int i = 0; i < 2 && e == cudaSuccess; ++i) {
    e = AllocBounce(chunk_, &host_[i], &mapped_[i]);
  }
  for (int i = 0; i < kPieces && e == cudaSuccess; ++i) {
    cudaEvent_t ev = nullptr;
    e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
    done_[i] = ev;
  }
  device_ = device;
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    Release();
    return int(e);
  }
  return 0;
}

uint64_t BounceStager::ChunkFor(uint64_t len) const {
  // A quarter of the transfer (64 KiB granules) up to the buffer size: a small transfer
  // still has a chunk in copy while another is in I/O.
  const uint64_t quarter = (len / 4 + 0xFFFF) & ~uint64_t(0xFFFF);
  return std::clamp<uint64_t>(quarter, std::min<uint64_t>(64 << 10, chunk_), chunk_);
}

uint8_t* BounceStager::WholeBuffer(int device, int* err) {
  if (int e = Prepare(device); e != 0) {
    *err = -(kCudaErrorBase + e);
    return nullptr;
  }
  return host_[0];
}

int BounceStager::CopyToDevice(uint64_t dst, const uint8_t* host, uint64_t len) {
  const cudaError_t e =
      cudaMemcpyAsync(reinterpret_cast<void*>(dst), host, len, cudaMemcpyHostToDevice, S(stream_));
  return e == cudaSuccess ? 0 : int(CudaFail(e));
}

int BounceStager::Finish() {
  const cudaError_t e = cudaStreamSynchronize(S(stream_));
  return e == cudaSuccess ? 0 : int(CudaFail(e));
}

int64_t BounceStager::FromDevice(int device, uint64_t src, uint64_t len, const HostIo& write,
                                 bool one_io) {
  if (int e = Prepare(device); e != 0) return -int64_t(kCudaErrorBase + e);
  if (len > chunk_) return FromDeviceAlternating(src, len, write);
  // It fits buffer 0: every piece's copy is queued at once, each to its own place, so the
  // GPU runs ahead of the writes. Pieces grow from 64 KiB (x4): the first write waits only
  // for a small copy, and few pieces mean few calls.
  uint64_t ends[kPieces];
  int pieces = 0;
  for (uint64_t pos = 0, piece = one_io ? len : 64 << 10; pos < len; piece *= 4) {
    const uint64_t end = pieces == kPieces - 1 || piece >= len - pos ? len : pos + piece;
    cudaError_t e = cudaMemcpyAsync(host_[0] + pos, reinterpret_cast<const void*>(src + pos),
                                    end - pos, cudaMemcpyDeviceToHost, S(stream_));
    if (e == cudaSuccess) e = cudaEventRecord(E(done_[pieces]), S(stream_));
    if (e != cudaSuccess) {
      const int64_t fail = CudaFail(e);
      (void)cudaStreamSynchronize(S(stream_));
      return fail;  // nothing written yet
    }
    ends[pieces++] = end;
    pos = end;
  }
  uint64_t moved = 0;
  int64_t result = 0;
  for (int k = 0; k < pieces; ++k) {
    const uint64_t pos = k == 0 ? 0 : ends[k - 1], n = ends[k] - pos;
    if (cudaError_t e = cudaEventSynchronize(E(done_[k])); e != cudaSuccess) {
      result = CudaFail(e);
      break;
    }
    const int64_t w = write(host_[0] + pos, n, pos);
    if (w < 0) {
      result = w;
      break;
    }
    moved += uint64_t(w);
    if (uint64_t(w) < n) break;
  }
  (void)cudaStreamSynchronize(S(stream_));  // an early stop leaves copies queued
  return moved > 0 ? int64_t(moved) : result;
}

int64_t BounceStager::FromDeviceAlternating(uint64_t src, uint64_t len, const HostIo& write) {
  const uint64_t chunk = ChunkFor(len);  // this transfer's
  const uint64_t chunks = (len + chunk - 1) / chunk;
  auto copy = [&](uint64_t k) {
    const int b = int(k % 2);
    const uint64_t n = std::min(chunk, len - k * chunk);
    cudaError_t e = cudaMemcpyAsync(host_[b], reinterpret_cast<const void*>(src + k * chunk), n,
                                    cudaMemcpyDeviceToHost, S(stream_));
    if (e == cudaSuccess) e = cudaEventRecord(E(done_[b]), S(stream_));
    return e;
  };
  if (cudaError_t e = copy(0); e != cudaSuccess) return CudaFail(e);
  uint64_t moved = 0;
  int64_t result = 0;
  for (uint64_t k = 0; k < chunks; ++k) {
    const int b = int(k % 2);
    const uint64_t n = std::min(chunk, len - k * chunk);
    cudaError_t e = cudaEventSynchronize(E(done_[b]));
    // The next chunk's copy runs while this one is written.
    if (e == cudaSuccess && k + 1 < chunks) e = copy(k + 1);
    if (e != cudaSuccess) {
      result = CudaFail(e);
      break;
    }
    const int64_t w = write(host_[b], n, k * chunk);
    if (w < 0) {
      result = w;
      break;
    }
    moved += uint64_t(w);
    if (uint64_t(w) < n) break;
  }
  // Nothing of ours may still be copying when the caller goes on.
  (void)cudaStreamSynchronize(S(stream_));
  return moved > 0 ? int64_t(moved) : result;
}

int64_t BounceStager::ToDevice(int device, uint64_t dst, uint64_t len, const HostIo& read,
                               bool one_io) {
  if (int e = Prepare(device); e != 0) return -int64_t(kCudaErrorBase + e);
  if (len > chunk_) return ToDeviceAlternating(dst, len, read);
  // It fits buffer 0: each piece is read to its own place and its copy queued at once;
  // nothing waits for a copy until the end.
  const uint64_t piece = one_io ? len : ChunkFor(len);
  uint64_t moved = 0;
  int64_t result = 0;
  for (uint64_t pos = 0; pos < len; pos += piece) {
    const uint64_t n = std::min(piece, len - pos);
    const int64_t r = read(host_[0] + pos, n, pos);
    if (r < 0) {
      result = r;
      break;
    }
    if (r > 0) {
      const cudaError_t e = cudaMemcpyAsync(reinterpret_cast<void*>(dst + pos), host_[0] + pos,
                                            uint64_t(r), cudaMemcpyHostToDevice, S(stream_));
      if (e != cudaSuccess) {
        result = CudaFail(e);
        break;
      }
      moved += uint64_t(r);
    }
    if (uint64_t(r) < n) break;  // end of file
  }
  if (cudaError_t e = cudaStreamSynchronize(S(stream_)); e != cudaSuccess && result >= 0)
    return CudaFail(e);
  return moved > 0 || result == 0 ? int64_t(moved) : result;
}

int64_t BounceStager::ToDeviceAlternating(uint64_t dst, uint64_t len, const HostIo& read) {
  const uint64_t chunk = ChunkFor(len);  // this transfer's
  const uint64_t chunks = (len + chunk - 1) / chunk;
  uint64_t moved = 0;
  int64_t result = 0;
  bool recorded[2] = {false, false};
  for (uint64_t k = 0; k < chunks; ++k) {
    const int b = int(k % 2);
    const uint64_t n = std::min(chunk, len - k * chunk);
    // The buffer's previous copy to the device must be done before it is refilled; the
    // other buffer's copy runs meanwhile.
    if (recorded[b]) {
      if (cudaError_t e = cudaEventSynchronize(E(done_[b])); e != cudaSuccess) {
        result = CudaFail(e);
        break;
      }
    }
    const int64_t r = read(host_[b], n, k * chunk);
    if (r < 0) {
      result = r;
      break;
    }
    if (r > 0) {
      cudaError_t e = cudaMemcpyAsync(reinterpret_cast<void*>(dst + k * chunk), host_[b],
                                      uint64_t(r), cudaMemcpyHostToDevice, S(stream_));
      if (e == cudaSuccess) e = cudaEventRecord(E(done_[b]), S(stream_));
      if (e != cudaSuccess) {
        result = CudaFail(e);
        break;
      }
      recorded[b] = true;
      moved += uint64_t(r);
    }
    if (uint64_t(r) < n) break;  // end of file
  }
  if (cudaError_t e = cudaStreamSynchronize(S(stream_)); e != cudaSuccess && result >= 0)
    return CudaFail(e);
  return moved > 0 || result == 0 ? int64_t(moved) : result;
}

}  // namespace ferry::cuda
