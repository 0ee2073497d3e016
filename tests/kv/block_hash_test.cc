// The GPU checksum's lane algorithm (src/kv/gpu/block_hash.h), run on the host: equal to
// libxxhash's XXH3-64 of a 4 KiB block for any seed, and, combined as the codec combines
// the digests, to the engine's kBlockXxh3 definition.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kv/gpu/block_hash.h"
#include "kv/slot_format.h"

namespace ferry::kv {
namespace {

std::vector<uint64_t> DefaultSecret() {
  unsigned char bytes[192];
  XXH3_generateSecret_fromSeed(bytes, 0);
  std::vector<uint64_t> words(gpu::kSecretWords);
  std::memcpy(words.data(), bytes, sizeof(bytes));
  return words;
}

TEST(GpuBlockHash, LanesComputeXxh3OfA4KiBBlock) {
  const auto secret = DefaultSecret();
  std::mt19937_64 rng(42);
  std::vector<uint8_t> block(gpu::kHashBlock);
  for (uint64_t seed : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{1} << 40, ~uint64_t{0}}) {
    for (int round = 0; round < 8; ++round) {
      for (auto& b : block) b = static_cast<uint8_t>(rng());
      if (round == 0) std::fill(block.begin(), block.end(), 0);
      EXPECT_EQ(gpu::BlockHashOnHost(block.data(), secret.data(), seed),
                XXH3_64bits_withSeed(block.data(), block.size(), seed))
          << "seed " << seed << " round " << round;
    }
  }
}

TEST(GpuBlockHash, CombinedDigestsAreTheBlockChecksum) {
  const auto secret = DefaultSecret();
  std::mt19937_64 rng(7);
  for (uint64_t len : {uint64_t{1}, uint64_t{4096}, uint64_t{3 * 4096 + 100}, uint64_t{64} << 10}) {
    // A payload in its page: zero padding up to 4 KiB, as the codec leaves it.
    std::vector<uint8_t> page(AlignUp(len), 0);
    for (uint64_t i = 0; i < len; ++i) page[i] = static_cast<uint8_t>(rng());
    std::vector<uint64_t> digests;
    for (uint64_t b = 0; b < page.size() / gpu::kHashBlock; ++b)
      digests.push_back(gpu::BlockHashOnHost(page.data() + b * gpu::kHashBlock, secret.data(), b));
    EXPECT_EQ(XXH3_64bits_withSeed(digests.data(), digests.size() * 8, len),
              PayloadChecksum(ChecksumKind::kBlockXxh3, page.data(), len))
        << len;
  }
}

}  // namespace
}  // namespace ferry::kv
