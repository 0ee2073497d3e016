// Opening and describing the files a POSIX backend is given: by fd (the caller's, left
// open) or by path (ours, closed at deregistration).
#pragma once

#include <memory>

#include "posix_types.h"

namespace ferry::posix {

// Builds the FileMd for a FILE registration (see ferry/memory.h for the encoding).
// Errors: bad meta, missing file, no permission, a directory, an fd that is not open.
Status OpenRegisteredFile(const MemDesc& desc, std::unique_ptr<FileMd>* out);

// Closes what OpenRegisteredFile opened.
void CloseRegisteredFile(FileMd* md);

// Existence and size of a path- or fd-described file, without registering it.
Status StatFile(const MemDesc& desc, QueryResult* out);

}  // namespace ferry::posix
