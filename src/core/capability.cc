#include "ferry/capability.h"

namespace ferry {

std::string CapabilityName(const Capability& c) {
  std::string s(MemKindName(c.local));
  s += "->";
  s += MemKindName(c.target);
  s += ' ';
  if (c.read && c.write)
    s += "read/write";
  else if (c.read)
    s += "read";
  else if (c.write)
    s += "write";
  else
    s += "nothing";
  return s;
}

bool AnyCovers(const std::vector<Capability>& caps, MemKind local, MemKind target, XferOp op) {
  for (const Capability& c : caps)
    if (c.Covers(local, target, op)) return true;
  return false;
}

bool AnyNames(const std::vector<Capability>& caps, MemKind kind) {
  for (const Capability& c : caps)
    if (c.local == kind || c.target == kind) return true;
  return false;
}

}  // namespace ferry
