#include "ferry/memory.h"

#include <cctype>
#include <string>

namespace ferry {

std::string_view MemKindName(MemKind kind) {
  switch (kind) {
    case MemKind::kDram:
      return "DRAM";
    case MemKind::kVram:
      return "VRAM";
    case MemKind::kFile:
      return "FILE";
    case MemKind::kObj:
      return "OBJ";
    case MemKind::kBlk:
      return "BLK";
  }
  return "?";
}

std::optional<MemKind> ParseMemKind(std::string_view name) {
  std::string up;
  for (char c : name) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (int i = 0; i < kNumMemKinds; ++i) {
    auto k = static_cast<MemKind>(i);
    if (MemKindName(k) == up) return k;
  }
  return std::nullopt;
}

MemDesc DramDesc(const void* ptr, uint64_t len) {
  return MemDesc{reinterpret_cast<uint64_t>(ptr), len, 0, {}};
}

MemDesc FileByFd(int fd, uint64_t offset, uint64_t len) {
  return MemDesc{offset, len, static_cast<uint64_t>(fd), {}};
}

MemDesc FileByPath(std::string_view path, uint64_t file_id, FileOpenFlags flags, uint64_t offset,
                   uint64_t len) {
  std::string meta;
  if (flags.write) meta += 'w';
  if (flags.direct) meta += 'd';
  if (flags.sync) meta += 's';
  if (flags.create) meta += 'c';
  if (flags.owned_only) meta += 'p';
  if (flags.reserve) meta += 'a';
  meta += ':';
  meta += path;
  return MemDesc{offset, len, file_id, std::move(meta)};
}

MemDesc FileName(std::string_view path) {
  return MemDesc{0, 0, 0, ":" + std::string(path)};
}

MemDesc ObjectKey(std::string_view key) {
  return MemDesc{0, 0, 0, std::string(key)};
}

bool ParseFileMeta(std::string_view meta, std::string* path, FileOpenFlags* flags) {
  size_t colon = meta.find(':');
  if (colon == std::string_view::npos) return false;
  FileOpenFlags f;
  for (char c : meta.substr(0, colon)) {
    switch (c) {
      case 'w':
        f.write = true;
        break;
      case 'd':
        f.direct = true;
        break;
      case 's':
        f.sync = true;
        break;
      case 'c':
        f.create = true;
        break;
      case 'p':
        f.owned_only = true;
        break;
      case 'a':
        f.reserve = true;
        break;
      default:
        return false;
    }
  }
  *flags = f;
  *path = std::string(meta.substr(colon + 1));
  return true;
}

}  // namespace ferry
