// What the GDS and GDS_MT plugin faces share: capabilities and the common parameters.
// The parameter names are NIXL's, so an existing NIXL configuration keeps working.
#pragma once

#include <vector>

#include "ferry/backend.h"
#include "gds_backend.h"

namespace ferry::gds {

inline std::vector<Capability> GdsCapabilities() {
  return {{MemKind::kDram, MemKind::kFile, true, true},
          {MemKind::kVram, MemKind::kFile, true, true}};
}

// max_request_size (its default differs: docs/benchmarks.md, "GDS and GDS_MT") and
// register_buffers.
inline std::vector<ParamSpec> CommonParams(const char* max_request_default) {
  return {
      {"max_request_size",
       ParamType::kSize,
       max_request_default,
       "larger descriptors are split into cuFile I/Os of at most this size (4K multiple, <= 1G)",
       {},
       {}},
      {"register_buffers",
       ParamType::kBool,
       "true",
       "cuFileBufRegister each DRAM/VRAM registration (if it fails, cuFile stages the I/O)",
       {},
       {}},
  };
}

inline GdsOptions CommonOptions(const ParamValues& p) {
  GdsOptions o;
  o.max_request_size = p.GetSize("max_request_size");
  o.register_buffers = p.GetBool("register_buffers");
  return o;
}

}  // namespace ferry::gds
