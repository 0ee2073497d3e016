#include "options.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>

#include "ferry/params.h"

namespace ferry_bench {
namespace {

// Splits "a,b,,c" into {"a","b","c"}; empty items are dropped so a trailing comma is harmless.
std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
    start = comma + 1;
  }
  return items;
}

bool Fail(const std::string& message) {
  std::fprintf(stderr, "ferry-bench: %s\n", message.c_str());
  return false;
}

int FailExit(const std::string& message) {
  Fail(message);
  return 2;
}

bool ParseCount(std::string_view text, uint64_t max, uint64_t* out) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) return false;
  *out = value;
  return true;
}

// A comma list of positive integers (each >= 1 and <= max) for option `name`.
bool ParseCountList(const std::string& name, const std::string& text, uint64_t max,
                    std::vector<uint32_t>* out) {
  out->clear();
  for (const std::string& item : SplitList(text)) {
    uint64_t value = 0;
    if (!ParseCount(item, max, &value) || value == 0) {
      return Fail(name + ": '" + item + "' is not a whole number from 1 to " + std::to_string(max));
    }
    out->push_back(static_cast<uint32_t>(value));
  }
  if (out->empty()) return Fail(name + " needs at least one value");
  return true;
}

bool ParseOps(const std::string& text, std::vector<BenchOp>* out) {
  out->clear();
  for (const std::string& item : SplitList(text)) {
    if (item == "write") {
      out->push_back(BenchOp::kWrite);
    } else if (item == "read") {
      out->push_back(BenchOp::kRead);
    } else if (item == "randwrite") {
      out->push_back(BenchOp::kRandWrite);
    } else if (item == "randread") {
      out->push_back(BenchOp::kRandRead);
    } else {
      return Fail("--op: unknown op '" + item + "' (write, read, randwrite, randread)");
    }
  }
  if (out->empty()) return Fail("--op needs at least one op");
  return true;
}

bool ParseSizeOption(const std::string& name, const std::string& text, uint64_t* out) {
  if (!ferry::ParseSize(text, out)) {
    return Fail(name + ": '" + text + "' is not a size (e.g. 4096, 4K, 32M, 1G)");
  }
  return true;
}

}  // namespace

const char* BenchOpName(BenchOp op) {
  switch (op) {
    case BenchOp::kWrite:
      return "write";
    case BenchOp::kRead:
      return "read";
    case BenchOp::kRandWrite:
      return "randwrite";
    case BenchOp::kRandRead:
      return "randread";
  }
  return "?";
}

