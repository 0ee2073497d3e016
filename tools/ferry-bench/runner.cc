#include "runner.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <latch>
#include <thread>

#include "worker.h"

namespace ferry_bench {
namespace {

// Above this the slots share buffer regions (harmless for timing): a 32M x qd 64 case
// should not need 2 GiB of RAM.
constexpr uint64_t kMaxBuffer = 1ull << 30;
// A FILE transfer list of more blocks than this is a mistake (tiny blocks over huge files).
constexpr uint64_t kMaxTargetBlocks = 64ull << 20;

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Files are read and written with our own pread/pwrite during the untimed prepare step,
// independent of the backend under test.
bool FileLargeEnough(const std::string& path, uint64_t size, bool need_allocated) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  if (S_ISBLK(st.st_mode)) {
    // A block device (--dir holding a link to one): its size is the device's; every
    // byte of it is real storage.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const off_t end = ::lseek(fd, 0, SEEK_END);
    ::close(fd);
    return end >= 0 && static_cast<uint64_t>(end) >= size;
  }
  if (static_cast<uint64_t>(st.st_size) < size) return false;
  // A sparse file would read holes, not the disk.
  return !need_allocated || static_cast<uint64_t>(st.st_blocks) * 512 >= size;
}

// User + system CPU time of the whole process so far.
double ProcessCpuSeconds() {
  struct rusage ru {};
  if (::getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  auto secs = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

}  // namespace

bool Runner::Create(const Options& options, const std::vector<Case>& cases,
                    std::unique_ptr<Runner>* out, std::string* error) {
  std::unique_ptr<Runner> r(new Runner());
  r->options_ = options;
  // Repost mode keeps many Transfers alive; let them have whatever fds they need.
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &lim);
  }

  ferry::Status st = ferry::Agent::Create("ferry-bench", {}, &r->agent_);
  if (!st.ok()) return *error = "creating the agent: " + st.ToString(), false;

  ferry::Params params = options.params;
  if (options.engine != "auto") {
    auto it = params.find("engine");
    if (it != params.end() && it->second != options.engine) {
      *error = "--engine " + options.engine + " conflicts with --param engine=" + it->second;
      return false;
    }
    params["engine"] = options.engine;
  }
  st = r->agent_->CreateBackend(options.backend, params, &r->backend_);
  if (!st.ok()) {
    *error = st.ToString();  // the agent names the backend and the key
    if (st.code() == ferry::Code::kNotFound) error->append(" (see --list-backends)");
    return false;
  }

  // One buffer for every case: the largest threads x qd x batch x block footprint.
  uint64_t need = 4096;
  for (const Case& c : cases) {
    uint64_t slots = static_cast<uint64_t>(c.threads) * c.queue_depth * c.batch;
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(slots, c.block_size, &bytes)) bytes = UINT64_MAX;
    need = std::max(need, std::min(bytes, std::max(kMaxBuffer, c.block_size)));
  }
  r->buffer_size_ = (need + 4095) / 4096 * 4096;
  // 4096-aligned so O_DIRECT works for any logical block size up to a page.
  if (::posix_memalign(&r->buffer_, 4096, r->buffer_size_) != 0) {
    r->buffer_ = nullptr;
    *error = "cannot allocate a " + FormatSize(r->buffer_size_) + " buffer";
    return false;
  }
  uint64_t x = options.seed | 1;
  auto* words = static_cast<uint64_t*>(r->buffer_);
  for (uint64_t i = 0; i < r->buffer_size_ / 8; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    words[i] = x;
  }
  ferry::MemDescList dram;
  dram.kind = ferry::MemKind::kDram;
  dram.descs.push_back(ferry::DramDesc(r->buffer_, r->buffer_size_));
  ferry::RegOptions ro;
  ro.backends = {r->backend_};
  st = r->agent_->RegisterMem(dram, &r->buffer_reg_, ro);
  if (!st.ok()) return *error = "registering the DRAM buffer: " + st.ToString(), false;

  for (uint32_t i = 0; !options.objects() && i < options.files; ++i) {
    r->paths_.push_back(options.dir + "/ferry-bench." + std::to_string(i));
    struct stat sb {};
    r->existed_before_.push_back(::stat(r->paths_.back().c_str(), &sb) == 0);
  }
  r->has_data_.assign(options.files, false);
  r->touched_.assign(options.files, false);
  *out = std::move(r);
  return true;
}

