// kv-gpu-vs-dram: the KV engine storing and loading llama-3.1-8b chunks (256 tokens, 32 MiB)
// from vLLM-style paged KV in GPU memory (nixl_buffer_device cuda) against the same engine
// on host KV (contiguous, nixl_buffer_device cpu: its fastest host path), same backend,
// same files, in one run with the two paths alternating. Prints each round, the medians,
// the GPU-over-host ratios, the share of the GPU path's time spent in its gather, scatter
// and checksums, and this machine's pinned host<->device copy rate.
//
//   kv-gpu-vs-dram DIR [--backends GDS,GDS_MT,POSIX] [--chunks 16] [--rounds 3] [--direct]
//                  [--stream] [--posix-param KEY=VALUE ...]
#include <cuda_runtime_api.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <sstream>

#include "ferry/kv/engine.h"
#include "gpu_bench_util.h"

namespace {

using bench::Check;
using bench::Clock;
using bench::CudaCheck;
using bench::Die;
using ferry::kv::KvLayout;

constexpr uint64_t kChunkTokens = 256;
constexpr uint64_t kBlockTokens = 16;  // vLLM's default block size

const ferry::kv::KvGeometry kLlama{32, 8, 128, ferry::kv::DType::kBf16, false};

double Seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// GPU KV in vLLM's FlashAttention form: per layer [2, blocks, 16, row], tokens scattered
// over shuffled blocks.
struct GpuPaged {
  std::vector<void*> layers;
  int64_t* slots = nullptr;
  uint64_t blocks = 0;
  explicit GpuPaged(uint64_t tokens, uint64_t seed) {
    blocks = tokens / kBlockTokens + 4;
    const uint64_t plane = blocks * kBlockTokens * kLlama.RowBytes();
    std::vector<uint8_t> fill(2 * plane);
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < fill.size(); i += 8) {
      const uint64_t v = rng();
      std::memcpy(&fill[i], &v, 8);
    }
    for (uint32_t l = 0; l < kLlama.layers; ++l) {
      void* p = nullptr;
      CudaCheck(cudaMalloc(&p, 2 * plane), "cudaMalloc KV");
      CudaCheck(cudaMemcpy(p, fill.data(), fill.size(), cudaMemcpyHostToDevice), "fill KV");
      layers.push_back(p);
    }
    std::vector<uint64_t> order(blocks);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<int64_t> map(tokens);
    for (uint64_t t = 0; t < tokens; ++t)
      map[t] = static_cast<int64_t>(order[t / kBlockTokens] * kBlockTokens + t % kBlockTokens);
    CudaCheck(cudaMalloc(reinterpret_cast<void**>(&slots), tokens * 8), "cudaMalloc slots");
    CudaCheck(cudaMemcpy(slots, map.data(), tokens * 8, cudaMemcpyHostToDevice), "slots");
    CudaCheck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  }
  ~GpuPaged() {
    for (void* p : layers) cudaFree(p);
    cudaFree(slots);
  }
  KvLayout Layout(uint64_t tokens, void* stream) const {
    std::vector<void*> k, v;
    const uint64_t plane = blocks * kBlockTokens * kLlama.RowBytes();
    for (void* p : layers) {
      k.push_back(p);
      v.push_back(static_cast<uint8_t*>(p) + plane);
    }
    return KvLayout::Paged(k, v, slots, tokens, kBlockTokens, blocks).OnGpu(0, stream);
  }
};

std::unique_ptr<ferry::kv::Engine> MakeEngine(const std::string& dir, const std::string& backend,
                                              bool gpu, bool direct, uint64_t chunks,
                                              const std::vector<std::string>& posix_params) {
  ferry::kv::Config c;
  c.chunk_size = kChunkTokens;
  c.enable_nixl_storage = true;
  c.nixl_backend = backend;
  c.nixl_path = dir + "/" + backend + (gpu ? "-gpu" : "-dram");
  c.nixl_pool_size = static_cast<int64_t>(2 * chunks);
  c.use_direct_io = direct;
  c.nixl_buffer_device = gpu ? "cuda" : "cpu";
  if (backend == "POSIX") {
    for (const std::string& kv : posix_params) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) Die("--posix-param wants KEY=VALUE, got '" + kv + "'");
      c.nixl_backend_params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  const uint64_t page = 4096 + kChunkTokens * kLlama.BytesPerToken();
  c.nixl_buffer_size = 8 * page;
  ferry::kv::EngineOptions o;
  o.model.model_name = "llama-3.1-8b";
  o.geometry = kLlama;
  o.queue_depth = 8;
  std::unique_ptr<ferry::kv::Engine> e;
  Check(ferry::kv::Engine::Create(c, o, &e), backend + (gpu ? " (cuda buffer)" : " (cpu buffer)"));
  return e;
}

std::vector<int32_t> Prompt(uint64_t tokens, uint64_t seed) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::vector<int32_t> t(tokens);
  for (auto& x : t) x = static_cast<int32_t>(rng() % 128000);
  return t;
}

double PinnedRate(bool to_device) {
  const uint64_t len = 256ull << 20;
  void* host = nullptr;
  void* dev = nullptr;
  CudaCheck(cudaHostAlloc(&host, len, cudaHostAllocDefault), "cudaHostAlloc");
  CudaCheck(cudaMalloc(&dev, len), "cudaMalloc");
  std::vector<double> rates;
  for (int i = 0; i < 4; ++i) {
    const auto t0 = Clock::now();
    CudaCheck(to_device ? cudaMemcpy(dev, host, len, cudaMemcpyHostToDevice)
                        : cudaMemcpy(host, dev, len, cudaMemcpyDeviceToHost),
              "pinned copy");
    if (i > 0) rates.push_back(double(len) / Seconds(t0) / 1e9);
  }
  cudaFree(dev);
  cudaFreeHost(host);
  return bench::Median(rates);
}

