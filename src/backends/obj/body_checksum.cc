#include "body_checksum.h"

#include <isa-l/crc.h>
#include <openssl/evp.h>

namespace ferry::obj {

uint32_t Crc32c(const uint8_t* data, size_t len) {
  // ISA-L's crc32_iscsi carries the raw register (the standard's initial and final
  // inversions are ours to apply) and takes an int length: bodies go in 1 GiB steps.
  uint32_t crc = 0xFFFFFFFFu;
  constexpr size_t kStep = size_t{1} << 30;
  while (len > 0) {
    const size_t n = len < kStep ? len : kStep;
    crc = crc32_iscsi(const_cast<uint8_t*>(data), static_cast<int>(n), crc);
    data += n;
    len -= n;
  }
  return crc ^ 0xFFFFFFFFu;
}

std::string Crc32cBase64(const uint8_t* data, size_t len) {
  const uint32_t crc = Crc32c(data, len);
  const unsigned char be[4] = {
      static_cast<unsigned char>(crc >> 24), static_cast<unsigned char>(crc >> 16),
      static_cast<unsigned char>(crc >> 8), static_cast<unsigned char>(crc)};
  unsigned char out[9] = {0};  // base64 of 4 bytes: 8 characters and the NUL
  const int n = EVP_EncodeBlock(out, be, sizeof be);
  return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

}  // namespace ferry::obj