Runner::~Runner() {
  if (agent_ && !options_.keep_files) RemoveObjects();
  if (agent_ && buffer_reg_.valid()) (void)agent_->DeregisterMem(buffer_reg_);
  agent_.reset();
  std::free(buffer_);
  if (options_.keep_files) return;
  for (size_t i = 0; i < paths_.size(); ++i) {
    if (touched_[i] || existed_before_[i]) ::unlink(paths_[i].c_str());
  }
}

bool Runner::WriteFileData(size_t index, uint64_t size, std::string* error) {
  const std::string& path = paths_[index];
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0600);
  if (fd < 0) return *error = Errno("open '" + path + "'"), false;
  touched_[index] = true;
  const uint64_t chunk = std::min<uint64_t>(buffer_size_, 8ull << 20);
  for (uint64_t off = 0; off < size;) {
    size_t n = static_cast<size_t>(std::min(chunk, size - off));
    ssize_t done = ::pwrite(fd, buffer_, n, static_cast<off_t>(off));
    if (done <= 0) {
      *error = Errno("writing '" + path + "'");
      ::close(fd);
      return false;
    }
    off += static_cast<uint64_t>(done);
  }
  // Durable and out of the page cache, so the first timed read is not a cache hit.
  if (::fdatasync(fd) != 0) *error = Errno("fdatasync '" + path + "'");
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  has_data_[index] = true;
  return error->empty();
}

bool Runner::PrepareFiles(const Case& c, const Geometry& g, std::string* error) {
  for (size_t i = 0; i < paths_.size(); ++i) {
    const std::string& path = paths_[i];
    if (!IsWrite(c.op)) {
      // Reads need real data: written by an earlier case, left by an earlier run, or now.
      // (An allocated file large enough is also large enough: one check each way.)
      const bool usable = has_data_[i] ? FileLargeEnough(path, g.file_size, false)
                                       : existed_before_[i] && !touched_[i] &&
                                             FileLargeEnough(path, g.file_size, true);
      if (usable) continue;
      if (!WriteFileData(i, g.file_size, error)) return false;
      continue;
    }
    // Writes go to preallocated space, as fio's default fallocate=native does, so neither
    // tool pays for growing the file while timed.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0) return *error = Errno("open '" + path + "'"), false;
    touched_[i] = true;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) < g.file_size) {
      if (::posix_fallocate(fd, 0, static_cast<off_t>(g.file_size)) != 0 &&
          ::ftruncate(fd, static_cast<off_t>(g.file_size)) != 0) {
        *error = Errno("sizing '" + path + "'");
        ::close(fd);
        return false;
      }
    }
    ::close(fd);
  }
  return true;
}

