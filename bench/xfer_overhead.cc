// xfer-overhead: the C++ side of bench/python_overhead.py. One 4 KiB DRAM -> FILE transfer
// of one descriptor through POSIX, created once and reposted: post + wait, N times.
// Prints the median of its rounds in nanoseconds per transfer.
//   xfer-overhead FILE [iterations] [rounds]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "ferry/agent.h"

namespace {

void Check(const ferry::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "xfer-overhead: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: xfer-overhead FILE [iterations] [rounds]\n");
    return 2;
  }
  const std::string path = argv[1];
  const int iters = argc > 2 ? std::atoi(argv[2]) : 20000;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
  if (iters <= 0 || rounds <= 0) return 2;
  std::unique_ptr<ferry::Agent> agent;
  Check(ferry::Agent::Create("xfer-overhead", {}, &agent), "Agent::Create");
  ferry::BackendId posix;
  Check(agent->CreateBackend("POSIX", {}, &posix), "CreateBackend");
  std::vector<uint8_t> buf(4096, 7);
  ferry::RegHandle mem, file;
  Check(
      agent->RegisterMem({ferry::MemKind::kDram, {ferry::DramDesc(buf.data(), buf.size())}}, &mem),
      "register memory");
  Check(agent->RegisterMem(
            {ferry::MemKind::kFile, {ferry::FileByPath(path, 1, {.write = true, .create = true})}},
            &file),
        "register file");
  std::unique_ptr<ferry::Transfer> x;
  Check(agent->CreateTransfer(
            ferry::XferOp::kWrite,
            {ferry::MemKind::kDram, {{reinterpret_cast<uint64_t>(buf.data()), 4096, 0}}},
            {ferry::MemKind::kFile, {{0, 4096, 1}}}, "", &x),
        "CreateTransfer");
  std::vector<double> ns;
  for (int r = -1; r < rounds; ++r) {  // round -1 warms up
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) {
      Check(x->Post(), "Post");
      Check(x->Wait(std::chrono::seconds(10)), "Wait");
    }
    const double d =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    if (r >= 0) ns.push_back(d / iters);
  }
  std::sort(ns.begin(), ns.end());
  std::printf("%.1f\n", ns[ns.size() / 2]);
  return 0;
}
