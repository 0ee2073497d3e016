// engine-cost: what the POSIX backend's engine path costs per request at queue depth 1,
// next to a raw liburing and a raw libaio loop doing the same I/O in the same run.
//
// One 4 KiB (or --size) read or write of one descriptor, at offsets cycling through a
// preallocated file, posted and waited for N times: through the agent (POSIX with
// inline_max=0, so every request goes through the engine, for engine uring and aio), and
// as raw io_uring (submit + wait for the CQE) and raw libaio (io_submit + io_getevents)
// loops. Rounds alternate the four; medians of microseconds per request are printed, with
// Ferry's cost over the raw loop of its engine. Run it on tmpfs for the library's own
// cost (no device time), or on a disk with --direct.
//
//   engine-cost DIR [--op read|write] [--size 4096] [--iters 20000] [--rounds 5] [--direct]
//               [--spin-us N]   (POSIX's spin_us for the Ferry runs)
//               [--poll]        (every loop busy-polls instead of sleeping: raw loops peek
//                                at their completion ring, Ferry spins on Transfer::Check,
//                                as nixlbench spins on getXferStatus)
#include <fcntl.h>
#include <libaio.h>
#include <liburing.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ferry/agent.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kFileBytes = 64ull << 20;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "engine-cost: %s\n", what.c_str());
  std::exit(1);
}

void Check(const ferry::Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

struct Setup {
  std::string path;
  bool write = false;
  bool direct = false;
  uint64_t size = 4096;
  int iters = 20000;
  int spin_us = 0;    // POSIX spin_us for the Ferry runs
  bool poll = false;  // busy-poll for completions instead of sleeping
  uint8_t* buf = nullptr;
  uint64_t Offset(int i) const { return (uint64_t(i) * size) % kFileBytes; }
};

// One timed loop: microseconds per request.
double Time(const Setup& s, const std::function<void(int)>& one) {
  for (int i = 0; i < s.iters / 10; ++i) one(i);  // warm
  const auto t0 = Clock::now();
  for (int i = 0; i < s.iters; ++i) one(i);
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / s.iters;
}

int OpenFile(const Setup& s) {
  const int fd = ::open(s.path.c_str(), (s.write ? O_RDWR : O_RDONLY) | (s.direct ? O_DIRECT : 0));
  if (fd < 0) Die("open " + s.path + ": " + std::strerror(errno));
  return fd;
}

double RawUring(const Setup& s) {
  io_uring ring;
  if (io_uring_queue_init(8, &ring, 0) != 0) Die("io_uring_queue_init");
  const int fd = OpenFile(s);
  const double us = Time(s, [&](int i) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (s.write)
      io_uring_prep_write(sqe, fd, s.buf, unsigned(s.size), s.Offset(i));
    else
      io_uring_prep_read(sqe, fd, s.buf, unsigned(s.size), s.Offset(i));
    io_uring_submit(&ring);
    io_uring_cqe* cqe = nullptr;
    if (s.poll) {
      while (io_uring_peek_cqe(&ring, &cqe) != 0) {
      }
    } else if (io_uring_wait_cqe(&ring, &cqe) != 0) {
      Die("raw io_uring wait");
    }
    if (cqe->res != int(s.size)) Die("raw io_uring I/O");
    io_uring_cqe_seen(&ring, cqe);
  });
  ::close(fd);
  io_uring_queue_exit(&ring);
  return us;
}

double RawAio(const Setup& s) {
  io_context_t ctx = nullptr;
  if (io_setup(8, &ctx) != 0) Die("io_setup");
  const int fd = OpenFile(s);
  const double us = Time(s, [&](int i) {
    iocb cb;
    iocb* cbs[1] = {&cb};
    if (s.write)
      io_prep_pwrite(&cb, fd, s.buf, s.size, (long long)s.Offset(i));
    else
      io_prep_pread(&cb, fd, s.buf, s.size, (long long)s.Offset(i));
    if (io_submit(ctx, 1, cbs) != 1) Die("io_submit");
    io_event ev;
    int got;
    timespec zero{0, 0};
    do {
      // With a zero timeout libaio looks at the ring in user space and returns 0 at once
      // when it is empty.
      got = io_getevents(ctx, s.poll ? 0 : 1, 1, &ev, s.poll ? &zero : nullptr);
    } while (got == -EINTR || (s.poll && got == 0));
    if (got != 1 || long(ev.res) != long(s.size))
      Die("raw libaio I/O: " + std::to_string(got) + " events, result " +
          std::to_string(long(ev.res)));
  });
  ::close(fd);
  io_destroy(ctx);
  return us;
}