bool Runner::PrepareFileTargets(const Case& c, Geometry* g, ferry::RegHandle* reg,
                                std::shared_ptr<const ferry::PreppedList>* target,
                                std::string* error) {
  g->file_size =
      options_.file_size != 0 ? options_.file_size : options_.total_bytes / options_.files;
  if (options_.layout == Layout::kNixlbench && options_.file_size == 0) {
    // Just the working set, spread evenly over the files.
    const uint64_t blocks = uint64_t(c.threads) * c.queue_depth * c.batch;
    g->file_size = (blocks + options_.files - 1) / options_.files * c.block_size;
  }
  g->blocks_per_file = g->file_size / c.block_size;
  if (g->blocks_per_file == 0) {
    *error = "file size " + FormatSize(g->file_size) + " is smaller than block size " +
             FormatSize(c.block_size) + " (raise --total-bytes or --file-size)";
    return false;
  }
  g->file_size = g->blocks_per_file * c.block_size;
  g->target_count = g->blocks_per_file * options_.files;
  if (g->target_count > kMaxTargetBlocks) {
    *error = std::to_string(g->target_count) + " blocks of " + FormatSize(c.block_size) +
             " in the files: use a larger block size or a smaller --file-size";
    return false;
  }
  if (!PrepareFiles(c, *g, error)) return *error = "preparing files: " + *error, false;

  // Register the files for this case: read-write for writes, O_DIRECT per --direct.
  ferry::MemDescList files;
  files.kind = ferry::MemKind::kFile;
  ferry::FileOpenFlags flags;
  flags.write = IsWrite(c.op);
  flags.direct = options_.direct;
  for (size_t i = 0; i < paths_.size(); ++i) {
    files.descs.push_back(ferry::FileByPath(paths_[i], i + 1, flags));
  }
  ferry::RegOptions ro;
  ro.backends = {backend_};
  ferry::Status st = agent_->RegisterMem(files, reg, ro);
  if (!st.ok()) return *error = "registering files: " + st.ToString(), false;

  // Both transfer lists are resolved once; requests then pick descriptors by index.
  ferry::XferDescList list;
  list.kind = ferry::MemKind::kFile;
  list.descs.reserve(g->target_count);
  for (uint64_t f = 0; f < options_.files; ++f) {
    for (uint64_t b = 0; b < g->blocks_per_file; ++b) {
      list.descs.push_back({b * c.block_size, c.block_size, f + 1});
    }
  }
  st = agent_->PrepDescList(list, "", target);
  if (!st.ok()) return *error = "PrepDescList(files): " + st.ToString(), false;
  return true;
}

