// The chunk header's checksum kind: chunks written before it existed read as XXH3-64, the
// block checksum is the function its comment defines (a GPU must compute the same), and
// both detect a flipped byte anywhere.
#include <xxhash.h>

#include <cstring>
#include <random>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kv/slot_format.h"

namespace ferry::kv {
namespace {

ChunkHeader SampleHeader(uint64_t payload_bytes) {
  ChunkHeader h;
  h.key = {1, 2};
  h.seed = {3, 4};
  h.geometry.layers = 2;
  h.geometry.kv_heads = 1;
  h.geometry.head_size = 64;
  h.geometry.dtype = DType::kBf16;
  h.chunk_size = 16;
  h.tokens = uint32_t(payload_bytes / h.geometry.BytesPerToken());
  h.payload_bytes = payload_bytes;
  h.generation = 7;
  h.model_name = "m";
  return h;
}

std::vector<unsigned char> Random(size_t n, uint64_t seed) {
  std::vector<unsigned char> v(n);
  std::mt19937_64 rng(seed);
  for (auto& b : v) b = static_cast<unsigned char>(rng());
  return v;
}

// The definition, written out independently of slot_format.cc.
uint64_t ReferenceBlockChecksum(const unsigned char* p, uint64_t len) {
  std::vector<unsigned char> digests;
  for (uint64_t off = 0, i = 0; off < len; off += 4096, ++i) {
    std::vector<unsigned char> block(4096, 0);  // a short last block is zero-padded
    std::memcpy(block.data(), p + off, std::min<uint64_t>(4096, len - off));
    const uint64_t d = XXH3_64bits_withSeed(block.data(), 4096, i);
    for (int b = 0; b < 8; ++b) digests.push_back(static_cast<unsigned char>(d >> (8 * b)));
  }
  return XXH3_64bits_withSeed(digests.data(), digests.size(), len);
}

TEST(ChunkChecksum, BlockChecksumIsTheDefinedFunction) {
  for (uint64_t len : {uint64_t{1}, uint64_t{4095}, uint64_t{4096}, uint64_t{4097},
                       uint64_t{3 * 4096 + 100}, uint64_t{1} << 20}) {
    SCOPED_TRACE(len);
    auto data = Random(len, len);
    EXPECT_EQ(PayloadChecksum(ChecksumKind::kBlockXxh3, data.data(), len),
              ReferenceBlockChecksum(data.data(), len));
    EXPECT_EQ(PayloadChecksum(ChecksumKind::kXxh3, data.data(), len),
              XXH3_64bits(data.data(), len));
  }
}

TEST(ChunkChecksum, EitherKindDetectsAFlippedByteInAnyBlock) {
  const uint64_t len = 5 * 4096 + 300;
  auto data = Random(len, 5);
  for (ChecksumKind kind : {ChecksumKind::kXxh3, ChecksumKind::kBlockXxh3}) {
    const uint64_t good = PayloadChecksum(kind, data.data(), len);
    for (uint64_t at :
         {uint64_t{0}, uint64_t{4095}, uint64_t{4096}, uint64_t{2 * 4096 + 17}, len - 1}) {
      data[at] ^= 0x10;
      EXPECT_NE(PayloadChecksum(kind, data.data(), len), good)
          << ChecksumKindName(kind) << " @" << at;
      data[at] ^= 0x10;
    }
    // Swapping two whole blocks changes the block checksum too (blocks are seeded by index).
    if (kind == ChecksumKind::kBlockXxh3) {
      std::vector<unsigned char> swapped = data;
      std::memcpy(swapped.data(), data.data() + 4096, 4096);
      std::memcpy(swapped.data() + 4096, data.data(), 4096);
      EXPECT_NE(PayloadChecksum(kind, swapped.data(), len), good);
    }
  }
}

TEST(ChunkHeaderFormat, TheChecksumKindRoundTripsAndOldHeadersReadAsXxh3) {
  const uint64_t payload = 2 * 2 * 64 * 2 * 4;  // 4 tokens
  auto data = Random(payload, 9);
  std::vector<unsigned char> buf(kHeaderBytes);
  for (ChecksumKind kind : {ChecksumKind::kXxh3, ChecksumKind::kBlockXxh3}) {
    ChunkHeader h = SampleHeader(payload);
    h.checksum_kind = kind;
    h.payload_checksum = PayloadChecksum(kind, data.data(), payload);
    EncodeHeader(h, buf.data());
    ChunkHeader back;
    ASSERT_TRUE(DecodeHeader(buf.data(), &back).ok());
    EXPECT_EQ(back.checksum_kind, kind);
    EXPECT_TRUE(PayloadMatches(back, data.data()));
    data[3] ^= 1;
    EXPECT_FALSE(PayloadMatches(back, data.data()));
    data[3] ^= 1;
  }
  // The kind byte sits where earlier releases wrote a zero pad byte: such a header decodes
  // as kXxh3. An unknown kind (with a valid header checksum) is corrupt, not guessed at.
  ChunkHeader h = SampleHeader(payload);
  h.payload_checksum = PayloadChecksum(data.data(), payload);
  EncodeHeader(h, buf.data());
  ChunkHeader back;
  ASSERT_TRUE(DecodeHeader(buf.data(), &back).ok());
  EXPECT_EQ(back.checksum_kind, ChecksumKind::kXxh3);
  EXPECT_TRUE(PayloadMatches(back, data.data()));
  // The on-disk offsets (slot_format.cc's DiskHeader): the kind byte at 62, the header's
  // own checksum at 232 over the bytes before it.
  ASSERT_EQ(buf[62], 0);
  buf[62] = 7;
  const uint64_t hc = XXH3_64bits(buf.data(), 232);
  std::memcpy(buf.data() + 232, &hc, 8);
  Status s = DecodeHeader(buf.data(), &back);
  EXPECT_EQ(s.code(), Code::kCorrupt) << s.ToString();
  EXPECT_THAT(s.message(), ::testing::HasSubstr("checksum kind 7"));
}

}  // namespace
}  // namespace ferry::kv