double Ferry(const Setup& s, const std::string& engine) {
  std::unique_ptr<ferry::Agent> agent;
  Check(ferry::Agent::Create("engine-cost", {}, &agent), "Agent::Create");
  ferry::BackendId posix;
  Check(agent->CreateBackend(
            "POSIX",
            {{"engine", engine}, {"inline_max", "0"}, {"spin_us", std::to_string(s.spin_us)}},
            &posix),
        "CreateBackend");
  ferry::RegHandle mem, file;
  Check(agent->RegisterMem({ferry::MemKind::kDram, {ferry::DramDesc(s.buf, s.size)}}, &mem),
        "register memory");
  ferry::FileOpenFlags flags{.write = s.write, .direct = s.direct};
  Check(agent->RegisterMem({ferry::MemKind::kFile, {ferry::FileByPath(s.path, 1, flags)}}, &file),
        "register file");
  // One transfer per offset slot, made before timing and reposted, as nixlbench does.
  constexpr int kSlots = 64;
  std::vector<std::unique_ptr<ferry::Transfer>> xs(kSlots);
  for (int k = 0; k < kSlots; ++k) {
    Check(agent->CreateTransfer(
              s.write ? ferry::XferOp::kWrite : ferry::XferOp::kRead,
              {ferry::MemKind::kDram, {{reinterpret_cast<uint64_t>(s.buf), s.size, 0}}},
              {ferry::MemKind::kFile, {{s.Offset(k), s.size, 1}}}, "", &xs[k]),
          "CreateTransfer");
  }
  const double us = Time(s, [&](int i) {
    ferry::Transfer& x = *xs[i % kSlots];
    Check(x.Post(), "Post");
    if (s.poll) {
      ferry::Status st = x.Check();
      while (st.code() == ferry::Code::kInProgress) st = x.Check();
      Check(st, "Check");
    } else {
      Check(x.Wait(std::chrono::seconds(10)), "Wait");
    }
  });
  xs.clear();
  return us;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: engine-cost DIR [--op read|write] [--size N] [--iters N] [--rounds N] "
                 "[--direct] [--spin-us N] [--poll]\n");
    return 2;
  }
  Setup s;
  int rounds = 5;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--op") {
      const std::string op = next();
      if (op != "read" && op != "write") Die("--op is read or write");
      s.write = op == "write";
    } else if (a == "--size") {
      s.size = std::strtoull(next().c_str(), nullptr, 10);
    } else if (a == "--iters") {
      s.iters = std::atoi(next().c_str());
    } else if (a == "--rounds") {
      rounds = std::atoi(next().c_str());
    } else if (a == "--spin-us") {
      s.spin_us = std::atoi(next().c_str());
    } else if (a == "--direct") {
      s.direct = true;
    } else if (a == "--poll") {
      s.poll = true;
    } else {
      Die("unknown option " + a);
    }
  }
  if (s.size == 0 || s.size > kFileBytes || s.size % 512 != 0 || s.iters <= 0 || rounds <= 0)
    Die("--size must be a multiple of 512 up to 64 MiB; --iters and --rounds positive");
  s.path = std::string(argv[1]) + "/engine-cost.data";
  {
    const int fd = ::open(s.path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) Die("create " + s.path + ": " + std::strerror(errno));
    std::vector<uint8_t> fill(1 << 20, 0x5a);
    for (uint64_t off = 0; off < kFileBytes; off += fill.size())
      if (::pwrite(fd, fill.data(), fill.size(), off_t(off)) != ssize_t(fill.size()))
        Die("filling " + s.path);
    ::fsync(fd);
    ::close(fd);
  }
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, s.size) != 0) Die("posix_memalign");
  s.buf = static_cast<uint8_t*>(mem);
  std::memset(s.buf, 0x33, s.size);
  std::map<std::string, std::vector<double>> us;
  const std::vector<std::pair<std::string, std::function<double()>>> runs = {
      {"raw io_uring", [&] { return RawUring(s); }},
      {"ferry uring", [&] { return Ferry(s, "uring"); }},
      {"raw libaio", [&] { return RawAio(s); }},
      {"ferry aio", [&] { return Ferry(s, "aio"); }},
  };
  for (int r = 0; r < rounds; ++r) {
    for (size_t k = 0; k < runs.size(); ++k) {
      const auto& [name, run] = runs[(k + r) % runs.size()];
      us[name].push_back(run());
    }
  }
  std::printf(
      "# %s %llu B, queue depth 1, %s, %d x %d requests, %s, spin_us %d, medians (us per "
      "request)\n",
      s.write ? "write" : "read", (unsigned long long)s.size, s.direct ? "O_DIRECT" : "buffered",
      rounds, s.iters, s.poll ? "busy-polling" : "sleeping waits", s.spin_us);
  for (const auto& [name, v] : us) std::printf("%-14s %8.2f\n", name.c_str(), Median(v));
  const double u = Median(us["ferry uring"]) - Median(us["raw io_uring"]);
  const double a = Median(us["ferry aio"]) - Median(us["raw libaio"]);
  std::printf("engine path cost over the raw loop: uring %+.2f us, aio %+.2f us per request\n", u,
              a);
  ::unlink(s.path.c_str());
  std::free(mem);
  return 0;
}
