// Backend parameters: a schema each plugin publishes, and the checked values a backend gets.
//
// Users pass parameters as strings (as with NIXL): Params{{"engine", "uring"}}. The agent
// checks them against the plugin's schema before the backend sees them: an unknown key or
// a value of the wrong type fails with a message naming the key. Aliases keep the names
// NIXL users already pass (e.g. POSIX's use_uring) working.
//
// Thread safety: value types; ParamValues is immutable once built.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/status.h"

namespace ferry {

using Params = std::map<std::string, std::string, std::less<>>;

enum class ParamType : uint8_t {
  kBool,    // true/false/1/0/yes/no/on/off
  kInt,     // signed decimal
  kSize,    // bytes, with optional K/M/G/T suffix (binary: 4K = 4096)
  kString,  // anything
  kEnum,    // one of `choices`
  kSecret,  // a credential: accepted like kString, never echoed in errors, logs or listings
};

std::string_view ParamTypeName(ParamType type);

// An alias maps an old name onto a parameter. With `value` empty the alias takes the
// parameter's own value ("kernel_queue_size" -> "queue_depth"). With `value` set, a true
// boolean under the alias means "set the parameter to `value`" and false means nothing
// ("use_uring: true" -> "engine: uring").
struct ParamAlias {
  std::string name;
  std::string value;
};

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kString;
  std::string default_value;         // as a string, in the same syntax users write
  std::string doc;                   // one line
  std::vector<std::string> choices;  // kEnum only
  std::vector<ParamAlias> aliases;
};

// What a listing or a message may show of a value: the value itself, or "(secret)".
std::string ShownValue(const ParamSpec& spec, std::string_view value);

// The checked, defaults-filled values a backend is created with.
class ParamValues {
 public:
  // Checks `given` against `schema`. Errors: unknown key, ill-typed value, an alias and
  // its parameter (or two aliases) given different values. Each names the key.
  static Status Build(const std::vector<ParamSpec>& schema, const Params& given, ParamValues* out);

  bool GetBool(std::string_view name) const;
  int64_t GetInt(std::string_view name) const;
  uint64_t GetSize(std::string_view name) const;
  const std::string& GetString(std::string_view name) const;  // also for kEnum and kSecret
  // True when the user set this parameter (directly or through an alias).
  bool IsSet(std::string_view name) const;

 private:
  struct Value {
    ParamType type;
    std::string text;
    int64_t num = 0;
    bool set = false;
  };
  const Value& At(std::string_view name) const;
  std::map<std::string, Value, std::less<>> values_;
};

// Value parsers shared with config loaders. Each returns false on malformed input.
bool ParseBool(std::string_view text, bool* out);
bool ParseInt(std::string_view text, int64_t* out);
bool ParseSize(std::string_view text, uint64_t* out);

}  // namespace ferry
