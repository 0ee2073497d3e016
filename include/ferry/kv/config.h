// KV-cache engine configuration, read the way LMCache reads it.
//
// Sources, in order: a YAML file (LoadConfigFromEnv reads the path from LMCACHE_CONFIG_FILE),
// then LMCACHE_<KEY> environment variables for top-level keys (LMCACHE_CHUNK_SIZE, ...), and
// LMCACHE_EXTRA_CONFIG holding a JSON object whose keys replace those of extra_config.
// LMCache refuses to run unless LMCACHE_USE_EXPERIMENTAL is set; LoadConfigFromEnv does the
// same. Keys LMCache knows but Ferry does not use are kept as warnings, never silently dropped.
//
// Ownership: Config is a value type. Thread safety: the functions below are safe to call
// from many threads; LoadConfigFromEnv reads the process environment (do not setenv
// concurrently). Errors: Status kInvalidArgument naming the key and the allowed values,
// kNotFound for a missing file; YAML syntax errors give "file:line:column".
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/status.h"

namespace ferry::kv {

// The storage backends LMCache names. Validation accepts all of them; the engine needs the
// matching agent plugin to exist.
inline constexpr const char* kKnownBackends[] = {"GDS", "GDS_MT", "POSIX", "HF3FS", "OBJ"};

// Bounds ValidateConfig enforces, so no value is silently narrowed.
inline constexpr int64_t kMaxChunkSize = 1 << 20;       // tokens per chunk
inline constexpr int64_t kMaxPoolSize = 1 << 20;        // static slots (files)
inline constexpr uint64_t kMaxChunkBytes = 1ull << 34;  // 16 GiB of KV per chunk
inline constexpr uint64_t kMaxPages = 1u << 24;         // chunk pages in nixl_buffer_size

struct Config {
  // --- top level (LMCache names) ---
  int64_t chunk_size = 256;                // tokens per chunk, > 0
  uint64_t nixl_buffer_size = 1ull << 30;  // bytes registered once, cut into chunk pages
  std::string nixl_buffer_device = "cpu";  // "cpu" | "cuda" (GDS, GDS_MT, POSIX)
  bool save_unfull_chunk = false;          // store a trailing partial chunk too

  // --- extra_config ---
  bool enable_nixl_storage = false;
  std::string nixl_backend = "POSIX";
  int64_t nixl_pool_size = 64;  // slots opened at start; 0 = one file per key
  std::string nixl_path;        // directory of the files (file backends)
  std::map<std::string, std::string, std::less<>> nixl_backend_params;  // passed to the plugin
  bool use_direct_io = false;                                           // open files O_DIRECT
  // Dynamic mode (pool size 0) capacity in bytes of stored chunks; 0 = unlimited.
  uint64_t nixl_max_storage_size = 0;

  // Where the values came from ("built-in", a path) and what was noticed while loading:
  // unknown keys, tolerated layout problems. Shown to the user, never fatal.
  std::string source;
  std::vector<std::string> warnings;

  // True for the backends that keep chunks in files under nixl_path.
  bool IsFileBackend() const;
};

// Looks up an environment variable; nullopt when unset. Tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup ProcessEnv();

// Parses YAML text. `source` names the text in messages ("lmcache-config.yaml").
Status ParseConfigYaml(std::string_view text, std::string_view source, Config* out);

// Reads and parses a YAML file.
Status LoadConfigFile(const std::string& path, Config* out);

// Applies LMCACHE_<KEY> overrides and LMCACHE_EXTRA_CONFIG (JSON) onto `config`.
Status ApplyEnvOverrides(const EnvLookup& env, Config* config);

// Checks every rule (backend, device, path, sizes). Does not touch the filesystem.
// `chunk_bytes` (> 0 when the model geometry is known) adds "buffer holds at least one chunk".
Status ValidateConfig(const Config& config, uint64_t chunk_bytes = 0);

// LMCache's entry point: requires LMCACHE_USE_EXPERIMENTAL, reads LMCACHE_CONFIG_FILE,
// applies overrides, validates. kNotFound when LMCACHE_CONFIG_FILE is unset.
Status LoadConfigFromEnv(const EnvLookup& env, Config* out);

// nixl_backend OBJ: the prefix of every object key, from nixl_path with leading '/'
// dropped and one '/' appended ("/mnt/nixl/cache" -> "mnt/nixl/cache/"; "" -> "").
std::string ObjectKeyRoot(const std::string& nixl_path);

// The configuration `ferry-kv run` uses without a file: POSIX under `dir`, static pool.
Config BuiltinConfig(const std::string& dir);

}  // namespace ferry::kv
