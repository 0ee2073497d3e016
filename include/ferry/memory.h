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

// What a backend knows of a FILE/OBJ name (Agent::QueryMem, Agent::ListMem). Fields a
// backend does not know stay at their defaults.
enum class EntryType : uint8_t { kRegular, kDirectory, kSymlink, kOther };
struct QueryResult {
  bool exists = false;
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // modification time, nanoseconds since the Unix epoch; 0 = unknown
  std::string etag;      // objects: the store's ETag; files: empty
  EntryType type = EntryType::kRegular;
  uint64_t available = 0;  // bytes this user may still write where the name lives; 0 = unknown
};

// One name found by Agent::ListMem: a file's full path, or an object's key.
struct ListEntry {
  std::string name;
  QueryResult info;  // exists is true
};

// How a backend opens a FILE registered by path.
struct FileOpenFlags {
  bool write = false;   // read-write; read-only otherwise
  bool direct = false;  // O_DIRECT: offsets, lengths and buffers must be block aligned
  bool sync = false;    // O_DSYNC: a write completes only once durable
  bool create = false;  // create the file (mode 0600) if missing; needs write. Never
                        // follows a symbolic link at the path; a file the backend created
                        // is removed again if its own checks (owned_only, reserve) then
                        // fail. A registration failing later (another descriptor, another
                        // backend) leaves the created file in place.
  // The file must be a regular file owned by this process's user with no other hard link,
  // and not a symbolic link: nothing is written through a link or into someone else's file.
  bool owned_only = false;
  // Reserve the registered range [offset, offset + len) on disk (fallocate) so writes land
  // inside the file; kNoSpace when the disk cannot hold it. Needs write and len > 0.
  bool reserve = false;
};

// DRAM region [ptr, ptr+len).
MemDesc DramDesc(const void* ptr, uint64_t len);

// A FILE registered by an fd the caller opened and keeps open until deregistration.
// Transfers name it by dev_id == fd. len 0 registers every offset from `offset` on.
MemDesc FileByFd(int fd, uint64_t offset = 0, uint64_t len = 0);

// A FILE the backend opens (and closes at deregistration). Transfers name it by `file_id`,
// any number the caller chooses that is unique among its FILE registrations.
// Encoded as meta = "<flags>:<path>", flags a subset of "wdscpa" (write, direct, sync,
// create, owned_only, reserve; empty = read-only), so a hand-written meta "wd:/data/f"
// works too.
MemDesc FileByPath(std::string_view path, uint64_t file_id, FileOpenFlags flags,
                   uint64_t offset = 0, uint64_t len = 0);

// Names for the storage namespace operations (Agent::QueryMem, RemoveMem), which need no
// file id or flags: a file by path, an object by key.
MemDesc FileName(std::string_view path);
MemDesc ObjectKey(std::string_view key);

// Parses FileByPath's meta. Returns false (and leaves outputs unspecified) when the meta
// has no "<flags>:" prefix or an unknown flag letter.
bool ParseFileMeta(std::string_view meta, std::string* path, FileOpenFlags* flags);

}  // namespace ferry
