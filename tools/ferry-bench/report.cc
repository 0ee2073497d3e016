#include "report.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <numeric>

#include "common/percentile.h"

namespace ferry_bench {
namespace {

const char* XferModeName(XferMode mode) {
  return mode == XferMode::kRepost ? "repost" : "make";
}
const char* WaitModeName(WaitMode mode) {
  return mode == WaitMode::kPoll ? "poll" : "block";
}

double PercentileUs(std::vector<uint64_t>* latencies_ns, double fraction) {
  return static_cast<double>(ferry_tools::Percentile(latencies_ns, fraction)) / 1e3;
}

std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

void SummarizeLatency(std::vector<uint64_t>* latencies_ns, CaseResult* result) {
  if (latencies_ns->empty()) return;
  double sum = std::accumulate(latencies_ns->begin(), latencies_ns->end(), 0.0);
  result->lat_mean_us = sum / static_cast<double>(latencies_ns->size()) / 1e3;
  result->lat_max_us =
      static_cast<double>(*std::max_element(latencies_ns->begin(), latencies_ns->end())) / 1e3;
  result->p50_us = PercentileUs(latencies_ns, 0.50);
  result->p99_us = PercentileUs(latencies_ns, 0.99);
  result->p999_us = PercentileUs(latencies_ns, 0.999);
}

void PrintTableHeader(FILE* out) {
  std::fprintf(out, "%-9s %6s %5s %5s %4s %3s %8s %12s %9s %9s %9s\n", "op", "block", "batch", "qd",
               "thr", "dio", "GB/s", "IOPS", "p50_us", "p99_us", "cpu_us/io");
}

void PrintTableRow(FILE* out, const CaseResult& r) {
  if (!r.ok) {
    std::fprintf(out, "%-9s %6s %5u %5u %4u %3d  FAILED: %s\n", BenchOpName(r.c.op),
                 FormatSize(r.c.block_size).c_str(), r.c.batch, r.c.queue_depth, r.c.threads,
                 r.direct ? 1 : 0, r.error.c_str());
    return;
  }
  std::fprintf(out, "%-9s %6s %5u %5u %4u %3d %8.3f %12.0f %9.1f %9.1f %9.2f\n",
               BenchOpName(r.c.op), FormatSize(r.c.block_size).c_str(), r.c.batch, r.c.queue_depth,
               r.c.threads, r.direct ? 1 : 0, r.gbps, r.iops, r.p50_us, r.p99_us, r.cpu_us_per_io);
  std::fflush(out);
}

JsonLinesWriter::~JsonLinesWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

bool JsonLinesWriter::Open(const std::string& path, std::string* error) {
  file_ = std::fopen(path.c_str(), "w");
  if (file_ == nullptr) {
    *error = "cannot open --json file '" + path + "': " + std::strerror(errno);
    return false;
  }
  return true;
}

void JsonLinesWriter::Write(const CaseResult& r) {
  if (file_ == nullptr) return;
  nlohmann::json j = {
      {"op", BenchOpName(r.c.op)},
      {"block_size", r.c.block_size},
      {"batch", r.c.batch},
      {"queue_depth", r.c.queue_depth},
      {"threads", r.c.threads},
      {"direct", r.direct},
      {"engine", r.engine},
      {"backend", r.backend},
      {"files", r.files},
      {"file_size", r.file_size},
      {"xfer_mode", XferModeName(r.xfer_mode)},
      {"layout", r.layout == Layout::kNixlbench ? "nixlbench" : "spread"},
      {"wait", WaitModeName(r.wait_mode)},
      {"ok", r.ok},
      {"bytes", r.bytes},
      {"ios", r.ios},
      {"requests", r.requests},
      {"seconds", r.seconds},
      {"gbps", r.gbps},
      {"iops", r.iops},
      {"lat_mean_us", r.lat_mean_us},
      {"p50_us", r.p50_us},
      {"p99_us", r.p99_us},
      {"p999_us", r.p999_us},
      {"lat_max_us", r.lat_max_us},
      {"post_mean_us", r.post_mean_us},
      {"cpu_seconds", r.cpu_seconds},
      {"cpu_us_per_io", r.cpu_us_per_io},
      {"time", UtcNow()},
  };
  if (!r.ok) j["error"] = r.error;
  std::string line = j.dump();
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

Progress::Progress(std::string label, uint64_t total_bytes, const std::atomic<uint64_t>* done_bytes)
    : label_(std::move(label)), total_(total_bytes), done_(done_bytes) {
  if (isatty(STDERR_FILENO) == 1) thread_ = std::thread([this] { Loop(); });
}

Progress::~Progress() {
  stop_.store(true);
  if (thread_.joinable()) {
    thread_.join();
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

void Progress::Loop() {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  while (!stop_.load()) {
    // Short sleeps so that the destructor never waits long for a quick case.
    for (int i = 0; i < 10 && !stop_.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    if (stop_.load()) break;
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    uint64_t done = done_->load(std::memory_order_relaxed);
    double pct = total_ == 0 ? 0 : 100.0 * static_cast<double>(done) / static_cast<double>(total_);
    std::fprintf(stderr, "\r\033[K%s: %5.1f%%  %.3f GB/s", label_.c_str(), pct,
                 secs > 0 ? static_cast<double>(done) / secs / 1e9 : 0.0);
    std::fflush(stderr);
  }
}

}  // namespace ferry_bench
