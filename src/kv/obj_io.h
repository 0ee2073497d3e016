// One whole-transfer move between a buffer and one object, through the agent: what the
// lease and ferry-kv's object admin need outside the engine's prepared paths.
#pragma once

#include <cstdint>
#include <string>

#include "ferry/agent.h"

namespace ferry::kv {

// READ or WRITE of `len` bytes at `buf` <-> object `key` from offset 0, waited for. The
// key is registered for this call only; `buf` too unless `buf_registered` (the caller
// holds a registration of it with `backend`). `args`: the transfer's arguments
// (if_match, if_none_match).
Status MoveObject(Agent* agent, BackendId backend, XferOp op, const std::string& key, uint8_t* buf,
                  uint64_t len, const Params& args = {}, bool buf_registered = false);

}  // namespace ferry::kv
