// kv-codec-cost: what the KV engine's GPU path spends on one llama-3.1-8b chunk (256
// tokens, 32 MiB) of vLLM paged KV (16-token blocks, shuffled), kernel by kernel (CUDA
// events) and as the codec's calls (wall clock: launches, copies and the wait included),
// next to this GPU's device-to-device copy of the same bytes in the same run. Also checks
// that the fused gather+hash kernel writes the same payload and digests as the gather and
// hash kernels one after the other (exit 1 if not).
//
// With --chunks N each run takes the next of N chunks (its own blocks of the KV cache and
// its own page), so at N = 16 (1 GiB in all) no run finds its bytes in the GPU's L2 cache,
// as the engine's calls do not; with N = 1 every run moves the same bytes.
//
// With --busy N, N threads copy 4 MiB pieces device -> pinned host (each on a stream of its
// own, waiting for each copy) and then host -> host, over and over, while the rows are
// timed: what a storage backend's staging threads do beside the engine's codec calls.
//
//   kv-codec-cost [--iterations 200] [--chunks 1] [--busy 0]
#include <cuda_runtime_api.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "ferry/kv/engine.h"
#include "gpu_bench_util.h"
#include "kv/device_codec.h"
#include "kv/gpu/block_hash.h"
#include "kv/gpu/kv_kernels.h"
#include "kv/slot_format.h"

