// One posting thread of a benchmark case: the timed loop.
//
// A worker owns `queue_depth` slots. Slot s of a worker issues the worker's requests
// s, s + qd, s + 2qd, ... one at a time, always into the same DRAM region, so requests in
// flight never share buffer memory and no lock or shared queue is needed between slots.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <string>
#include <vector>

#include "ferry/agent.h"
#include "options.h"

namespace ferry_bench {

using Clock = std::chrono::steady_clock;

struct WorkerPlan {
  ferry::Agent* agent = nullptr;
  ferry::BackendId backend;
  ferry::XferOp op = ferry::XferOp::kRead;
  const ferry::PreppedList* local = nullptr;   // DRAM: one descriptor per block of buffer
  const ferry::PreppedList* target = nullptr;  // FILE: one descriptor per block, file-major
  uint64_t local_count = 0;                    // descriptors in `local`
  uint64_t target_count = 0;                   // descriptors in `target`
  uint32_t worker_index = 0;
  uint32_t batch = 1;
  uint32_t queue_depth = 1;
  uint64_t first_request = 0;  // global request numbers [first, first + count)
  uint64_t request_count = 0;
  bool random = false;
  uint64_t seed = 1;
  uint64_t bytes_per_request = 0;
  XferMode mode = XferMode::kMake;
  WaitMode wait = WaitMode::kBlock;
  uint64_t max_xfers_per_slot = 1;  // repost mode
  // --layout nixlbench: slot s targets the blocks (worker_index * queue_depth + s) * batch
  // onwards, the same as its DRAM region.
  bool fixed_working_set = false;
  std::chrono::nanoseconds timeout{0};
  std::atomic<uint64_t>* done_bytes = nullptr;
  std::atomic<bool>* abort = nullptr;  // set by a failing worker so the others stop early
  std::latch* start = nullptr;         // untimed set-up ends here for every worker at once
};

struct WorkerResult {
  std::vector<uint64_t> latency_ns;  // one per completed request
  uint64_t post_ns = 0;              // sum of time inside Post()
  uint64_t requests = 0;
  Clock::time_point first_post{};
  Clock::time_point last_done{};
  bool ok = true;
  std::string error;
};

// Always arrives at plan.start exactly once, even on a set-up error, so no worker waits
// forever for a failed one.
void RunWorker(const WorkerPlan& plan, WorkerResult* result);

}  // namespace ferry_bench
