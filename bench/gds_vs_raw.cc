// gds-vs-raw: Ferry's GDS and GDS_MT backends against a plain cuFile loop of our own, on
// the same GPU buffer, the same file and the same sizes, in alternating rounds.
//
//   gds-vs-raw DIR [SIZE_MIB=32] [ITERATIONS=24] [ROUNDS=3]
//
// DIR must be on a block-device filesystem (cuFile refuses tmpfs). For each file mode
// (O_DIRECT, buffered) and direction it uses a working set of 8 x SIZE in one file and
// times ITERATIONS transfers of SIZE each, after 8 untimed ones: the raw loop calls
// cuFileRead/cuFileWrite once per transfer on a cuFileBufRegister'ed buffer; Ferry reposts
// prepared transfers of one descriptor. It prints each round's GB/s, the median ratio
// Ferry/raw, and PASS when the ratio is at least 0.95.
#include <cuda_runtime_api.h>
#include <cufile.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "gpu_bench_util.h"

namespace {

using bench::Clock;
using bench::Die;
using bench::kSlots;
using bench::Median;

struct Setup {
  std::string path;
  bool direct;
  uint64_t size;
  void* gpu;
};

// The baseline: one synchronous cuFile call per transfer.
double RawRound(const Setup& st, bool write, int iters) {
  int fd = open(st.path.c_str(), O_RDWR | (st.direct ? O_DIRECT : 0));
  if (fd < 0) Die("open " + st.path);
  CUfileDescr_t d{};
  d.type = CU_FILE_HANDLE_TYPE_OPAQUE_FD;
  d.handle.fd = fd;
  CUfileHandle_t fh;
  if (cuFileHandleRegister(&fh, &d).err != CU_FILE_SUCCESS) Die("cuFileHandleRegister");
  auto one = [&](int i) {
    const off_t off = off_t((i % kSlots) * st.size);
    ssize_t n =
        write ? cuFileWrite(fh, st.gpu, st.size, off, 0) : cuFileRead(fh, st.gpu, st.size, off, 0);
    if (n != ssize_t(st.size)) Die("raw cuFile call moved " + std::to_string(n) + " bytes");
  };
  for (int i = 0; i < kSlots; ++i) one(i);  // untimed, as Ferry's rounds
  const auto t0 = Clock::now();
  for (int i = 0; i < iters; ++i) one(i);
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  cuFileHandleDeregister(fh);
  close(fd);
  return double(st.size) * iters / s / 1e9;
}

double FerryRound(const Setup& st, const char* plugin, bool write, int iters) {
  return bench::FerryRound({plugin, {}, ferry::MemKind::kVram, st.gpu, st.size, st.path, st.direct},
                           write, iters);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Die("usage: gds-vs-raw DIR [SIZE_MIB=32] [ITERATIONS=24] [ROUNDS=3]");
  const std::string dir = argv[1];
  const long mib = argc > 2 ? std::atol(argv[2]) : 32;
  const int iters = argc > 3 ? std::atoi(argv[3]) : 24;
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 3;
  if (mib < 1 || mib > 4096 || iters < 1 || iters > 100000 || rounds < 1 || rounds > 99)
    Die("SIZE_MIB must be 1..4096, ITERATIONS 1..100000, ROUNDS 1..99");
  const uint64_t size = uint64_t(mib) << 20;
  void* gpu = nullptr;
  if (cudaMalloc(&gpu, size) != cudaSuccess) Die("cudaMalloc");
  if (cudaMemset(gpu, 0x3C, size) != cudaSuccess) Die("cudaMemset");
  if (cuFileDriverOpen().err != CU_FILE_SUCCESS) Die("cuFileDriverOpen");
  // The baseline gets the same registered buffer Ferry registers.
  if (cuFileBufRegister(gpu, size, 0).err != CU_FILE_SUCCESS) Die("cuFileBufRegister");
  int failures = 0;
  std::printf("gds-vs-raw: %ld MiB per transfer, %d transfers per round, %d rounds\n", mib, iters,
              rounds);
  for (bool direct : {true, false}) {
    Setup st{dir + (direct ? "/gds-vs-raw.direct" : "/gds-vs-raw.buffered"), direct, size, gpu};
    int fd = open(st.path.c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, off_t(size * kSlots)) != 0) Die("creating " + st.path);
    close(fd);
    for (bool write : {true, false}) {
      const char* op = write ? "write" : "read";
      const char* mode = direct ? "O_DIRECT" : "buffered";
      std::vector<double> raw, gds, mt;
      for (int r = 0; r < rounds; ++r) {
        raw.push_back(RawRound(st, write, iters));
        gds.push_back(FerryRound(st, "GDS", write, iters));
        mt.push_back(FerryRound(st, "GDS_MT", write, iters));
        std::printf("  %-8s %-5s round %d: raw %.2f GB/s, GDS %.2f, GDS_MT %.2f\n", mode, op, r + 1,
                    raw.back(), gds.back(), mt.back());
      }
      const double base = Median(raw);
      for (auto [name, v] : {std::pair{"GDS", &gds}, std::pair{"GDS_MT", &mt}}) {
        const double ratio = Median(*v) / base;
        const bool pass = ratio >= 0.95;
        failures += !pass;
        std::printf("%-8s %-5s %-6s %.2f GB/s vs raw cuFile %.2f GB/s: ratio %.2f %s\n", mode, op,
                    name, Median(*v), base, ratio, pass ? "PASS" : "FAIL (target 0.95)");
      }
    }
    unlink(st.path.c_str());
  }
  cuFileBufDeregister(gpu);
  cudaFree(gpu);
  return failures == 0 ? 0 : 2;
}
