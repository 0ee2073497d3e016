// Command-line options of ferry-bench and the list of benchmark cases they expand to.
//
// Every list option (--op, --block-size, --batch, --queue-depth, --threads) takes a comma
// list; the cases are the cross product, run in the order block size, op, batch, queue depth,
// threads, so that `--op write,read` reads back the files the write case just wrote.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/params.h"

namespace ferry_bench {

enum class BenchOp : uint8_t { kWrite, kRead, kRandWrite, kRandRead };
const char* BenchOpName(BenchOp op);
inline bool IsWrite(BenchOp op) {
  return op == BenchOp::kWrite || op == BenchOp::kRandWrite;
}
inline bool IsRandom(BenchOp op) {
  return op == BenchOp::kRandRead || op == BenchOp::kRandWrite;
}

// How requests are turned into Transfers.
//  make:   one Agent::MakeTransfer per request from prepared lists (what a client that moves
//          different data every time does); the benchmark itself allocates nothing per I/O.
//  repost: every request's Transfer is made before the clock starts and only posted (and
//          reposted on later passes) while timed: the library's post/complete cost alone.
enum class XferMode : uint8_t { kMake, kRepost };
// Where requests go.
//  spread:    request r covers blocks r*batch .. r*batch+batch-1 of the files (wrapping),
//             so a case moves --total-bytes through the whole file set.
//  nixlbench: nixlbench's layout: a fixed working set of threads x queue-depth x batch
//             blocks (the files are just that large), slot s of thread t always moving
//             the same blocks, its one Transfer made before timing and reposted until
//             --total-bytes moved. Implies --xfer-mode repost.
enum class Layout : uint8_t { kSpread, kNixlbench };
// How a thread learns of completions: block in Transfer::Wait, or spin on Transfer::Check.
enum class WaitMode : uint8_t { kBlock, kPoll };

struct Options {
  std::vector<BenchOp> ops;
  std::vector<uint64_t> block_sizes;
  std::vector<uint32_t> batches;
  std::vector<uint32_t> queue_depths;
  std::vector<uint32_t> threads;
  bool direct = false;
  uint32_t files = 1;
  uint64_t total_bytes = 0;  // payload bytes per case
  uint64_t file_size = 0;    // bytes per file; 0 = total_bytes / files
  std::string engine = "auto";
  std::string dir;
  std::string backend = "POSIX";
  // --backend OBJ: objects "<key_prefix><block size>.<i>" of the bucket in --param bucket=,
  // one object per descriptor; --files is the least number of distinct objects.
  std::string key_prefix = "ferry-bench/";
  bool objects() const { return backend == "OBJ"; }
  ferry::Params params;
  bool keep_files = false;
  std::string json_path;
  bool list_backends = false;
  XferMode xfer_mode = XferMode::kMake;
  Layout layout = Layout::kSpread;
  WaitMode wait_mode = WaitMode::kBlock;
  uint64_t max_xfers = 0;  // repost mode: most Transfers made up front per case
  uint64_t seed = 0;
  double timeout_s = 0;  // per request; a request that takes longer fails the case
  bool quiet = false;    // no table (JSON only)
};

struct Case {
  BenchOp op;
  uint64_t block_size;
  uint32_t batch;
  uint32_t queue_depth;
  uint32_t threads;
};

// Parses argv into `out`. Returns -1 to go on, or the exit code when the program must stop
// (help printed: 0; bad input, message already on stderr: 2).
int ParseOptions(int argc, char** argv, Options* out);

std::vector<Case> ExpandCases(const Options& options);

// 4096 -> "4K", 33554432 -> "32M", 1000 -> "1000".
std::string FormatSize(uint64_t bytes);

}  // namespace ferry_bench
