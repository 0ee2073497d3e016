// Results of one benchmark case, and the three ways they leave the process: a table on
// stdout, JSON Lines (--json) and a progress line on stderr when stderr is a terminal.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "options.h"

namespace ferry_bench {

struct CaseResult {
  Case c{};
  bool direct = false;
  std::string engine;  // as asked (--engine); "auto" = the backend's default
  std::string backend;
  uint32_t files = 0;
  uint64_t file_size = 0;
  XferMode xfer_mode = XferMode::kMake;
  Layout layout = Layout::kSpread;
  WaitMode wait_mode = WaitMode::kBlock;
  uint64_t bytes = 0;     // payload moved while timed
  uint64_t ios = 0;       // descriptors moved
  uint64_t requests = 0;  // Transfers posted
  double seconds = 0;     // first post -> last completion
  double gbps = 0;        // 1e9 bytes per second
  double iops = 0;        // descriptors per second
  // Request latency, Post() start -> completion, in microseconds.
  double lat_mean_us = 0, p50_us = 0, p99_us = 0, p999_us = 0, lat_max_us = 0;
  double post_mean_us = 0;  // mean time spent inside Post()
  // CPU time of the whole process (all threads, user + system) while timed, and per
  // descriptor moved: what a busy-polling caller spends shows up here too.
  double cpu_seconds = 0;
  double cpu_us_per_io = 0;
  bool ok = true;
  std::string error;
};

// Fills the latency fields from per-request latencies in nanoseconds (reordered in place).
void SummarizeLatency(std::vector<uint64_t>* latencies_ns, CaseResult* result);

void PrintTableHeader(FILE* out);
void PrintTableRow(FILE* out, const CaseResult& result);

// JSON Lines: one object per case, written and flushed as each case ends, so a run that
// is interrupted still leaves every finished case behind. The file is truncated at open.
class JsonLinesWriter {
 public:
  ~JsonLinesWriter();
  bool Open(const std::string& path, std::string* error);
  void Write(const CaseResult& result);

 private:
  FILE* file_ = nullptr;
};

// A self-refreshing "case: 42% 1.23 GB/s" line on stderr, only when stderr is a TTY so that
// logs and pipes stay clean. Reads a counter the workers bump; costs them nothing else.
class Progress {
 public:
  Progress(std::string label, uint64_t total_bytes, const std::atomic<uint64_t>* done_bytes);
  ~Progress();  // stops the refresher and clears the line

 private:
  void Loop();
  std::string label_;
  uint64_t total_ = 0;
  const std::atomic<uint64_t>* done_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ferry_bench
