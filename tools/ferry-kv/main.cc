// ferry-kv: the KV-cache offload engine from the command line.
//   ferry-kv run [--config FILE] [--json FILE] [--model llama-3.1-8b|small] [--device cpu|cuda]
//   ferry-kv ls | verify | clear [--config FILE]
// Without --config: $LMCACHE_CONFIG_FILE (LMCache rules: LMCACHE_USE_EXPERIMENTAL must be
// set), else a built-in POSIX configuration under ./ferry-cache.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "ferry/kv/config.h"
#include "ferry/kv/engine.h"
#include "gpu_window.h"
#include "lookup_bench.h"
#include "workload.h"

namespace {

using ferry::Status;
using ferry::kv::Config;

int Fail(const std::string& what) {
  std::fprintf(stderr, "ferry-kv: %s\n", what.c_str());
  return 1;
}

Status LoadConfig(const std::string& path, Config* out, bool* builtin) {
  const ferry::kv::EnvLookup env = ferry::kv::ProcessEnv();
  *builtin = false;
  Status s;
  if (path.empty() && env("LMCACHE_CONFIG_FILE")) {
    s = ferry::kv::LoadConfigFromEnv(env, out);  // the library's own path, as a server's
  } else {
    // --config FILE, or the built-in config; either way LMCACHE_* overrides apply.
    if (path.empty()) {
      *out = ferry::kv::BuiltinConfig("./ferry-cache");
      *builtin = true;
    } else {
      s = ferry::kv::LoadConfigFile(path, out);
    }
    if (s.ok()) s = ferry::kv::ApplyEnvOverrides(env, out);
    if (s.ok()) s = ferry::kv::ValidateConfig(*out);
  }
  if (s.ok()) {
    for (const std::string& w : out->warnings)
      std::fprintf(stderr, "ferry-kv: warning: %s\n", w.c_str());
  }
  return s;
}

double PeakRssMiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

struct RunArgs {
  std::string config, json, model = "llama-3.1-8b";
  std::string device;  // empty: the config's nixl_buffer_device
  ferry_kv::WorkloadOptions w;
  uint32_t queue_depth = 8;
  bool fresh = false, keep = false, no_lookup_bench = false;
};

// Where the cache lives, for messages: nixl_path, or the bucket and key root for OBJ.
std::string Where(const Config& cfg) {
  if (cfg.IsFileBackend()) return cfg.nixl_path;
  auto it = cfg.nixl_backend_params.find("bucket");
  const std::string bucket = it == cfg.nixl_backend_params.end() ? "" : it->second;
  return "s3://" + bucket + "/" + ferry::kv::ObjectKeyRoot(cfg.nixl_path);
}

int Run(RunArgs& a) {
  Config cfg;
  bool builtin = false;
  Status s = LoadConfig(a.config, &cfg, &builtin);
  if (!s.ok()) return Fail(s.ToString());
  ferry_kv::ModelPreset preset;
  if (!ferry_kv::FindPreset(a.model, &preset)) {
    return Fail("--model: unknown preset '" + a.model + "' (llama-3.1-8b, small)");
  }
  // The built-in cache is ours to reset; a user's cache is kept unless --fresh.
  if ((builtin && !a.keep) || a.fresh) {
    uint64_t removed = 0;
    s = ferry::kv::ClearStore(cfg, &removed);
    if (!s.ok() && s.code() != ferry::Code::kNotFound) return Fail(s.ToString());
  }
  // --device puts the KV window and the engine's buffer on the same side: KV in GPU
  // memory needs the buffer there (nixl_buffer_device cuda).
  const std::string device = a.device.empty() ? cfg.nixl_buffer_device : a.device;
  if (device != cfg.nixl_buffer_device) {
    cfg.nixl_buffer_device = device;
    s = ferry::kv::ValidateConfig(cfg);
    if (!s.ok()) return Fail("--device " + device + ": " + s.ToString());
  }
  std::shared_ptr<ferry_kv::GpuWindow> gpu_window;
  if (device == "cuda") {
    std::string why;
    const uint64_t window_bytes = uint64_t{std::max<uint32_t>(1, a.w.window_chunks)} *
                                  static_cast<uint64_t>(cfg.chunk_size) *
                                  preset.geometry.BytesPerToken();
    gpu_window = ferry_kv::OpenGpuWindow(window_bytes, 0, &why);
    if (!gpu_window) return Fail(why);
    a.w.gpu = gpu_window.get();
  }
  ferry::kv::EngineOptions eo;
  eo.model.model_name = preset.name;
  eo.geometry = preset.geometry;
  eo.queue_depth = a.queue_depth;
  std::unique_ptr<ferry::kv::Engine> engine;
  s = ferry::kv::Engine::Create(cfg, eo, &engine);
  if (!s.ok()) return Fail(s.ToString());
  a.w.geometry = preset.geometry;
  a.w.chunk_size = static_cast<uint32_t>(cfg.chunk_size);
  a.w.window_chunks = std::max<uint32_t>(1, a.w.window_chunks);
  a.w.progress = isatty(STDERR_FILENO) != 0;
  const ferry_kv::RunResult r = ferry_kv::RunWorkload(*engine, a.w);
  const ferry::kv::EngineStats st = engine->Stats();
  ferry_kv::LookupBench lb;
  if (!a.no_lookup_bench) {
    engine.reset();  // its pool lock and memory are not needed for the lookup bench
    lb = ferry_kv::RunLookupBench(cfg, 32768);
  }

  const double gb = 1e9;
  nlohmann::json j;
  j["config"] = cfg.source;
  j["backend"] = cfg.nixl_backend;
  j["nixl_path"] = cfg.nixl_path;
  j["model"] = preset.name;
  j["chunk_size"] = cfg.chunk_size;
  j["chunk_bytes"] = preset.geometry.BytesPerToken() * static_cast<uint64_t>(cfg.chunk_size);
  j["nixl_pool_size"] = cfg.nixl_pool_size;
  j["queue_depth"] = a.queue_depth;
  j["direct_io"] = cfg.use_direct_io;
  j["device"] = device;
  j["gpu_codec_s"] = double(st.device_codec_ns) / 1e9;
  j["gpu_copy_failures"] = r.gpu_copy_failures;
  j["requests"] = r.requests;
  j["batch"] = a.w.batch;
  j["prompt_tokens"] = r.prompt_tokens;
  j["hit_tokens"] = r.hit_tokens;
  j["token_hit_rate"] = r.prompt_tokens ? double(r.hit_tokens) / double(r.prompt_tokens) : 0.0;
  j["chunks"] = r.chunks;
  j["chunk_hits"] = r.chunk_hits;
  j["chunk_hit_rate"] = r.chunks ? double(r.chunk_hits) / double(r.chunks) : 0.0;
  j["gb_stored"] = double(r.bytes_stored) / gb;
  j["gb_loaded"] = double(r.bytes_loaded) / gb;
  j["store_gbps"] = r.store_seconds > 0 ? double(r.bytes_stored) / gb / r.store_seconds : 0.0;
  j["load_gbps"] = r.load_seconds > 0 ? double(r.bytes_loaded) / gb / r.load_seconds : 0.0;
  j["lookup_p50_us"] = ferry_kv::Percentile(r.lookup_us, 50);
  j["lookup_p99_us"] = ferry_kv::Percentile(r.lookup_us, 99);
  // The 32k-token figures: JSON key prefix, result, and the line's note. Absent from the
  // JSON (not 0) when not measured.
  const bool lookup_bench_ok = !a.no_lookup_bench && lb.error.empty();
  const struct {
    const char* key;
    const ferry_kv::Latency& latency;
    const char* note;
  } lookup_32k[] = {
      {"lookup_32k", lb.repeated, "128 chunks, all stored; repeated"},
      {"lookup_32k_hashed", lb.hashed, "keys hashed: first lookup"},
      {"lookup_32k_keys_only", lb.keys_only, "baseline: the same keys computed alone"},
  };
  if (lookup_bench_ok) {
    for (const auto& row : lookup_32k) {
      j[std::string(row.key) + "_p50_us"] = row.latency.p50_us;
      j[std::string(row.key) + "_p99_us"] = row.latency.p99_us;
    }
  }
  j["prefill_tokens_saved"] = r.hit_tokens;
  j["verified_bytes"] = r.verified_bytes;
  j["mismatched_chunks"] = r.mismatched_chunks;
  j["evictions"] = st.evictions;
  j["corrupt_chunks"] = st.corrupt_chunks;
  j["store_failures"] = r.store_failures;
  j["wall_s"] = r.wall_seconds;
  // The workload's window stands in for GPU memory, which would not be host RSS in a real
  // server: the engine's share is the process peak minus it (an upper bound: everything
  // else in the process, the tool included, is counted as the engine's).
  const double peak_rss = PeakRssMiB();
  const double source_mib =
      double(a.w.window_chunks) * double(j["chunk_bytes"].get<uint64_t>()) / (1 << 20);
  j["peak_rss_mib"] = peak_rss;
  j["kv_source_mib"] = source_mib;
  j["engine_rss_mib"] = peak_rss - source_mib;
  j["nixl_buffer_mib"] = double(cfg.nixl_buffer_size) / (1 << 20);
  j["rss_bound_mib"] = j["nixl_buffer_mib"].get<double>() + 64;
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  if (!lb.error.empty()) j["lookup_bench_error"] = lb.error;

  std::printf("ferry-kv run: %s on %s (%s, chunk %lld tokens = %.1f MiB, queue depth %u)\n",
              preset.name.c_str(), cfg.nixl_backend.c_str(), Where(cfg).c_str(),
              static_cast<long long>(cfg.chunk_size),
              double(j["chunk_bytes"].get<uint64_t>()) / (1 << 20), a.queue_depth);
  std::printf("  requests             %llu (up to %u per step)\n", (unsigned long long)r.requests,
              a.w.batch);
  std::printf("  token hit rate       %.1f %%  (%llu of %llu prompt tokens)\n",
              100 * j["token_hit_rate"].get<double>(), (unsigned long long)r.hit_tokens,
              (unsigned long long)r.prompt_tokens);
  std::printf("  chunk hit rate       %.1f %%  (%llu of %llu chunks)\n",
              100 * j["chunk_hit_rate"].get<double>(), (unsigned long long)r.chunk_hits,
              (unsigned long long)r.chunks);
  std::printf("  stored               %.2f GB at %.2f GB/s\n", j["gb_stored"].get<double>(),
              j["store_gbps"].get<double>());
  std::printf("  loaded               %.2f GB at %.2f GB/s (every byte verified)\n",
              j["gb_loaded"].get<double>(), j["load_gbps"].get<double>());
  if (device == "cuda") {
    const double io_s = r.store_seconds + r.load_seconds;
    std::printf(
        "  gpu                  KV and nixl buffer on GPU 0; gather, scatter and checksum %.1f ms "
        "= %.1f %% of store and load time\n",
        1e3 * j["gpu_codec_s"].get<double>(),
        io_s > 0 ? 100 * j["gpu_codec_s"].get<double>() / io_s : 0.0);
  }
  std::printf("  lookup               p50 %.1f us, p99 %.1f us\n", j["lookup_p50_us"].get<double>(),
              j["lookup_p99_us"].get<double>());
  if (lookup_bench_ok) {
    const char* label = "  lookup 32k tokens    ";
    for (const auto& row : lookup_32k) {
      std::printf("%sp50 %.1f us, p99 %.1f us (%s)\n", label, row.latency.p50_us,
                  row.latency.p99_us, row.note);
      label = "                       ";
    }
  } else if (!a.no_lookup_bench) {
    std::printf("  lookup 32k tokens    not measured: %s\n", lb.error.c_str());
  }
  std::printf("  prefill tokens saved %llu\n", (unsigned long long)r.hit_tokens);
  std::printf("  evictions %llu, corrupt %llu, store failures %llu, mismatched chunks %llu\n",
              (unsigned long long)st.evictions, (unsigned long long)st.corrupt_chunks,
              (unsigned long long)r.store_failures, (unsigned long long)r.mismatched_chunks);
  std::printf("  wall %.1f s\n", r.wall_seconds);
  std::printf(
      "  memory               peak RSS %.0f MiB = stand-in KV source %.0f MiB (--window-chunks)"
      " + engine and tool %.0f MiB (bound: nixl buffer %.0f + 64 MiB)\n",
      peak_rss, source_mib, peak_rss - source_mib, j["nixl_buffer_mib"].get<double>());
  if (!r.first_error.empty()) std::printf("  first error: %s\n", r.first_error.c_str());
  if (!a.json.empty()) {
    std::ofstream out(a.json);
    out << j.dump(2) << "\n";
    if (!out) return Fail("cannot write --json file '" + a.json + "'");
  }
  if (r.gpu_copy_failures > 0)
    std::printf("  gpu window copies failed: %llu\n", (unsigned long long)r.gpu_copy_failures);
  return r.mismatched_chunks == 0 && r.gpu_copy_failures == 0 && lb.error.empty() ? 0 : 3;
}

int Scan(const std::string& config, bool verify) {
  Config cfg;
  bool builtin = false;
  Status s = LoadConfig(config, &cfg, &builtin);
  if (!s.ok()) return Fail(s.ToString());
  ferry::kv::ScanReport rep;
  s = ferry::kv::ScanStore(cfg, verify, &rep);
  if (!s.ok()) return Fail(s.ToString());
  std::map<std::string, std::pair<uint64_t, uint64_t>> models;  // chunks, bytes
  uint64_t bad = 0, bytes = 0;
  for (const auto& c : rep.chunks) {
    const bool ok = c.header_ok && (!verify || c.payload_ok);
    if (!ok) {
      ++bad;
      std::printf("CORRUPT %s: %s\n", c.file.c_str(), c.problem.c_str());
      continue;
    }
    models[c.model_name].first++;
    models[c.model_name].second += c.payload_bytes;
    bytes += c.payload_bytes;
  }
  std::printf("%s: %zu chunks, %.3f GB, %llu empty slots%s\n", Where(cfg).c_str(),
              rep.chunks.size() - bad, double(bytes) / 1e9, (unsigned long long)rep.empty_slots,
              verify ? (bad ? "" : ", all checksums good") : "");
  for (const auto& [m, cb] : models) {
    std::printf("  model %-20s %6llu chunks %10.3f GB\n", m.c_str(), (unsigned long long)cb.first,
                double(cb.second) / 1e9);
  }
  if (bad > 0) std::printf("%llu corrupt chunk file(s)\n", (unsigned long long)bad);
  return bad > 0 ? 2 : 0;
}

int Clear(const std::string& config) {
  Config cfg;
  bool builtin = false;
  Status s = LoadConfig(config, &cfg, &builtin);
  if (!s.ok()) return Fail(s.ToString());
  uint64_t removed = 0;
  s = ferry::kv::ClearStore(cfg, &removed);
  if (!s.ok()) return Fail(s.ToString());
  std::printf("removed %llu %s(s) from %s\n", (unsigned long long)removed,
              cfg.IsFileBackend() ? "file" : "object", Where(cfg).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ferry-kv: KV-cache offload engine (LMCache NIXL-storage configuration)"};
  app.require_subcommand(1);
  RunArgs ra;
  auto* run = app.add_subcommand("run", "replay a multi-turn chat workload and report");
  run->add_option("--config", ra.config,
                  "LMCache YAML (default: $LMCACHE_CONFIG_FILE, else built-in)");
  run->add_option("--json", ra.json, "also write the results as JSON to FILE");
  run->add_option("--model", ra.model, "geometry preset: llama-3.1-8b | small");
  // Bounds keep a run's memory and time finite: the caller window alone is window-chunks
  // chunks of KV (a few MiB each for real models).
  run->add_option("--users", ra.w.users, "conversations")->check(CLI::Range(1u, 100000u));
  run->add_option("--turns", ra.w.turns, "turns per conversation")->check(CLI::Range(1u, 1000u));
  run->add_option("--system-prompts", ra.w.system_prompts, "shared system prompts")
      ->check(CLI::Range(1u, 1024u));
  run->add_option("--system-tokens", ra.w.system_tokens, "tokens per system prompt")
      ->check(CLI::Range(0u, 1u << 20));
  run->add_option("--returning", ra.w.returning, "users who return for a last turn")
      ->check(CLI::Range(0u, 100000u));
  run->add_option("--window-chunks", ra.w.window_chunks, "caller KV memory in chunks")
      ->check(CLI::Range(1u, 4096u));
  run->add_option("--batch", ra.w.batch,
                  "requests per scheduler step, stored and loaded in batched calls")
      ->check(CLI::Range(1u, 1024u));
  run->add_option("--queue-depth", ra.queue_depth, "chunk transfers in flight")
      ->check(CLI::Range(1u, 4096u));
  run->add_option("--seed", ra.w.seed, "workload random seed");
  run->add_option("--device", ra.device,
                  "where the KV window and the engine's buffer live: cpu, or cuda (GPU 0; "
                  "default: the config's nixl_buffer_device)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  run->add_flag("--fresh", ra.fresh, "clear the cache first (always for the built-in config)");
  run->add_flag("--keep", ra.keep, "keep the built-in cache from the last run");
  run->add_flag("--no-lookup-bench", ra.no_lookup_bench, "skip the 32k-token lookup benchmark");
  std::string config;
  auto* ls = app.add_subcommand("ls", "list stored chunks by model");
  ls->add_option("--config", config, "LMCache YAML");
  auto* verify = app.add_subcommand("verify", "check every header and checksum");
  verify->add_option("--config", config, "LMCache YAML");
  auto* clear = app.add_subcommand("clear", "remove every Ferry chunk file in nixl_path");
  clear->add_option("--config", config, "LMCache YAML");
  CLI11_PARSE(app, argc, argv);
  if (run->parsed()) return Run(ra);
  if (ls->parsed()) return Scan(config, false);
  if (verify->parsed()) return Scan(config, true);
  if (clear->parsed()) return Clear(config);
  return 1;
}
