// The configuration keys Ferry reads, shared by the YAML, environment and JSON loaders so
// that every source parses a key the same way and reports it the same way.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "ferry/kv/config.h"

namespace ferry::kv {

struct ConfigValue {
  bool is_null = false;
  bool is_map = false;
  std::string text;                        // scalar
  std::map<std::string, std::string> map;  // mapping of scalars
};

enum class KeyScope { kTop, kExtra };

// Sets `key` from `value`. `where` prefixes messages (file:line:col or the variable name).
// Unknown keys add a warning to config->warnings; type errors are kInvalidArgument.
Status SetConfigKey(std::string_view key, const ConfigValue& value, KeyScope scope,
                    std::string_view where, Config* config);

}  // namespace ferry::kv
