// Memory kinds and the descriptors that name memory, files and objects.
//
// A descriptor is plain data: {addr, len, dev_id} plus, for registration only, a meta string.
// What the fields mean depends on the kind:
//
//   kind  addr            len          dev_id                 meta (registration only)
//   DRAM  pointer         bytes        0                      unused
//   VRAM  device pointer  bytes        GPU ordinal            unused
//   FILE  file offset     bytes, 0 =   fd, or a caller-chosen  "" when dev_id is an open fd;
//                         to any end   file id with a path     "<flags>:<path>" (see FileByPath)
//   OBJ   object offset   bytes        caller-chosen key id   object key
//   BLK   byte offset     bytes        volume id              volume path
//
// Registration lists (MemDescList) are handed to Agent::RegisterMem. Transfer lists
// (XferDescList) carry no meta: each XferDesc must lie inside one registered MemDesc of
// the same kind and dev_id. XferDesc is 24 bytes so that lists of millions stay cheap.
//
// Thread safety: value types; a list may be read from many threads once built.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

enum class MemKind : uint8_t { kDram = 0, kVram, kFile, kObj, kBlk };
inline constexpr int kNumMemKinds = 5;

// "DRAM", "VRAM", "FILE", "OBJ", "BLK".
std::string_view MemKindName(MemKind kind);
// Accepts the names above in any case; nullopt for anything else.
std::optional<MemKind> ParseMemKind(std::string_view name);

struct MemDesc {
  uint64_t addr = 0;
  uint64_t len = 0;
  uint64_t dev_id = 0;
  std::string meta;
};

struct MemDescList {
  MemKind kind = MemKind::kDram;
  std::vector<MemDesc> descs;
};

struct XferDesc {
  uint64_t addr = 0;
  uint64_t len = 0;
  uint64_t dev_id = 0;
};

struct XferDescList {
  MemKind kind = MemKind::kDram;
  std::vector<XferDesc> descs;
};

// Existence and size of a FILE/OBJ descriptor as a backend sees it (Agent::QueryMem).
struct QueryResult {
  bool exists = false;
  uint64_t size = 0;
};

// How a backend opens a FILE registered by path.
struct FileOpenFlags {
  bool write = false;   // read-write; read-only otherwise
  bool direct = false;  // O_DIRECT: offsets, lengths and buffers must be block aligned
  bool sync = false;    // O_DSYNC: a write completes only once durable
  bool create = false;  // create the file (mode 0600) if missing; needs write
};

// DRAM region [ptr, ptr+len).
MemDesc DramDesc(const void* ptr, uint64_t len);

// A FILE registered by an fd the caller opened and keeps open until deregistration.
// Transfers name it by dev_id == fd. len 0 registers every offset from `offset` on.
MemDesc FileByFd(int fd, uint64_t offset = 0, uint64_t len = 0);

// A FILE the backend opens (and closes at deregistration). Transfers name it by `file_id`,
// any number the caller chooses that is unique among its FILE registrations.
// Encoded as meta = "<flags>:<path>", flags a subset of "wdsc" (write, direct, sync,
// create; empty = read-only), so a hand-written meta "wd:/data/f" works too.
MemDesc FileByPath(std::string_view path, uint64_t file_id, FileOpenFlags flags,
                   uint64_t offset = 0, uint64_t len = 0);

// Parses FileByPath's meta. Returns false (and leaves outputs unspecified) when the meta
// has no "<flags>:" prefix or an unknown flag letter.
bool ParseFileMeta(std::string_view meta, std::string* path, FileOpenFlags* flags);

}  // namespace ferry
