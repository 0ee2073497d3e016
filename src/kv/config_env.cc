// Environment overrides (LMCACHE_<KEY>, LMCACHE_EXTRA_CONFIG as JSON) and the
// LMCACHE_CONFIG_FILE entry point.
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "config_keys.h"
#include "ferry/kv/config.h"
#include "ferry/params.h"

namespace ferry::kv {
namespace {

constexpr std::string_view kTopKeys[] = {"chunk_size", "nixl_buffer_size", "nixl_buffer_device",
                                         "save_unfull_chunk"};

std::string EnvName(std::string_view key) {
  std::string name = "LMCACHE_";
  for (char c : key) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

// JSON scalars become the text a YAML user would have written.
std::string JsonScalarText(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_boolean()) return j.get<bool>() ? "true" : "false";
  return j.dump();
}

Status ApplyExtraJson(const std::string& text, Config* config) {
  const std::string where = "LMCACHE_EXTRA_CONFIG";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return InvalidArgument(where + ": not valid JSON (byte " + std::to_string(e.byte) +
                           "): " + e.what());
  }
  if (!j.is_object()) return InvalidArgument(where + ": must be a JSON object");
  // Key by key over the file's extra_config, so the variable can change one setting.
  for (const auto& [key, value] : j.items()) {
    ConfigValue v;
    if (value.is_null()) {
      v.is_null = true;
    } else if (value.is_object()) {
      v.is_map = true;
      for (const auto& [pk, pv] : value.items()) {
        if (pv.is_structured()) {
          return InvalidArgument(where + ": " + key + "." + pk + ": expected a scalar value");
        }
        v.map[pk] = JsonScalarText(pv);
      }
    } else if (value.is_array()) {
      return InvalidArgument(where + ": " + key + ": expected a scalar or an object");
    } else {
      v.text = JsonScalarText(value);
    }
    Status s = SetConfigKey(key, v, KeyScope::kExtra, where, config);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

bool Config::IsFileBackend() const {
  return nixl_backend == "POSIX" || nixl_backend == "GDS" || nixl_backend == "GDS_MT" ||
         nixl_backend == "HF3FS";
}

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Status ApplyEnvOverrides(const EnvLookup& env, Config* config) {
  for (std::string_view key : kTopKeys) {
    const std::string name = EnvName(key);
    std::optional<std::string> v = env(name);
    if (!v) continue;
    ConfigValue value;
    value.text = *v;
    Status s = SetConfigKey(key, value, KeyScope::kTop, name, config);
    if (!s.ok()) return s;
  }
  if (std::optional<std::string> extra = env("LMCACHE_EXTRA_CONFIG")) {
    Status s = ApplyExtraJson(*extra, config);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status LoadConfigFromEnv(const EnvLookup& env, Config* out) {
  std::optional<std::string> experimental = env("LMCACHE_USE_EXPERIMENTAL");
  bool on = false;
  if (!experimental || !ParseBool(*experimental, &on) || !on) {
    return InvalidArgument(
        "LMCACHE_USE_EXPERIMENTAL must be set (e.g. LMCACHE_USE_EXPERIMENTAL=True) to use the "
        "NIXL storage configuration" +
        std::string(experimental ? ", got '" + *experimental + "'" : ""));
  }
  std::optional<std::string> path = env("LMCACHE_CONFIG_FILE");
  if (!path || path->empty()) return NotFound("LMCACHE_CONFIG_FILE is not set");
  Config cfg;
  Status s = LoadConfigFile(*path, &cfg);
  if (!s.ok()) return s;
  s = ApplyEnvOverrides(env, &cfg);
  if (!s.ok()) return s;
  s = ValidateConfig(cfg);
  if (!s.ok()) return s;
  *out = std::move(cfg);
  return Status::Ok();
}

Config BuiltinConfig(const std::string& dir) {
  Config c;
  c.source = "built-in";
  c.chunk_size = 256;
  c.enable_nixl_storage = true;
  c.nixl_backend = "POSIX";
  c.nixl_path = dir;
  c.nixl_pool_size = 48;
  // Eight llama-3.1-8b pages (32 MiB chunk + 4 KiB header each).
  c.nixl_buffer_size = 8 * ((32ull << 20) + 4096);
  return c;
}

}  // namespace ferry::kv