std::string FormatSize(uint64_t bytes) {
  static const char* const kUnits[] = {"", "K", "M", "G", "T"};
  int unit = 0;
  while (unit < 4 && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return std::to_string(bytes) + kUnits[unit];
}

int ParseOptions(int argc, char** argv, Options* out) {
  CLI::App app{
      "ferry-bench: storage throughput and latency of a Ferry backend through the agent API.\n"
      "Each case moves --total-bytes between one registered DRAM buffer and --files files in\n"
      "--dir, keeping --queue-depth requests of --batch descriptors in flight per thread.\n"
      "With --backend OBJ each descriptor is a whole object under --key-prefix in the bucket\n"
      "of --param bucket= (reads: ranged GETs of objects written before timing)."};
  std::string op_text = "write";
  std::string bs_text = "1M";
  std::string batch_text = "1";
  std::string qd_text = "8";
  std::string threads_text = "1";
  std::string total_text = "1G";
  std::string file_size_text;
  std::string xfer_mode_text = "make";
  std::string wait_text = "block";
  std::string layout_text = "spread";
  int direct = 0;
  std::vector<std::string> param_items;
  out->max_xfers = 65536;
  out->timeout_s = 60;
  out->seed = 1;

  app.add_option("--op", op_text, "write, read, randwrite, randread (comma list)")
      ->capture_default_str();
  app.add_option("--block-size,-b", bs_text, "bytes per descriptor, K/M/G suffixes (comma list)")
      ->capture_default_str();
  app.add_option("--batch", batch_text, "descriptors per request (comma list)")
      ->capture_default_str();
  app.add_option("--queue-depth,-q", qd_text, "requests in flight per thread (comma list)")
      ->capture_default_str();
  app.add_option("--threads,-t", threads_text, "posting threads (comma list)")
      ->capture_default_str();
  app.add_option("--direct", direct, "1 = open files with O_DIRECT")
      ->check(CLI::Range(0, 1))
      ->capture_default_str();
  app.add_option("--files", out->files, "number of files the I/O is spread over")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--total-bytes", total_text, "payload bytes moved per case")
      ->capture_default_str();
  app.add_option("--file-size", file_size_text,
                 "bytes per file (default total-bytes / files); random ops pick offsets in it");
  app.add_option("--engine", out->engine, "I/O engine: auto (backend default), uring, aio, threads")
      ->capture_default_str();
  app.add_option("--dir,-d", out->dir, "existing directory for the data files");
  app.add_option("--backend", out->backend, "plugin to benchmark")->capture_default_str();
  app.add_option("--key-prefix", out->key_prefix, "OBJ: key prefix of the benchmark's objects")
      ->capture_default_str();
  app.add_option("--param", param_items, "key=value passed to CreateBackend (repeatable)");
  app.add_flag("--keep-files", out->keep_files, "leave the data files in --dir at exit");
  app.add_option("--json", out->json_path, "write one JSON object per case per line (JSON Lines)");
  app.add_flag("--list-backends", out->list_backends,
               "print every plugin's memory kinds and parameter schema, then exit");
  app.add_option("--xfer-mode", xfer_mode_text,
                 "make: MakeTransfer per request; repost: Transfers made before timing, reposted")
      ->check(CLI::IsMember({"make", "repost"}))
      ->capture_default_str();
  app.add_option("--layout", layout_text,
                 "spread: requests walk the whole files; nixlbench: a fixed working set of "
                 "threads x queue-depth x batch blocks, one Transfer per slot reposted (as "
                 "nixlbench does; implies --xfer-mode repost)")
      ->check(CLI::IsMember({"spread", "nixlbench"}))
      ->capture_default_str();
  app.add_option("--wait", wait_text,
                 "block: sleep until any request completes (CompletionQueue); poll: spin on "
                 "Transfer::Check")
      ->check(CLI::IsMember({"block", "poll"}))
      ->capture_default_str();
  app.add_option("--max-xfers", out->max_xfers, "repost mode: most Transfers made per case")
      ->capture_default_str();
  app.add_option("--seed", out->seed, "random seed for random ops and buffer contents")
      ->capture_default_str();
  app.add_option("--timeout", out->timeout_s, "seconds one request may take before it fails")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--quiet", out->quiet, "no table on stdout");

  // A later value of a repeated option wins, so wrapper scripts can append overrides.
  for (CLI::Option* opt : app.get_options()) {
    if (opt->get_expected_max() <= 1) opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (out->list_backends) return -1;

  out->direct = direct != 0;
  out->xfer_mode = xfer_mode_text == "repost" ? XferMode::kRepost : XferMode::kMake;
  out->wait_mode = wait_text == "poll" ? WaitMode::kPoll : WaitMode::kBlock;
  out->layout = layout_text == "nixlbench" ? Layout::kNixlbench : Layout::kSpread;
  if (out->layout == Layout::kNixlbench) out->xfer_mode = XferMode::kRepost;
  if (!ParseOps(op_text, &out->ops)) return 2;
  out->block_sizes.clear();
  for (const std::string& item : SplitList(bs_text)) {
    uint64_t size = 0;
    if (!ParseSizeOption("--block-size", item, &size)) return 2;
    if (size == 0) return FailExit("--block-size must be > 0");
    // Descriptor lengths are uint64 but one I/O buffer slot must be addressable.
    if (size > (1ull << 32)) return FailExit("--block-size must be <= 4G, got " + item);
    if (out->direct && size % 512 != 0) {
      return FailExit("--block-size " + item + " is not a multiple of 512, needed with --direct 1");
    }
    out->block_sizes.push_back(size);
  }
  if (out->block_sizes.empty()) return FailExit("--block-size needs at least one size");
  if (!ParseCountList("--batch", batch_text, 1 << 16, &out->batches)) return 2;
  if (!ParseCountList("--queue-depth", qd_text, 1 << 16, &out->queue_depths)) return 2;
  if (!ParseCountList("--threads", threads_text, 1024, &out->threads)) return 2;
  if (!ParseSizeOption("--total-bytes", total_text, &out->total_bytes)) return 2;
  if (out->total_bytes == 0) return FailExit("--total-bytes must be > 0");
  if (!file_size_text.empty()) {
    if (!ParseSizeOption("--file-size", file_size_text, &out->file_size)) return 2;
    if (out->file_size == 0) return FailExit("--file-size must be > 0");
  }
  if (out->engine != "auto" && out->engine != "uring" && out->engine != "aio" &&
      out->engine != "threads") {
    return FailExit("--engine: unknown engine '" + out->engine + "' (auto, uring, aio, threads)");
  }
  for (const std::string& item : param_items) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return FailExit("--param: expected key=value, got '" + item + "'");
    }
    out->params[item.substr(0, eq)] = item.substr(eq + 1);
  }
  if (out->objects()) {
    if (out->direct) return FailExit("--direct applies to files, not to --backend OBJ");
    return -1;
  }
  if (out->dir.empty()) return FailExit("--dir is required (an existing directory for data files)");
  struct stat st {};
  if (::stat(out->dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return FailExit("--dir '" + out->dir + "' is not an existing directory");
  }
  return -1;
}

std::vector<Case> ExpandCases(const Options& options) {
  std::vector<Case> cases;
  for (uint64_t bs : options.block_sizes)
    for (BenchOp op : options.ops)
      for (uint32_t batch : options.batches)
        for (uint32_t qd : options.queue_depths)
          for (uint32_t threads : options.threads) cases.push_back({op, bs, batch, qd, threads});
  return cases;
}

}  // namespace ferry_bench