struct Figures {
  // The codec's share of the GPU path's store (gather + checksum) and load (checksum +
  // scatter) time.
  std::vector<double> store, load, store_codec, load_codec;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"KV engine: paged GPU KV (cuda buffer) against host KV (cpu buffer)"};
  std::string dir, backends = "GDS,GDS_MT,POSIX";
  uint64_t chunks = 16;
  int rounds = 3;
  bool direct = false;
  app.add_option("dir", dir, "directory for the cache files (not tmpfs for GDS)")->required();
  app.add_option("--backends", backends, "comma-separated plugins");
  app.add_option("--chunks", chunks, "chunks per store and load call")->check(CLI::Range(1, 256));
  app.add_option("--rounds", rounds, "rounds, the two paths alternating")->check(CLI::Range(1, 50));
  app.add_flag("--direct", direct, "open the files O_DIRECT");
  bool own_stream = false;
  std::vector<std::string> posix_params;
  app.add_flag("--stream", own_stream,
               "gather and scatter on a stream of the caller's own (non-blocking, as a "
               "server's are) instead of the thread's default stream");
  app.add_option("--posix-param", posix_params, "KEY=VALUE for the POSIX backend (repeatable)");
  CLI11_PARSE(app, argc, argv);

  const uint64_t tokens = chunks * kChunkTokens;
  const double bytes = double(tokens) * double(kLlama.BytesPerToken());
  std::printf("kv-gpu-vs-dram: llama-3.1-8b, %llu chunks of %.0f MiB per call, %s, %d rounds%s\n",
              (unsigned long long)chunks, double(kChunkTokens * kLlama.BytesPerToken()) / (1 << 20),
              direct ? "O_DIRECT" : "buffered", rounds, own_stream ? ", own stream" : "");
  std::printf("pinned copy: host->device %.1f GB/s, device->host %.1f GB/s\n", PinnedRate(true),
              PinnedRate(false));
  GpuPaged src(tokens, 1), dst(tokens, 2);
  cudaStream_t stream = nullptr;
  if (own_stream) CudaCheck(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
  std::vector<uint8_t> host(static_cast<size_t>(bytes)), back(host.size());
  for (size_t i = 0; i < host.size(); i += 4096) host[i] = static_cast<uint8_t>(i >> 12);

  std::stringstream list(backends);
  for (std::string backend; std::getline(list, backend, ',');) {
    auto dram = MakeEngine(dir, backend, false, direct, chunks, posix_params);
    auto gpu = MakeEngine(dir, backend, true, direct, chunks, posix_params);
    Figures f[2];  // 0: host, 1: GPU
    for (int r = 0; r < rounds; ++r) {
      for (int k = 0; k < 2; ++k) {
        const int path = (r + k) % 2;  // alternate which path goes first
        ferry::kv::Engine& e = path == 1 ? *gpu : *dram;
        const auto prompt = Prompt(tokens, 1000 * r + path + 7);
        const KvLayout in =
            path == 1 ? src.Layout(tokens, stream) : KvLayout::Contiguous(host.data(), tokens);
        const KvLayout out =
            path == 1 ? dst.Layout(tokens, stream) : KvLayout::Contiguous(back.data(), tokens);
        const uint64_t codec0 = e.Stats().device_codec_ns;
        auto t0 = Clock::now();
        ferry::kv::StoreResult sr;
        Check(e.Store(prompt, in, &sr), backend + " store");
        const double ts = Seconds(t0);
        const uint64_t codec1 = e.Stats().device_codec_ns;
        if (sr.chunks_written != chunks) Die(backend + ": a store wrote fewer chunks than asked");
        uint64_t restored = 0;
        t0 = Clock::now();
        Check(e.Retrieve(prompt, out, &restored), backend + " load");
        const double tl = Seconds(t0);
        if (restored != tokens) Die(backend + ": a load restored fewer tokens than stored");
        const double cs = double(codec1 - codec0) / 1e9;
        const double cl = double(e.Stats().device_codec_ns - codec1) / 1e9;
        f[path].store.push_back(bytes / ts / 1e9);
        f[path].load.push_back(bytes / tl / 1e9);
        f[path].store_codec.push_back(cs / ts);
        f[path].load_codec.push_back(cl / tl);
        char share[96] = "";
        if (path == 1)
          std::snprintf(share, sizeof(share), " (codec %.1f %% of store, %.1f %% of load)",
                        100 * cs / ts, 100 * cl / tl);
        std::printf("  %-7s round %d %-4s store %6.2f GB/s  load %6.2f GB/s%s\n", backend.c_str(),
                    r, path == 1 ? "gpu" : "host", bytes / ts / 1e9, bytes / tl / 1e9, share);
      }
    }
    const double hs = bench::Median(f[0].store), hl = bench::Median(f[0].load);
    const double gs = bench::Median(f[1].store), gl = bench::Median(f[1].load);
    std::printf(
        "%-7s median: host store %.2f load %.2f GB/s; gpu store %.2f load %.2f GB/s; "
        "gpu/host store %.2f load %.2f; gpu gather+checksum %.1f %% of the store, "
        "checksum+scatter %.1f %% of the load\n",
        backend.c_str(), hs, hl, gs, gl, gs / hs, gl / hl, 100 * bench::Median(f[1].store_codec),
        100 * bench::Median(f[1].load_codec));
  }
  return 0;
}
