// YAML loading of the LMCache-style configuration (yaml-cpp).
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <sstream>

#include "config_keys.h"
#include "ferry/kv/config.h"

namespace ferry::kv {
namespace {

std::string Where(std::string_view source, const YAML::Mark& mark) {
  std::string out(source);
  if (!mark.is_null()) {
    out += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  return out;
}

// Flattens a YAML value into what SetConfigKey takes: a scalar's text, or for a mapping
// (nixl_backend_params) its scalar entries.
Status ToValue(const YAML::Node& node, std::string_view where, std::string_view key,
               ConfigValue* out) {
  if (node.IsNull()) {
    out->is_null = true;
    return Status::Ok();
  }
  if (node.IsScalar()) {
    out->text = node.Scalar();
    return Status::Ok();
  }
  if (node.IsMap()) {
    out->is_map = true;
    for (const auto& kv : node) {
      if (!kv.second.IsScalar() && !kv.second.IsNull()) {
        return InvalidArgument(Where(where, kv.second.Mark()) + ": " + std::string(key) + "." +
                               kv.first.Scalar() + ": expected a scalar value");
      }
      out->map[kv.first.Scalar()] = kv.second.IsNull() ? "" : kv.second.Scalar();
    }
    return Status::Ok();
  }
  return InvalidArgument(std::string(where) + ": " + std::string(key) +
                         ": expected a scalar, got a list");
}

Status ApplyMap(const YAML::Node& map, std::string_view source, bool extra, Config* out) {
  // yaml-cpp keeps both copies of a repeated key and LMCache would take one of them: which
  // one a user meant is unknowable, so a repeat is an error naming both lines.
  std::map<std::string, std::string> seen;
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    const std::string where = Where(source, kv.first.Mark());
    if (auto [it, fresh] = seen.emplace(key, where); !fresh) {
      return InvalidArgument(where + ": key '" + key + "' appears twice (first at " + it->second +
                             "); keep one");
    }
    if (!extra && key == "extra_config") {
      if (kv.second.IsNull()) continue;
      if (!kv.second.IsMap()) return InvalidArgument(where + ": extra_config must be a mapping");
      Status s = ApplyMap(kv.second, source, /*extra=*/true, out);
      if (!s.ok()) return s;
      continue;
    }
    ConfigValue value;
    Status s = ToValue(kv.second, where, key, &value);
    if (!s.ok()) return s;
    s = SetConfigKey(key, value, extra ? KeyScope::kExtra : KeyScope::kTop, where, out);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Status ParseConfigYaml(std::string_view text, std::string_view source, Config* out) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(Where(source, e.mark) + ": YAML syntax error: " + e.msg);
  }
  if (docs.empty() || docs[0].IsNull()) {
    return InvalidArgument(std::string(source) + ": the configuration is empty");
  }
  if (!docs[0].IsMap()) {
    return InvalidArgument(Where(source, docs[0].Mark()) +
                           ": the configuration must be a mapping of keys");
  }
  Config cfg = *out;
  cfg.source = std::string(source);
  Status s = ApplyMap(docs[0], source, /*extra=*/false, &cfg);
  if (!s.ok()) return s;

  if (docs.size() > 1) {
    // LMCache's own documentation page prints extra_config's keys at column 0, below an
    // indented "extra_config:". YAML reads that as a second document. Users copy that page,
    // so accept exactly this shape (extra_config left empty, a mapping follows) and say so;
    // anything else that splits into documents is an error.
    const YAML::Node extra = docs[0]["extra_config"];
    const bool repairable = docs.size() == 2 && extra && extra.IsNull() && docs[1].IsMap();
    if (!repairable) {
      return InvalidArgument(Where(source, docs[1].Mark()) +
                             ": unexpected content after the configuration mapping (check the "
                             "indentation of this line)");
    }
    s = ApplyMap(docs[1], source, /*extra=*/true, &cfg);
    if (!s.ok()) return s;
    cfg.warnings.push_back(Where(source, docs[1].Mark()) +
                           ": the keys from here on are not indented under 'extra_config:' (as "
                           "on LMCache's documentation page); reading them as extra_config. "
                           "Indent them by two spaces to silence this warning.");
  }
  *out = std::move(cfg);
  return Status::Ok();
}

Status LoadConfigFile(const std::string& path, Config* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus(errno, "config file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfigYaml(ss.str(), path, out);
}

}  // namespace ferry::kv
