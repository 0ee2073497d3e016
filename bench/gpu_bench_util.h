// What the GPU benchmarks share: failing loudly, medians, and timing a Ferry transfer
// reposted over a working set of slots of one file.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "ferry/agent.h"

namespace bench {

using Clock = std::chrono::steady_clock;
constexpr int kSlots = 8;  // working set = kSlots x size

[[noreturn]] inline void Die(const std::string& m) {
  std::fprintf(stderr, "bench: %s\n", m.c_str());
  std::exit(1);
}

inline void Check(const ferry::Status& s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + s.ToString());
}

inline void CudaCheck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) Die(std::string(what) + ": " + cudaGetErrorString(e));
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct FerryCase {
  const char* plugin;
  ferry::Params params;
  ferry::MemKind kind;  // DRAM or VRAM
  void* buf;
  uint64_t size;
  std::string path;
  bool direct;
  // Cold memory (0: off): `buf` spans this many bytes, and each transfer moves the next
  // `size` bytes of it (from *cursor on, wrapping), so no transfer's memory was touched
  // recently and none sits in the CPU's caches as a buffer moved again and again does.
  uint64_t span = 0;
  uint64_t* cursor = nullptr;
};

// GB/s of `iters` transfers of c.size, one at a time (post, wait), cycling over kSlots
// slots of the file. A fresh agent and backend per round, as a process has; kSlots
// transfers run before the clock starts so that every worker thread has warmed up.
inline double FerryRound(const FerryCase& c, bool write, int iters) {
  std::unique_ptr<ferry::Agent> agent;
  Check(ferry::Agent::Create("bench", {}, &agent), "Agent::Create");
  ferry::BackendId b;
  Check(agent->CreateBackend(c.plugin, c.params, &b), c.plugin);
  const uint64_t addr = reinterpret_cast<uint64_t>(c.buf);
  const bool cold = c.span > c.size && c.cursor != nullptr;
  const uint64_t buffers = cold ? c.span / c.size : 1;
  ferry::RegHandle h;
  Check(agent->RegisterMem({c.kind, {{addr, buffers * c.size, 0, ""}}}, &h), "register memory");
  ferry::FileOpenFlags f;
  f.write = true;
  f.direct = c.direct;
  Check(agent->RegisterMem({ferry::MemKind::kFile, {ferry::FileByPath(c.path, 1, f)}}, &h),
        "register " + c.path);
  // Transfer i moves memory buffer i % buffers to file slot i % kSlots.
  const uint64_t count = std::max<uint64_t>(kSlots, buffers);
  std::vector<std::unique_ptr<ferry::Transfer>> xs(count);
  for (uint64_t i = 0; i < count; ++i)
    Check(agent->CreateTransfer(write ? ferry::XferOp::kWrite : ferry::XferOp::kRead,
                                {c.kind, {{addr + i % buffers * c.size, c.size, 0}}},
                                {ferry::MemKind::kFile, {{i % kSlots * c.size, c.size, 1}}}, "",
                                &xs[i]),
          "CreateTransfer");
  uint64_t next = cold ? *c.cursor : 0;
  auto run = [&] {
    auto& x = xs[next++ % count];
    Check(x->Post(), "Post");
    Check(x->Wait(std::chrono::seconds(60)), "Wait");
  };
  for (int i = 0; i < kSlots; ++i) run();
  const auto t0 = Clock::now();
  for (int i = 0; i < iters; ++i) run();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (cold) *c.cursor = next;
  return double(c.size) * iters / s / 1e9;
}

}  // namespace bench
