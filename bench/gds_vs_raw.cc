// gds-vs-raw: Ferry's GDS and GDS_MT backends against a plain cuFile loop of our own, on
// the same GPU buffer, the same file and the same sizes, in alternating rounds.
//
//   gds-vs-raw DIR [SIZE_MIB=32] [ITERATIONS=24] [ROUNDS=3]
//              [--modes direct,buffered] [--ops write,read]
//              [--gds-param K=V ...] [--mt-param K=V ...]
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

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <sstream>
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

double FerryRound(const Setup& st, const char* plugin, const ferry::Params& params, bool write,
                  int iters) {
  return bench::FerryRound(
      {plugin, params, ferry::MemKind::kVram, st.gpu, st.size, st.path, st.direct}, write, iters);
}

// KEY=VALUE strings as backend parameters.
ferry::Params ParseParams(const std::vector<std::string>& kvs, const char* flag) {
  ferry::Params p;
  for (const auto& kv : kvs) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      Die(std::string(flag) + " wants KEY=VALUE, got '" + kv + "'");
    p[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return p;
}

std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GDS and GDS_MT against a raw cuFile loop, VRAM <-> FILE"};
  std::string dir, modes = "direct,buffered", ops = "write,read";
  long mib = 32;
  int iters = 24, rounds = 3;
  std::vector<std::string> gds_kv, mt_kv;
  app.add_option("dir", dir, "directory on a block-device filesystem")->required();
  app.add_option("size_mib", mib, "MiB per transfer")->check(CLI::Range(1, 4096));
  app.add_option("iterations", iters, "timed transfers per round")->check(CLI::Range(1, 100000));
  app.add_option("rounds", rounds, "rounds, raw / GDS / GDS_MT in turn")->check(CLI::Range(1, 99));
  app.add_option("--modes", modes, "file modes: direct, buffered (comma-separated)");
  app.add_option("--ops", ops, "directions: write, read (comma-separated)");
  app.add_option("--gds-param", gds_kv, "KEY=VALUE for the GDS backend (repeatable)");
  app.add_option("--mt-param", mt_kv, "KEY=VALUE for the GDS_MT backend (repeatable)");
  CLI11_PARSE(app, argc, argv);
  const ferry::Params gds_params = ParseParams(gds_kv, "--gds-param");
  const ferry::Params mt_params = ParseParams(mt_kv, "--mt-param");
  std::vector<bool> directs, writes;
  for (const auto& m : SplitList(modes)) {
    if (m != "direct" && m != "buffered") Die("--modes takes direct and buffered, got '" + m + "'");
    directs.push_back(m == "direct");
  }
  for (const auto& o : SplitList(ops)) {
    if (o != "write" && o != "read") Die("--ops takes write and read, got '" + o + "'");
    writes.push_back(o == "write");
  }
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
  for (bool direct : directs) {
    Setup st{dir + (direct ? "/gds-vs-raw.direct" : "/gds-vs-raw.buffered"), direct, size, gpu};
    int fd = open(st.path.c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, off_t(size * kSlots)) != 0) Die("creating " + st.path);
    close(fd);
    for (bool write : writes) {
      const char* op = write ? "write" : "read";
      const char* mode = direct ? "O_DIRECT" : "buffered";
      std::vector<double> raw, gds, mt;
      for (int r = 0; r < rounds; ++r) {
        // Which side goes first rotates, so none always runs on the warmest cache.
        for (int k = 0; k < 3; ++k) {
          const int side = (r + k) % 3;
          if (side == 0) raw.push_back(RawRound(st, write, iters));
          if (side == 1) gds.push_back(FerryRound(st, "GDS", gds_params, write, iters));
          if (side == 2) mt.push_back(FerryRound(st, "GDS_MT", mt_params, write, iters));
        }
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
