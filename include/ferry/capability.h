// Capability: one (local kind, target kind, operations) combination a backend moves.
//
// A plugin declares its capabilities (PluginSpec::capabilities); the agent considers a
// backend for a transfer only if one of them covers the transfer's local kind, target kind
// and operation, and registers memory of a kind only with backends that name that kind in
// some capability. PluginInfo lists them, and `ferry-bench --list-backends` prints them.
//
// Thread safety: a value type.
#pragma once

#include <string>
#include <vector>

#include "ferry/memory.h"
#include "ferry/transfer.h"

namespace ferry {

struct Capability {
  MemKind local = MemKind::kDram;
  MemKind target = MemKind::kFile;
  bool read = true;   // target -> local
  bool write = true;  // local -> target

  bool Covers(MemKind l, MemKind t, XferOp op) const {
    return l == local && t == target && (op == XferOp::kRead ? read : write);
  }
};

// "DRAM->FILE read/write", "VRAM->FILE read".
std::string CapabilityName(const Capability& c);

// Whether any of `caps` covers the combination, or names `kind` at all.
bool AnyCovers(const std::vector<Capability>& caps, MemKind local, MemKind target, XferOp op);
bool AnyNames(const std::vector<Capability>& caps, MemKind kind);

}  // namespace ferry
