// Shared helpers for the integration tests: temp dirs, aligned buffers, random data, and
// the agent + POSIX backend set-up every suite needs.
#pragma once

#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ferry/agent.h"
#include "ferry/memory.h"
#include "ferry/params.h"
#include "ferry/status.h"
#include "ferry/transfer.h"

namespace ferry {
// gtest prints codes by name in failure messages.
inline void PrintTo(Code code, std::ostream* os) {
  *os << CodeName(code);
}
inline void PrintTo(const Status& s, std::ostream* os) {
  *os << s.ToString();
}
}  // namespace ferry

#define FERRY_ASSERT_OK(expr)                                             \
  do {                                                                    \
    const ::ferry::Status ferry_s_ = (expr);                              \
    ASSERT_TRUE(ferry_s_.ok()) << #expr << " -> " << ferry_s_.ToString(); \
  } while (0)

#define FERRY_EXPECT_OK(expr)                                             \
  do {                                                                    \
    const ::ferry::Status ferry_s_ = (expr);                              \
    EXPECT_TRUE(ferry_s_.ok()) << #expr << " -> " << ferry_s_.ToString(); \
  } while (0)

namespace ferry::test {

// POSIX backend parameter names (the plugin's schema).
inline constexpr char kPosix[] = "POSIX";
inline constexpr char kEngineKey[] = "engine";
inline constexpr char kQueueDepthKey[] = "queue_depth";
inline constexpr char kMaxRequestKey[] = "max_request_size";
inline const std::vector<std::string> kEngines = {"uring", "aio", "threads"};

// Generous bound for any Wait in a test: a transfer that needs it has hung.
inline constexpr std::chrono::seconds kWaitLimit{60};
inline constexpr size_t kAlign = 4096;

// A fresh directory removed (with its files) on destruction. O_DIRECT needs a real disk,
// so with `need_direct` a tmpfs $TMPDIR is passed over for /var/tmp.
class TempDir {
 public:
  explicit TempDir(bool need_direct = false) {
    std::string base = "/var/tmp";
    if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t != '\0') base = t;
    struct statfs fs {};
    if (need_direct && statfs(base.c_str(), &fs) == 0 && fs.f_type == 0x01021994 /*tmpfs*/) {
      base = "/var/tmp";
    }
    Make(base);
  }
  // In a chosen directory (e.g. /dev/shm for the POSIX inline path).
  struct Under {
    std::string base;
  };
  explicit TempDir(const Under& under) { Make(under.base); }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  void Make(const std::string& base) {
    std::string tmpl = base + "/ferry-test-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  std::string path_;
};

// /dev/shm, where the POSIX backend's inline path runs, when it is a writable tmpfs here.
inline constexpr char kShm[] = "/dev/shm";
inline bool ShmIsTmpfs() {
  struct statfs fs {};
  return statfs(kShm, &fs) == 0 && fs.f_type == 0x01021994 && access(kShm, W_OK) == 0;
}

// Page-aligned heap memory (usable with O_DIRECT), zero-filled.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t size) : size_(size) {
    size_t alloc = (size + kAlign - 1) / kAlign * kAlign;
    if (alloc == 0) alloc = kAlign;
    void* p = nullptr;
    if (posix_memalign(&p, kAlign, alloc) == 0) {
      std::memset(p, 0, alloc);
      data_ = static_cast<uint8_t*>(p);
    }
  }
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  uint64_t addr() const { return reinterpret_cast<uint64_t>(data_); }

 private:
  uint8_t* data_ = nullptr;
  size_t size_;
};

