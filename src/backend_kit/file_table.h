// Opening and describing the files a file-like backend is given: by fd (the caller's, left
// open) or by path (ours, closed at deregistration), with the checks FileOpenFlags promise
// (never through a link, owned_only, reserve). POSIX, GDS and GDS_MT share it, so a FILE
// registration means the same whichever backend holds it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io_types.h"

namespace ferry::kit {

// A registered FILE as the kit knows it; a backend derives its metadata from this.
struct OpenFile : IoFile {
  int fd = -1;
  bool owned = false;          // opened by us (by path): closed at deregistration
  uint32_t mem_align = 1;      // O_DIRECT buffer alignment
  uint32_t offset_align = 1;   // O_DIRECT offset/length alignment
  bool memory_backed = false;  // a regular file on tmpfs, ramfs or hugetlbfs
  int64_t fs_type = 0;         // statfs f_type of the file's filesystem (0 for a device)
  bool created = false;        // this registration created the file (by path, `create`)
  std::string path;            // by path: the path; by fd: empty
};

// Fills `md` for a FILE registration (see ferry/memory.h for the encoding). Errors: bad
// meta, missing file, no permission, a directory, an fd that is not open. On error
// nothing stays open and a file this call created is removed.
Status OpenRegisteredFile(const MemDesc& desc, OpenFile* md);

// Closes what OpenRegisteredFile opened.
void CloseRegisteredFile(OpenFile* md);

// With O_DIRECT, the buffer address, file offset and length of a segment must be aligned
// as the file's filesystem requires; the error names the descriptor and the alignment.
Status CheckDirectAlignment(const IoSegment& s, const OpenFile& file);

// "tmpfs", "ext4", ... for messages; "" when unknown.
std::string FilesystemName(int64_t fs_type);

// The storage namespace (Backend::storage): what a path- or fd-described file is (never
// following a link at the path), removing a file by path, listing "<dir>/<name prefix>".
Status StatFile(const MemDesc& desc, QueryResult* out);
Status RemoveFile(const MemDesc& desc);
// StorageNamespace::Query and Remove for FILE descriptors, built on the two above.
Status QueryFiles(std::span<const MemDesc> descs, std::vector<QueryResult>* out);
Status RemoveFiles(std::span<const MemDesc> descs);
Status ListFiles(std::string_view prefix, std::vector<ListEntry>* out);

}  // namespace ferry::kit
