// Opening and describing the files a POSIX backend is given: by fd (the caller's, left
// open) or by path (ours, closed at deregistration).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "posix_types.h"

namespace ferry::posix {

// Builds the FileMd for a FILE registration (see ferry/memory.h for the encoding).
// Errors: bad meta, missing file, no permission, a directory, an fd that is not open.
Status OpenRegisteredFile(const MemDesc& desc, std::unique_ptr<FileMd>* out);

// Closes what OpenRegisteredFile opened.
void CloseRegisteredFile(FileMd* md);

// The storage namespace (Backend::storage): what a path- or fd-described file is (never
// following a link at the path), removing a file by path, listing "<dir>/<name prefix>".
Status StatFile(const MemDesc& desc, QueryResult* out);
Status RemoveFile(const MemDesc& desc);
Status ListFiles(std::string_view prefix, std::vector<ListEntry>* out);

}  // namespace ferry::posix
