// Moving device memory through a host-only I/O call (pread/pwrite, an HTTP body) via
// pinned bounce buffers, with the GPU copies overlapped with the I/O: a transfer that fits
// one buffer of `chunk` bytes is laid out in it piece by piece (the copy of one piece runs
// while another is written or read); a longer one alternates between two such buffers.
//
// Not thread-safe: one thread uses a stager at a time (a backend's worker owns one, or a
// pool lends one to a posting thread), except that threads the user of WholeBuffer
// enlists may call CopyToDevice at once (it only queues). Buffers and the stream are created at the
// first use, on the GPU of that use, so an idle stager costs nothing and needs no GPU. On a thread
// the backend does not own, hold a ScopedDevice for the GPU around each call.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace ferry::cuda {

// Error numbers the stager returns as negatives, above every errno.
inline constexpr int kCudaErrorBase = 1 << 20;
// Text of -result for a stager error number (a CUDA error), "" for an errno.
std::string StagingErrorText(int err);

class BounceStager {
 public:
  // Consumes or fills `len` bytes at `host`, the chunk's position `pos` from the start of
  // the transfer: returns the bytes done (fewer only at end of file), or -errno.
  using HostIo = std::function<int64_t(uint8_t* host, uint64_t len, uint64_t pos)>;

  explicit BounceStager(uint64_t chunk) : chunk_(chunk) {}
  ~BounceStager();
  BounceStager(const BounceStager&) = delete;
  BounceStager& operator=(const BounceStager&) = delete;

  // Device memory [src, src + len) on GPU `device` -> `write`, in order. Returns the bytes
  // written from the start (all of them, or up to the first short write), or a negative
  // errno / -(kCudaErrorBase + cudaError) when nothing was written. `one_io`: the host
  // side wants few large calls (O_DIRECT on a disk): a transfer that fits a buffer is one
  // copy and one call.
  int64_t FromDevice(int device, uint64_t src, uint64_t len, const HostIo& write,
                     bool one_io = false);
  // `read` -> device memory [dst, dst + len). A short read (end of file) ends it; returns
  // the bytes that reached the device, or a negative number as above.
  int64_t ToDevice(int device, uint64_t dst, uint64_t len, const HostIo& read, bool one_io = false);

  // For a caller that stages a whole transfer at once (it fills the buffer itself, with
  // several threads, say): the first pinned buffer, `chunk` bytes, made on GPU `device`;
  // null with *err set to -(kCudaErrorBase + cudaError) on failure.
  uint8_t* WholeBuffer(int device, int* err);
  uint64_t chunk() const { return chunk_; }
  // Queues a copy of host [host, host + len) to device memory `dst` on the stager's
  // stream (the device of WholeBuffer's call must be current); Finish waits for every
  // copy queued. Both return 0 or -(kCudaErrorBase + cudaError).
  int CopyToDevice(uint64_t dst, const uint8_t* host, uint64_t len);
  int Finish();

 private:
  static constexpr int kPieces = 8;  // most pieces of a transfer that fits one buffer

  int Prepare(int device);  // 0, or a CUDA error number
  uint64_t ChunkFor(uint64_t len) const;
  void Release();
  // Longer than a buffer: the two buffers take turns.
  int64_t FromDeviceAlternating(uint64_t src, uint64_t len, const HostIo& write);
  int64_t ToDeviceAlternating(uint64_t dst, uint64_t len, const HostIo& read);

  const uint64_t chunk_;
  int device_ = -1;
  uint8_t* host_[2] = {nullptr, nullptr};
  bool mapped_[2] = {false, false};  // host_[i] is registered mmap memory, not cudaHostAlloc's
  void* stream_ = nullptr;           // cudaStream_t
  void* done_[kPieces] = {};         // cudaEvent_t: the copy of piece (or buffer) i finished
};

}  // namespace ferry::cuda
