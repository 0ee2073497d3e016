#include "ferry/params.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <string>

namespace ferry {

std::string_view ParamTypeName(ParamType type) {
  switch (type) {
    case ParamType::kBool:
      return "bool";
    case ParamType::kInt:
      return "int";
    case ParamType::kSize:
      return "size";
    case ParamType::kString:
      return "string";
    case ParamType::kEnum:
      return "enum";
    case ParamType::kSecret:
      return "secret";
  }
  return "?";
}

std::string ShownValue(const ParamSpec& spec, std::string_view value) {
  if (spec.type == ParamType::kSecret) return value.empty() ? "(unset)" : "(secret)";
  return std::string(value);
}

namespace {

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Describe(const ParamSpec& spec) {
  std::string m(ParamTypeName(spec.type));
  if (spec.type == ParamType::kEnum) {
    m += " (one of";
    for (size_t i = 0; i < spec.choices.size(); ++i) m += (i ? ", " : " ") + spec.choices[i];
    m += ")";
  } else if (spec.type == ParamType::kSize) {
    m += " (bytes, optional K/M/G/T suffix)";
  } else if (spec.type == ParamType::kBool) {
    m += " (true/false)";
  }
  return m;
}

}  // namespace

bool ParseBool(std::string_view text, bool* out) {
  std::string t = Lower(Trim(text));
  if (t == "1" || t == "true" || t == "yes" || t == "on") {
    *out = true;
    return true;
  }
  if (t == "0" || t == "false" || t == "no" || t == "off") {
    *out = false;
    return true;
  }
  return false;
}

bool ParseInt(std::string_view text, int64_t* out) {
  text = Trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && p == text.data() + text.size();
}

bool ParseSize(std::string_view text, uint64_t* out) {
  text = Trim(text);
  if (text.empty() || text.front() == '-') return false;
  uint64_t value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || p == text.data()) return false;
  std::string suffix = Lower(Trim(std::string_view(p, text.data() + text.size() - p)));
  if (!suffix.empty() && suffix.back() == 'b') suffix.pop_back();  // "4KB", "1MiB" -> k, mi
  if (suffix.size() == 2 && suffix[1] == 'i') suffix.pop_back();
  unsigned shift = 0;
  if (suffix.empty())
    shift = 0;
  else if (suffix == "k")
    shift = 10;
  else if (suffix == "m")
    shift = 20;
  else if (suffix == "g")
    shift = 30;
  else if (suffix == "t")
    shift = 40;
  else
    return false;
  if (shift && value > (std::numeric_limits<uint64_t>::max() >> shift)) return false;
  *out = value << shift;
  return true;
}

Status ParamValues::Build(const std::vector<ParamSpec>& schema, const Params& given,
                          ParamValues* out) {
  ParamValues pv;
  // Where each parameter's value came from, to detect conflicting aliases.
  std::map<std::string, std::string, std::less<>> source;

  auto parse_into = [](const ParamSpec& spec, std::string_view key, std::string_view text,
                       Value* v) -> Status {
    v->type = spec.type;
    v->text = std::string(Trim(text));
    switch (spec.type) {
      case ParamType::kBool: {
        bool b;
        if (!ParseBool(text, &b)) break;
        v->num = b;
        return Status::Ok();
      }
      case ParamType::kInt:
        if (!ParseInt(text, &v->num)) break;
        return Status::Ok();
      case ParamType::kSize: {
        uint64_t s;
        if (!ParseSize(text, &s) || s > uint64_t(std::numeric_limits<int64_t>::max())) break;
        v->num = static_cast<int64_t>(s);
        return Status::Ok();
      }
      case ParamType::kString:
      case ParamType::kSecret:
        return Status::Ok();
      case ParamType::kEnum: {
        std::string t = Lower(v->text);
        auto it = std::find(spec.choices.begin(), spec.choices.end(), t);
        if (it == spec.choices.end()) break;
        v->text = t;
        return Status::Ok();
      }
    }
    return InvalidArgument("parameter '" + std::string(key) + "' must be " + Describe(spec) +
                           ", got '" + std::string(text) + "'");
  };

  for (const auto& spec : schema) {
    Value v;
    Status s = parse_into(spec, spec.name, spec.default_value, &v);
    if (!s.ok()) return Internal("plugin schema default is invalid: " + s.message());
    pv.values_[spec.name] = std::move(v);
  }

  for (const auto& [key, text] : given) {
    const ParamSpec* spec = nullptr;
    const ParamAlias* alias = nullptr;
    for (const auto& sp : schema) {
      if (sp.name == key) spec = &sp;
      for (const auto& al : sp.aliases)
        if (al.name == key) spec = &sp, alias = &al;
      if (spec) break;
    }
    if (!spec) {
      std::string m = "unknown parameter '" + key + "' (known:";
      for (size_t i = 0; i < schema.size(); ++i) m += (i ? ", " : " ") + schema[i].name;
      return InvalidArgument(m + ")");
    }
    Value v;
    if (alias && !alias->value.empty()) {
      // A boolean switch that selects a value ("use_uring: true" -> engine=uring).
      bool on;
      if (!ParseBool(text, &on))
        return InvalidArgument("parameter '" + key + "' must be bool (true/false), got '" + text +
                               "'");
      if (!on) continue;
      Status s = parse_into(*spec, key, alias->value, &v);
      if (!s.ok()) return s;
    } else {
      Status s = parse_into(*spec, key, text, &v);
      if (!s.ok()) return s;
    }
    v.set = true;
    auto prev = source.find(spec->name);
    if (prev != source.end() && pv.values_[spec->name].text != v.text) {
      std::string m = "parameters '" + prev->second + "' and '" + key + "' both set '" +
                      spec->name + "' to different values";
      if (spec->type != ParamType::kSecret)
        m += " ('" + pv.values_[spec->name].text + "' vs '" + v.text + "')";
      return InvalidArgument(m);
    }
    source[spec->name] = key;
    pv.values_[spec->name] = std::move(v);
  }
  *out = std::move(pv);
  return Status::Ok();
}

const ParamValues::Value& ParamValues::At(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    // A backend asking for a parameter it did not declare is a plugin bug; it gets an
    // inert value (false, 0, "") rather than a crash.
    static const Value kEmpty{ParamType::kString, {}, 0, false};
    return kEmpty;
  }
  return it->second;
}

bool ParamValues::GetBool(std::string_view name) const {
  return At(name).num != 0;
}
int64_t ParamValues::GetInt(std::string_view name) const {
  return At(name).num;
}
uint64_t ParamValues::GetSize(std::string_view name) const {
  return static_cast<uint64_t>(At(name).num);
}
const std::string& ParamValues::GetString(std::string_view name) const {
  return At(name).text;
}
bool ParamValues::IsSet(std::string_view name) const {
  return At(name).set;
}

}  // namespace ferry
