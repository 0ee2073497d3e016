// CRC32C of PUT bodies against the check values of RFC 3720 (iSCSI) and of the CRC catalogue,
// and its base64 form as S3 wants it in x-amz-checksum-crc32c.
#include "body_checksum.h"

#include <gtest/gtest.h>

#include <vector>

namespace ferry::obj {
namespace {

TEST(BodyChecksum, MatchesThePublishedCheckValues) {
  const char* digits = "123456789";
  EXPECT_EQ(Crc32c(reinterpret_cast<const uint8_t*>(digits), 9), 0xE3069283u);
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), up(32);
  for (size_t i = 0; i < up.size(); ++i) up[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(up.data(), up.size()), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(nullptr, 0), 0u);
}

TEST(BodyChecksum, HeaderValueIsTheBigEndianCrcInBase64) {
  const char* digits = "123456789";
  // 0xE3069283 -> bytes e3 06 92 83 -> "4waSgw==" (what S3 and botocore send for this body).
  EXPECT_EQ(Crc32cBase64(reinterpret_cast<const uint8_t*>(digits), 9), "4waSgw==");
  EXPECT_EQ(Crc32cBase64(nullptr, 0), "AAAAAA==");
}

}  // namespace
}  // namespace ferry::obj
