// Range checks of backend parameters, worded the same way in every backend: the schema
// (ParamValues) checks types, these check values, naming the parameter and what it got.
#pragma once

#include <cstdint>
#include <string>

#include "ferry/status.h"

namespace ferry::kit {

// "parameter 'threads' must be 1..1024, got 0"
inline Status CheckRange(const char* name, int64_t v, int64_t lo, int64_t hi) {
  if (v >= lo && v <= hi) return Status::Ok();
  return InvalidArgument("parameter '" + std::string(name) + "' must be " + std::to_string(lo) +
                         ".." + std::to_string(hi) + ", got " + std::to_string(v));
}

// A byte count that must be a multiple of 4 KiB in [lo, hi]; `range` words the bounds
// ("between 4 KiB and 1 GiB").
inline Status CheckPageMultiple(const char* name, uint64_t v, uint64_t lo, uint64_t hi,
                                const char* range) {
  if (v >= lo && v <= hi && v % 4096 == 0) return Status::Ok();
  return InvalidArgument("parameter '" + std::string(name) + "' must be a multiple of 4 KiB " +
                         range + ", got " + std::to_string(v));
}

// A byte count of at most 1 GiB.
inline Status CheckAtMostGiB(const char* name, uint64_t v) {
  if (v <= (uint64_t{1} << 30)) return Status::Ok();
  return InvalidArgument("parameter '" + std::string(name) + "' must be at most 1 GiB, got " +
                         std::to_string(v));
}

}  // namespace ferry::kit
