// Parsing of each configuration key, whatever source it comes from.
#include "config_keys.h"

#include <algorithm>
#include <array>

#include "ferry/params.h"

namespace ferry::kv {
namespace {

// LMCache keys that configure parts of LMCache Ferry does not replace. They are legal in a
// shared config file, so they get a gentler warning than a typo.
constexpr std::array<std::string_view, 14> kForeignLmcacheKeys = {
    "local_cpu",  "max_local_cpu_size", "local_disk",    "max_local_disk_size",
    "remote_url", "remote_serde",       "use_layerwise", "enable_blending",
    "pd_role",    "enable_pd",          "cache_policy",  "save_decode_cache",
    "enable_p2p", "nixl_role"};

constexpr std::array<std::string_view, 8> kExtraKeys = {
    "enable_nixl_storage", "nixl_backend",  "nixl_pool_size",        "nixl_path",
    "nixl_backend_params", "use_direct_io", "nixl_max_storage_size", "nixl_buffer_device"};

std::string Name(std::string_view key, KeyScope scope) {
  return scope == KeyScope::kExtra ? "extra_config." + std::string(key) : std::string(key);
}

Status TypeError(std::string_view where, const std::string& name, std::string_view expected,
                 const ConfigValue& v) {
  std::string got = v.is_map ? "a mapping" : v.is_null ? "nothing" : "'" + v.text + "'";
  return InvalidArgument(std::string(where) + ": " + name + ": expected " + std::string(expected) +
                         ", got " + got);
}

Status GetInt(std::string_view where, const std::string& name, const ConfigValue& v, int64_t* out) {
  if (v.is_map || v.is_null || !ParseInt(v.text, out)) {
    return TypeError(where, name, "an integer", v);
  }
  return Status::Ok();
}

Status GetSize(std::string_view where, const std::string& name, const ConfigValue& v,
               uint64_t* out) {
  if (v.is_map || v.is_null || !ParseSize(v.text, out)) {
    return TypeError(where, name, "a size in bytes (e.g. 1073741824 or 1G)", v);
  }
  return Status::Ok();
}

Status GetBool(std::string_view where, const std::string& name, const ConfigValue& v, bool* out) {
  if (v.is_map || v.is_null || !ParseBool(v.text, out)) {
    return TypeError(where, name, "true or false", v);
  }
  return Status::Ok();
}

Status GetString(std::string_view where, const std::string& name, const ConfigValue& v,
                 std::string* out) {
  if (v.is_map) return TypeError(where, name, "a string", v);
  *out = v.is_null ? "" : v.text;
  return Status::Ok();
}

}  // namespace

Status SetConfigKey(std::string_view key, const ConfigValue& v, KeyScope scope,
                    std::string_view where, Config* c) {
  const std::string name = Name(key, scope);
  const bool is_extra_key =
      std::find(kExtraKeys.begin(), kExtraKeys.end(), key) != kExtraKeys.end();
  if (scope == KeyScope::kTop) {
    if (key == "chunk_size") return GetInt(where, name, v, &c->chunk_size);
    if (key == "nixl_buffer_size") return GetSize(where, name, v, &c->nixl_buffer_size);
    if (key == "nixl_buffer_device") return GetString(where, name, v, &c->nixl_buffer_device);
    if (key == "save_unfull_chunk") return GetBool(where, name, v, &c->save_unfull_chunk);
    if (is_extra_key) {
      // Older LMCache layouts put the NIXL keys at the top level; accept with a note.
      c->warnings.push_back(std::string(where) + ": '" + std::string(key) +
                            "' belongs under extra_config; using it from the top level");
      return SetConfigKey(key, v, KeyScope::kExtra, where, c);
    }
  } else {
    if (key == "enable_nixl_storage") return GetBool(where, name, v, &c->enable_nixl_storage);
    if (key == "nixl_backend") return GetString(where, name, v, &c->nixl_backend);
    if (key == "nixl_pool_size") return GetInt(where, name, v, &c->nixl_pool_size);
    if (key == "nixl_path") return GetString(where, name, v, &c->nixl_path);
    if (key == "use_direct_io") return GetBool(where, name, v, &c->use_direct_io);
    if (key == "nixl_max_storage_size") {
      return GetSize(where, name, v, &c->nixl_max_storage_size);
    }
    if (key == "nixl_buffer_device") {
      return GetString(where, name, v, &c->nixl_buffer_device);
    }
    if (key == "nixl_backend_params") {
      if (v.is_null) {
        c->nixl_backend_params.clear();
        return Status::Ok();
      }
      if (!v.is_map) return TypeError(where, name, "a mapping of parameter: value", v);
      c->nixl_backend_params.clear();
      for (const auto& [k, val] : v.map) c->nixl_backend_params[k] = val;
      return Status::Ok();
    }
  }
  const bool foreign = std::find(kForeignLmcacheKeys.begin(), kForeignLmcacheKeys.end(), key) !=
                       kForeignLmcacheKeys.end();
  c->warnings.push_back(std::string(where) + ": unknown key '" + name + "' ignored" +
                        (foreign ? " (an LMCache setting Ferry's engine does not use)" : ""));
  return Status::Ok();
}

}  // namespace ferry::kv