namespace {

using bench::Check;
using bench::Clock;
using bench::CudaCheck;
using bench::Die;
using ferry::kv::KvLayout;

constexpr uint64_t kTokens = 256;
constexpr uint64_t kBlockTokens = 16;
const ferry::kv::KvGeometry kLlama{32, 8, 128, ferry::kv::DType::kBf16, false};

void* DeviceAlloc(uint64_t n) {
  void* p = nullptr;
  CudaCheck(cudaMalloc(&p, n), "cudaMalloc");
  return p;
}

// Median microseconds of `iters` runs of `launch` on `stream`, timed with events.
double KernelUs(cudaStream_t stream, int iters, const std::function<cudaError_t()>& launch) {
  cudaEvent_t a, b;
  CudaCheck(cudaEventCreate(&a), "cudaEventCreate");
  CudaCheck(cudaEventCreate(&b), "cudaEventCreate");
  std::vector<double> us;
  for (int i = 0; i < iters + 3; ++i) {
    CudaCheck(cudaEventRecord(a, stream), "cudaEventRecord");
    CudaCheck(launch(), "launch");
    CudaCheck(cudaEventRecord(b, stream), "cudaEventRecord");
    CudaCheck(cudaEventSynchronize(b), "cudaEventSynchronize");
    float ms = 0;
    CudaCheck(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
    if (i >= 3) us.push_back(ms * 1000.0);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return bench::Median(us);
}

// Median wall-clock microseconds of `iters` calls.
double CallUs(int iters, const std::function<void()>& call) {
  std::vector<double> us;
  for (int i = 0; i < iters + 3; ++i) {
    const auto t0 = Clock::now();
    call();
    if (i >= 3) us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return bench::Median(us);
}

// Threads copying device -> host -> host until stopped (--busy).
class BusyCopies {
 public:
  explicit BusyCopies(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~BusyCopies() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  void Loop() {
    constexpr uint64_t kPiece = 4 << 20;
    CudaCheck(cudaSetDevice(0), "cudaSetDevice");
    void* dev = DeviceAlloc(kPiece);
    void* pinned = nullptr;
    CudaCheck(cudaHostAlloc(&pinned, kPiece, cudaHostAllocDefault), "cudaHostAlloc");
    std::vector<uint8_t> sink(kPiece);
    cudaStream_t s;
    CudaCheck(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    while (!stop_) {
      CudaCheck(cudaMemcpyAsync(pinned, dev, kPiece, cudaMemcpyDeviceToHost, s), "busy copy");
      CudaCheck(cudaStreamSynchronize(s), "busy sync");
      std::memcpy(sink.data(), pinned, kPiece);
    }
    cudaStreamDestroy(s);
    cudaFreeHost(pinned);
    cudaFree(dev);
  }

  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("kv-codec-cost: the KV engine's GPU gather, checksum and scatter per chunk");
  int iters = 200;
  uint32_t chunks = 1;
  app.add_option("--iterations", iters, "timed runs per row")->check(CLI::Range(1, 100000));
  app.add_option("--chunks", chunks, "chunks taken in turn (16: none in L2)")
      ->check(CLI::Range(1, 64));
  int busy = 0;
  app.add_option("--busy", busy, "threads copying device -> host beside the rows")
      ->check(CLI::Range(0, 64));
  CLI11_PARSE(app, argc, argv);

  const uint64_t rb = kLlama.RowBytes();
  const uint32_t runs = kLlama.planes() * kLlama.layers;
  const uint64_t len = kTokens * kLlama.BytesPerToken();
  const uint64_t blocks = ferry::kv::AlignUp(len) / ferry::kv::gpu::kHashBlock;
  const uint64_t cache_blocks = chunks * (kTokens / kBlockTokens) + 4;
  const uint64_t plane = cache_blocks * kBlockTokens * rb;

  // KV: per layer [2, blocks, 16, row] of random bytes, the chunk's blocks shuffled.
  std::mt19937_64 rng(7);
  std::vector<uint8_t> fill(2 * plane);
  for (size_t i = 0; i + 8 <= fill.size(); i += 8) {
    const uint64_t v = rng();
    std::memcpy(&fill[i], &v, 8);
  }
  std::vector<void*> k, v;
  std::vector<uint64_t> bases(runs);
  for (uint32_t l = 0; l < kLlama.layers; ++l) {
    void* p = DeviceAlloc(2 * plane);
    CudaCheck(cudaMemcpy(p, fill.data(), fill.size(), cudaMemcpyHostToDevice), "fill KV");
    k.push_back(p);
    v.push_back(static_cast<uint8_t*>(p) + plane);
    bases[l] = reinterpret_cast<uint64_t>(k.back());
    bases[kLlama.layers + l] = reinterpret_cast<uint64_t>(v.back());
  }
  std::vector<uint64_t> order(cache_blocks);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  // Chunk c's tokens are slots of blocks order[16 c .. 16 c + 15].
  const uint64_t all_tokens = uint64_t{chunks} * kTokens;
  std::vector<int64_t> map(all_tokens);
  for (uint64_t t = 0; t < all_tokens; ++t)
    map[t] = static_cast<int64_t>(order[t / kBlockTokens] * kBlockTokens + t % kBlockTokens);
  auto* all_slots = static_cast<int64_t*>(DeviceAlloc(all_tokens * 8));
  CudaCheck(cudaMemcpy(all_slots, map.data(), all_tokens * 8, cudaMemcpyHostToDevice), "slots");
  int64_t* slots = all_slots;
  auto* dev_bases = static_cast<uint64_t*>(DeviceAlloc(runs * 8));
  CudaCheck(cudaMemcpy(dev_bases, bases.data(), runs * 8, cudaMemcpyHostToDevice), "bases");

  const uint64_t page_bytes = ferry::kv::kHeaderBytes + blocks * ferry::kv::gpu::kHashBlock;
  std::vector<uint8_t*> pages(chunks);
  for (auto& p : pages) p = static_cast<uint8_t*>(DeviceAlloc(page_bytes));
  auto* other = static_cast<uint8_t*>(DeviceAlloc(page_bytes));
  uint8_t* payload = pages[0] + ferry::kv::kHeaderBytes;
  auto* digests = static_cast<uint64_t*>(DeviceAlloc(blocks * 8 * 2));
  auto* flag = static_cast<uint32_t*>(DeviceAlloc(4));
  CudaCheck(cudaMemset(flag, 0, 4), "cudaMemset");

  ferry::kv::gpu::RowMap rows;
  rows.slots = slots;
  rows.row_bytes = rb;
  rows.block_size = kBlockTokens;
  rows.block_stride = kBlockTokens * rb;
  rows.num_slots = cache_blocks * kBlockTokens;
  ferry::kv::gpu::HashSecret secret{};
  for (uint32_t i = 0; i < 24; ++i) secret.words[i] = rng();

  cudaStream_t stream;
  CudaCheck(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");

  // The fused kernel against gather then hash: same payload bytes, same digests.
  CudaCheck(ferry::kv::gpu::LaunchGather(dev_bases, runs, kTokens, rows, payload, flag, stream),
            "gather");
  CudaCheck(ferry::kv::gpu::LaunchBlockHashes(payload, blocks, secret, digests, stream), "hash");
  CudaCheck(ferry::kv::gpu::LaunchGatherHashes(dev_bases, runs, kTokens, rows,
                                               other + ferry::kv::kHeaderBytes, blocks, secret,
                                               digests + blocks, flag, stream),
            "gather+hash");
  CudaCheck(cudaStreamSynchronize(stream), "sync");
  using ferry::kv::gpu::BlockHashOnHost;
  using ferry::kv::gpu::kHashBlock;
  std::vector<uint8_t> a(len), b(len);
  std::vector<uint64_t> da(blocks), db(blocks);
  CudaCheck(cudaMemcpy(a.data(), payload, len, cudaMemcpyDeviceToHost), "copy back");
  CudaCheck(cudaMemcpy(b.data(), other + ferry::kv::kHeaderBytes, len, cudaMemcpyDeviceToHost),
            "copy back");
  CudaCheck(cudaMemcpy(da.data(), digests, blocks * 8, cudaMemcpyDeviceToHost), "copy back");
  CudaCheck(cudaMemcpy(db.data(), digests + blocks, blocks * 8, cudaMemcpyDeviceToHost),
            "copy back");
  if (a != b || da != db) Die("the fused gather+hash kernel differs from gather then hash");
  // And both agree with the host's definition (block_hash.h, tested against libxxhash).
  a.resize(blocks * kHashBlock, 0);
  for (uint64_t i = 0; i < blocks; i += 97) {
    if (BlockHashOnHost(a.data() + i * kHashBlock, secret.words, i) != da[i])
      Die("GPU digest of block " + std::to_string(i) + " differs from the host's");
  }
  std::printf(
      "fused gather+hash: payload and %llu digests equal to gather then hash and to "
      "the host's digests\n",
      static_cast<unsigned long long>(blocks));

  auto row = [&](const char* what, double us) {
    std::printf("| %-44s | %8.1f | %7.1f |\n", what, us, double(len) / us / 1e3);
  };
  std::printf(
      "\nllama-3.1-8b chunk: %llu tokens, %llu bytes, %u runs of %llu-byte rows, "
      "median of %d, %u chunk(s) in turn, %d busy copy thread(s)\n\n",
      static_cast<unsigned long long>(kTokens), static_cast<unsigned long long>(len), runs,
      static_cast<unsigned long long>(rb), iters, chunks, busy);
  BusyCopies background(busy);
  // Each launch or call below first takes the next chunk: its slots and its page.
  uint32_t turn = 0;
  auto next = [&] {
    turn = (turn + 1) % chunks;
    slots = all_slots + uint64_t{turn} * kTokens;
    rows.slots = slots;
    payload = pages[turn] + ferry::kv::kHeaderBytes;
  };
  std::printf("| %-44s | %8s | %7s |\n|---|---|---|\n", "what", "us", "GB/s");
  using namespace ferry::kv::gpu;
  row("cudaMemcpyAsync device to device (baseline)", KernelUs(stream, iters, [&] {
        next();
        return cudaMemcpyAsync(other, payload, len, cudaMemcpyDeviceToDevice, stream);
      }));
  row("kernel: gather", KernelUs(stream, iters, [&] {
        next();
        return LaunchGather(dev_bases, runs, kTokens, rows, payload, flag, stream);
      }));
  row("kernel: block hashes", KernelUs(stream, iters, [&] {
        next();
        return LaunchBlockHashes(payload, blocks, secret, digests, stream);
      }));
  row("kernel: gather + block hashes fused", KernelUs(stream, iters, [&] {
        next();
        return LaunchGatherHashes(dev_bases, runs, kTokens, rows, payload, blocks, secret, digests,
                                  flag, stream);
      }));
  row("kernel: scatter", KernelUs(stream, iters, [&] {
        next();
        return LaunchScatter(dev_bases, runs, kTokens, rows, payload, flag, stream);
      }));

  std::unique_ptr<ferry::kv::DeviceCodec> codec;
  Check(ferry::kv::OpenDeviceCodec(0, chunks, len, runs, &codec), "OpenDeviceCodec");
  std::vector<KvLayout> kv;
  for (uint32_t c = 0; c < chunks; ++c) {
    kv.push_back(KvLayout::Paged(k, v, all_slots + uint64_t{c} * kTokens, kTokens, kBlockTokens,
                                 cache_blocks)
                     .OnGpu(0, stream));
    Check(codec->CheckLayout(kv.back(), kLlama), "CheckLayout");
  }
  std::vector<uint64_t> sums(chunks), again(chunks);
  row("codec Gather() (store: gather, hash, wait)", CallUs(iters, [&] {
        next();
        Check(codec->Gather(kv[turn], kLlama, 0, kTokens, turn, payload, &sums[turn]), "Gather");
      }));
  std::vector<uint8_t> header(ferry::kv::kHeaderBytes);
  row("codec Checksum() (load: header, hash, wait)", CallUs(iters, [&] {
        next();
        Check(codec->Checksum(turn, payload, len, stream, &again[turn], header.data()), "Checksum");
      }));
  for (uint32_t c = 0; c < chunks; ++c) {
    if (iters + 3 >= int(chunks) && again[c] != sums[c]) Die("Checksum() disagrees with Gather()");
  }
  row("codec Scatter() (load: scatter, wait)", CallUs(iters, [&] {
        next();
        Check(codec->Scatter(payload, kLlama, 0, kTokens, turn, kv[turn]), "Scatter");
      }));
  return 0;
}
