// The few S3 XML documents the OBJ backend reads and writes, through pugixml.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ferry/memory.h"

namespace ferry::obj {

// <Error><Code>..</Code><Message>..</Message></Error>; false when `xml` is not one.
bool ParseS3Error(const std::string& xml, std::string* code, std::string* message);

// A ListObjectsV2 page: entries appended to `out`, and the token of the next page (empty
// when this was the last). False (with `why`) for a document that is not a listing.
bool ParseListPage(const std::string& xml, std::vector<ListEntry>* out, std::string* next_token,
                   std::string* why);

// InitiateMultipartUpload's <UploadId>.
bool ParseUploadId(const std::string& xml, std::string* upload_id);

// CompleteMultipartUpload's request body for parts 1..n with their ETags.
std::string CompleteMultipartXml(const std::vector<std::string>& etags);

// "2026-12-02T05:33:05.000Z" -> nanoseconds since the epoch; 0 when malformed.
int64_t ParseIso8601Ns(const std::string& text);

}  // namespace ferry::obj
