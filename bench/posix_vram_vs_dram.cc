// posix-vram-vs-dram: the POSIX backend moving GPU memory (staged through pinned bounce
// buffers, the GPU copy overlapped with the file I/O) against the same backend moving
// host memory, same file, sizes and queue depth (one transfer at a time), alternating.
//
//   posix-vram-vs-dram DIR... [--sizes 1,32] [--iterations 24] [--rounds 3]
//                      [--param KEY=VALUE ...]   (POSIX backend parameters, both sides)
//                      [--cold-mib N]            (the cold DRAM side's span; 0: no cold side)
//                      [--direct]                (open the files O_DIRECT; not for tmpfs)
//                      [--pinned-dram]           (the hot DRAM side in cudaHostAlloc memory)
//
// For each directory (tmpfs and a disk, say), size in MiB and direction it prints the
// median GB/s of VRAM, of DRAM moving one buffer again and again (hot: a buffer that fits
// the CPU's caches stays there), and of DRAM moving each time a buffer not touched for the last N
// MiB (cold, as a server's KV pool is; default 1024), the ratio VRAM/DRAM against both, and PASS at
// 0.9 or more against the hot side. It also measures the machine's pinned host<->device copy rate,
// the ceiling of any staged path.
#include <cuda_runtime_api.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "gpu_bench_util.h"

namespace {

using bench::Clock;
using bench::Die;
using bench::Median;

double PinnedCopyGBs(void* gpu, uint64_t size, cudaMemcpyKind kind) {
  void* host = nullptr;
  if (cudaHostAlloc(&host, size, cudaHostAllocPortable) != cudaSuccess) Die("cudaHostAlloc");
  auto once = [&] {
    if (kind == cudaMemcpyHostToDevice)
      (void)cudaMemcpy(gpu, host, size, kind);
    else
      (void)cudaMemcpy(host, gpu, size, kind);
  };
  once();
  const auto t0 = Clock::now();
  for (int i = 0; i < 10; ++i) once();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  cudaFreeHost(host);
  return double(size) * 10 / s / 1e9;
}

// A whole decimal number, or the bench stops naming what it got.
long ParseLong(const std::string& v, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || errno != 0 || *end != '\0') Die(what + " wants a number, got '" + v + "'");
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> dirs;
  std::vector<long> sizes = {1, 32};
  int iters = 24, rounds = 3;
  long cold_mib = 1024;
  bool direct = false, pinned_dram = false;
  ferry::Params params;  // for the POSIX backend, both sides
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--direct" || a == "--pinned-dram") {
      (a == "--direct" ? direct : pinned_dram) = true;
    } else if (a == "--param" && i + 1 < argc) {
      const std::string kv = argv[++i];
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) Die("--param wants KEY=VALUE, got '" + kv + "'");
      params[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if ((a == "--sizes" || a == "--iterations" || a == "--rounds" || a == "--cold-mib") &&
               i + 1 < argc) {
      const std::string v = argv[++i];
      if (a == "--cold-mib") cold_mib = ParseLong(v, a);
      if (a == "--iterations") iters = int(std::clamp(ParseLong(v, a), 0L, 1L << 30));
      if (a == "--rounds") rounds = int(std::clamp(ParseLong(v, a), 0L, 1L << 30));
      if (a == "--sizes") {
        sizes.clear();
        std::stringstream list(v);
        for (std::string item; std::getline(list, item, ',');) sizes.push_back(ParseLong(item, a));
      }
    } else {
      dirs.push_back(a);
    }
  }
  if (dirs.empty())
    Die("usage: posix-vram-vs-dram DIR... [--sizes 1,32] [--iterations N] [--rounds N] "
        "[--param KEY=VALUE ...] [--cold-mib N] [--direct] [--pinned-dram]");
  for (long s : sizes)
    if (s < 1 || s > 4096) Die("sizes must be 1..4096 MiB");
  if (iters < 1 || iters > 100000 || rounds < 1 || rounds > 99) Die("bad --iterations/--rounds");
  if (cold_mib < 0 || cold_mib > 65536) Die("--cold-mib must be 0..65536");
  const uint64_t max = uint64_t(*std::max_element(sizes.begin(), sizes.end())) << 20;
  void* gpu = nullptr;
  if (cudaMalloc(&gpu, max) != cudaSuccess) Die("cudaMalloc");
  (void)cudaMemset(gpu, 0x3C, max);
  void* host = nullptr;
  if (pinned_dram) {
    if (cudaHostAlloc(&host, max, cudaHostAllocPortable) != cudaSuccess) Die("cudaHostAlloc");
  } else {
    host = mmap(nullptr, max, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (host == MAP_FAILED) Die("mmap");
  }
  std::memset(host, 0x3C, max);
  const uint64_t cold_span = uint64_t(cold_mib) << 20;
  void* cold = nullptr;
  if (cold_span > 0) {
    cold = mmap(nullptr, cold_span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (cold == MAP_FAILED) Die("mmap of the cold span");
    std::memset(cold, 0x3C, cold_span);
  }
  uint64_t cold_cursor = 0;
  std::printf("pinned copy, %lu MiB: host->device %.1f GB/s, device->host %.1f GB/s\n",
              (unsigned long)(max >> 20), PinnedCopyGBs(gpu, max, cudaMemcpyHostToDevice),
              PinnedCopyGBs(gpu, max, cudaMemcpyDeviceToHost));
  int failures = 0;
  for (const std::string& dir : dirs) {
    for (long mib : sizes) {
      const uint64_t size = uint64_t(mib) << 20;
      const std::string path = dir + "/posix-vram-vs-dram";
      int fd = open(path.c_str(), O_RDWR | O_CREAT, 0600);
      if (fd < 0 || ftruncate(fd, off_t(size * bench::kSlots)) != 0) Die("creating " + path);
      close(fd);
      for (bool write : {true, false}) {
        std::vector<double> dram, vram, dram_cold;
        for (int r = 0; r < rounds; ++r) {
          bench::FerryCase c{"POSIX", params, ferry::MemKind::kDram, host, size, path, direct};
          dram.push_back(bench::FerryRound(c, write, iters));
          if (cold_span >= 2 * size) {
            bench::FerryCase k = c;
            k.buf = cold;
            k.span = cold_span;
            k.cursor = &cold_cursor;
            dram_cold.push_back(bench::FerryRound(k, write, iters));
          }
          c.kind = ferry::MemKind::kVram;
          c.buf = gpu;
          vram.push_back(bench::FerryRound(c, write, iters));
        }
        const double ratio = Median(vram) / Median(dram);
        failures += ratio < 0.9;
        std::printf("%-10s %4ld MiB %-5s POSIX VRAM %.2f GB/s vs DRAM %.2f GB/s: ratio %.2f %s",
                    dir.c_str(), mib, write ? "write" : "read", Median(vram), Median(dram), ratio,
                    ratio >= 0.9 ? "PASS" : "FAIL (target 0.9)");
        if (!dram_cold.empty())
          std::printf("; cold DRAM %.2f GB/s: ratio %.2f", Median(dram_cold),
                      Median(vram) / Median(dram_cold));
        else if (cold_span > 0)
          std::printf("; cold DRAM n/a (--cold-mib below twice the size)");
        std::printf("\n");
      }
      unlink(path.c_str());
    }
  }
  if (pinned_dram)
    cudaFreeHost(host);
  else
    munmap(host, max);
  if (cold) munmap(cold, cold_span);
  cudaFree(gpu);
  return failures == 0 ? 0 : 2;
}