CaseResult Runner::RunCase(const Case& c) {
  CaseResult res;
  res.c = c;
  res.direct = options_.direct;
  res.engine = options_.engine;
  res.backend = options_.backend;
  res.files = options_.files;
  res.xfer_mode = options_.xfer_mode;
  res.layout = options_.layout;
  res.wait_mode = options_.wait_mode;
  auto fail = [&res](std::string message) {
    res.ok = false;
    res.error = std::move(message);
    return res;
  };

  Geometry g;
  const uint64_t request_bytes = c.block_size * c.batch;
  g.requests = options_.total_bytes / request_bytes;
  if (g.requests < c.threads) {
    return fail("--total-bytes " + FormatSize(options_.total_bytes) + " gives fewer requests of " +
                std::to_string(c.batch) + " x " + FormatSize(c.block_size) + " than threads");
  }
  g.local_count = buffer_size_ / c.block_size;
  // Deregistered after the prepared lists below are gone (destroyed in reverse order).
  ferry::RegHandle target_reg;
  struct Deregister {
    ferry::Agent* agent;
    ferry::RegHandle* handle;
    ~Deregister() {
      if (handle->valid()) (void)agent->DeregisterMem(*handle);
    }
  } deregister{agent_.get(), &target_reg};
  std::shared_ptr<const ferry::PreppedList> target_prep, local_prep;
  std::string error;
  if (options_.objects()) {
    if (!PrepareObjects(c, &g, &target_reg, &target_prep, &error)) return fail(error);
  } else if (!PrepareFileTargets(c, &g, &target_reg, &target_prep, &error)) {
    return fail(error);
  }
  res.file_size = g.file_size;

  ferry::XferDescList local;
  local.kind = ferry::MemKind::kDram;
  local.descs.reserve(g.local_count);
  auto base = reinterpret_cast<uint64_t>(buffer_);
  for (uint64_t b = 0; b < g.local_count; ++b) {
    local.descs.push_back({base + b * c.block_size, c.block_size, 0});
  }
  ferry::Status st = agent_->PrepDescList(local, "", &local_prep);
  if (!st.ok()) return fail("PrepDescList(buffer): " + st.ToString());

  std::atomic<uint64_t> done_bytes{0};
  std::atomic<bool> abort{false};
  std::latch start(c.threads + 1);  // the workers and this thread, which reads the CPU clock
  std::vector<WorkerPlan> plans(c.threads);
  std::vector<WorkerResult> results(c.threads);
  uint64_t slots_total = static_cast<uint64_t>(c.threads) * c.queue_depth;
  for (uint32_t t = 0; t < c.threads; ++t) {
    WorkerPlan& p = plans[t];
    p.agent = agent_.get();
    p.backend = backend_;
    p.op = IsWrite(c.op) ? ferry::XferOp::kWrite : ferry::XferOp::kRead;
    p.local = local_prep.get();
    p.target = target_prep.get();
    p.local_count = g.local_count;
    p.target_count = g.target_count;
    p.worker_index = t;
    p.batch = c.batch;
    p.queue_depth = c.queue_depth;
    p.first_request = g.requests * t / c.threads;
    p.request_count = g.requests * (t + 1) / c.threads - p.first_request;
    p.random = IsRandom(c.op);
    p.seed = options_.seed;
    p.bytes_per_request = request_bytes;
    p.mode = options_.xfer_mode;
    p.wait = options_.wait_mode;
    p.max_xfers_per_slot = std::max<uint64_t>(1, options_.max_xfers / slots_total);
    if (options_.layout == Layout::kNixlbench) {
      p.max_xfers_per_slot = 1;
      p.fixed_working_set = true;
    }
    p.timeout = std::chrono::nanoseconds(static_cast<int64_t>(options_.timeout_s * 1e9));
    p.done_bytes = &done_bytes;
    p.abort = &abort;
    p.start = &start;
  }
  {
    std::string label = std::string(BenchOpName(c.op)) + " " + FormatSize(c.block_size);
    Progress progress(label, g.requests * request_bytes, &done_bytes);
    std::vector<std::thread> threads;
    for (uint32_t t = 0; t < c.threads; ++t) {
      threads.emplace_back(RunWorker, std::cref(plans[t]), &results[t]);
    }
    start.arrive_and_wait();
    const double cpu_start = ProcessCpuSeconds();
    for (std::thread& t : threads) t.join();
    // Every thread of the process: workers, the backend's threads, io_uring's workers.
    res.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  }

  std::vector<uint64_t> latencies;
  latencies.reserve(g.requests);
  Clock::time_point first = Clock::time_point::max(), last = Clock::time_point::min();
  uint64_t post_ns = 0;
  for (WorkerResult& w : results) {
    if (!w.ok) return fail(w.error);
    if (w.requests == 0) continue;
    first = std::min(first, w.first_post);
    last = std::max(last, w.last_done);
    post_ns += w.post_ns;
    res.requests += w.requests;
    latencies.insert(latencies.end(), w.latency_ns.begin(), w.latency_ns.end());
  }
  if (IsWrite(c.op) && !IsRandom(c.op) && g.requests * c.batch >= g.target_count) {
    has_data_.assign(paths_.size(), true);  // every block of every file was written
  }
  res.ios = res.requests * c.batch;
  res.bytes = res.ios * c.block_size;
  res.seconds = std::chrono::duration<double>(last - first).count();
  if (res.seconds > 0) {
    res.gbps = static_cast<double>(res.bytes) / res.seconds / 1e9;
    res.iops = static_cast<double>(res.ios) / res.seconds;
  }
  if (res.requests > 0) res.post_mean_us = static_cast<double>(post_ns) / res.requests / 1e3;
  if (res.ios > 0) res.cpu_us_per_io = res.cpu_seconds * 1e6 / static_cast<double>(res.ios);
  SummarizeLatency(&latencies, &res);
  return res;
}

}  // namespace ferry_bench
