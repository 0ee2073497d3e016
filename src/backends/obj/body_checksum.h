// The checksum a single PUT carries so that the server stores the body whole or not at all.
//
// S3 answers a PUT whose body is shorter than its Content-Length with an error, but not every
// S3-compatible store does: SeaweedFS keeps what arrived (an empty object, once) when the
// client is cancelled or dies mid-body, and the old object is gone. With
// `x-amz-checksum-crc32c` the server checks the body it received against the sender's value
// and refuses a torn one (BadDigest). CRC32C through ISA-L, the hardware instruction: several
// times faster than SHA-256 (sign_payload) or MD5 (Content-MD5); docs/benchmarks.md has its cost.
//
// Thread safety: stateless; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ferry::obj {

// The header's name and the value for `len` bytes at `data`: the big-endian CRC32C
// (Castagnoli, as iSCSI and S3 define it) in base64.
inline constexpr const char* kCrc32cHeader = "x-amz-checksum-crc32c";
std::string Crc32cBase64(const uint8_t* data, size_t len);

// The raw CRC32C, for tests against the published check values.
uint32_t Crc32c(const uint8_t* data, size_t len);

}  // namespace ferry::obj