inline void FillRandom(void* dst, size_t len, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto* p = static_cast<uint8_t*>(dst);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v = rng();
    std::memcpy(p + i, &v, 8);
  }
  uint64_t v = rng();
  for (; i < len; ++i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

// Index of the first differing byte, or -1.
inline int64_t FirstDiff(const void* a, const void* b, size_t len) {
  if (std::memcmp(a, b, len) == 0) return -1;
  const auto* x = static_cast<const uint8_t*>(a);
  const auto* y = static_cast<const uint8_t*>(b);
  for (size_t i = 0; i < len; ++i) {
    if (x[i] != y[i]) return static_cast<int64_t>(i);
  }
  return -1;
}

// Whether this kernel lets us create an io_uring at all (it may be disabled by sysctl or
// seccomp in containers); engine=uring tests are skipped when it does not.
inline bool KernelHasIoUring() {
  io_uring_params p{};
  long fd = syscall(__NR_io_uring_setup, 2, &p);
  if (fd < 0) return false;
  close(static_cast<int>(fd));
  return true;
}

inline Status MakeAgent(std::unique_ptr<Agent>* out, std::string name = "test-agent") {
  return Agent::Create(std::move(name), AgentConfig{}, out);
}

inline Params EngineParams(const std::string& engine, Params extra = {}) {
  extra[kEngineKey] = engine;
  return extra;
}

inline XferDescList DramList(std::initializer_list<XferDesc> descs) {
  XferDescList l;
  l.kind = MemKind::kDram;
  l.descs = descs;
  return l;
}

inline XferDescList FileList(std::initializer_list<XferDesc> descs) {
  XferDescList l;
  l.kind = MemKind::kFile;
  l.descs = descs;
  return l;
}

inline XferDesc Dram(const void* p, uint64_t len) {
  return XferDesc{reinterpret_cast<uint64_t>(p), len, 0};
}

inline FileOpenFlags RwCreate(bool direct = false) {
  FileOpenFlags f;
  f.write = true;
  f.create = true;
  f.direct = direct;
  return f;
}

inline Status RegisterOne(Agent& agent, MemKind kind, MemDesc desc, RegHandle* out,
                          const RegOptions& options = {}) {
  MemDescList l;
  l.kind = kind;
  l.descs.push_back(std::move(desc));
  return agent.RegisterMem(l, out, options);
}

// Create, post, wait: the first failure, or the transfer's outcome.
inline Status RunXfer(Agent& agent, XferOp op, const XferDescList& local,
                      const XferDescList& target, const XferOptions& options = {}) {
  std::unique_ptr<Transfer> x;
  Status s = agent.CreateTransfer(op, local, target, "", &x, options);
  if (!s.ok()) return s;
  s = x->Post();
  if (!s.ok()) return s;
  return x->Wait(kWaitLimit);
}

// An agent with one POSIX backend, in a fresh temp dir. Call Init from SetUp.
class PosixHarness {
 public:
  explicit PosixHarness(bool need_direct = true) : dir_(need_direct) {}
  explicit PosixHarness(const TempDir::Under& under) : dir_(under) {}

  Status Init(const Params& params) {
    if (!dir_.ok()) return Internal("mkdtemp failed");
    Status s = MakeAgent(&agent_);
    if (!s.ok()) return s;
    return agent_->CreateBackend(kPosix, params, &backend_);
  }

  Agent& agent() { return *agent_; }
  // Destroys the agent (transfers made from it stay usable).
  void DestroyAgent() { agent_.reset(); }
  BackendId backend() const { return backend_; }
  const TempDir& dir() const { return dir_; }

  Status RegisterDram(const void* p, uint64_t len, RegHandle* h = nullptr) {
    RegHandle tmp;
    return RegisterOne(*agent_, MemKind::kDram, DramDesc(p, len), h ? h : &tmp);
  }
  Status RegisterFile(const std::string& name, uint64_t id, FileOpenFlags flags,
                      RegHandle* h = nullptr) {
    RegHandle tmp;
    return RegisterOne(*agent_, MemKind::kFile, FileByPath(dir_.File(name), id, flags),
                       h ? h : &tmp);
  }

 private:
  TempDir dir_;
  std::unique_ptr<Agent> agent_;
  BackendId backend_;
};

// `threads` threads each write random bytes to their own `len`-byte part of one file of
// `h` ("concurrent", id 1000) and read them back, `rounds` times. Returns each thread's first
// failure, "" when it had none.
inline std::vector<std::string> ConcurrentRoundTrips(PosixHarness& h, int threads, int rounds,
                                                     uint64_t len) {
  std::vector<std::string> errors(static_cast<size_t>(threads));
  AlignedBuffer src(threads * len), dst(threads * len);
  for (Status st : {h.RegisterDram(src.data(), src.size()), h.RegisterDram(dst.data(), dst.size()),
                    h.RegisterFile("concurrent", 1000, RwCreate())})
    if (!st.ok()) {
      errors.assign(size_t(threads), "set-up: " + st.ToString());
      return errors;
    }
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      uint8_t* s = src.data() + t * len;
      uint8_t* d = dst.data() + t * len;
      for (int r = 0; r < rounds && errors[t].empty(); ++r) {
        FillRandom(s, len, uint64_t(t) * 1000 + r);
        Status st = RunXfer(h.agent(), XferOp::kWrite, DramList({Dram(s, len)}),
                            FileList({{t * len, len, 1000}}));
        if (st.ok())
          st = RunXfer(h.agent(), XferOp::kRead, DramList({Dram(d, len)}),
                       FileList({{t * len, len, 1000}}));
        if (!st.ok())
          errors[t] = st.ToString();
        else if (FirstDiff(s, d, len) != -1)
          errors[t] = "round " + std::to_string(r) + ": data differs";
      }
    });
  }
  for (auto& w : workers) w.join();
  return errors;
}

}  // namespace ferry::test
