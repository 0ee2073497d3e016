// Every vector-unit build of the KV hashes (SSE2, AVX2, AVX-512: those this CPU can run)
// gives exactly what Debian's libxxhash gives for the definitions in keys.h. Keys and
// checksums are persisted, so a build that differed would lose or corrupt a cache when it
// moves to another machine.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <random>
#include <vector>

#include "ferry/kv/keys.h"
#include "kv/fast_hash.h"
#include "kv_test_util.h"

namespace ferry::kv {
namespace {

// keys.h's definition, written with the shared library's plain XXH3.
ChunkKey ReferenceNext(const ChunkKey& prev, const int32_t* tokens, size_t n) {
  const XXH128_hash_t d = XXH3_128bits(tokens, n * sizeof(int32_t));
  const uint64_t in[5] = {prev.hi, prev.lo, d.high64, d.low64, n};
  const XXH128_hash_t h = XXH3_128bits(in, sizeof in);
  return {h.high64, h.low64};
}

TEST(KvFastHash, EveryBuildMatchesTheReference) {
  const auto impls = UsableHashImpls();
  ASSERT_GE(impls.size(), 1u);
  const ChunkKey seed = ChainSeed({"m", 1, 0}, testing::SmallGeometry(), 256);
  // 37 full chunks: runs are hashed in blocks of 16, so this crosses two block edges.
  constexpr size_t kChunks = 37;
  const std::vector<int32_t> t = testing::Tokens(256 * kChunks + 184, 3);
  std::vector<ChunkKey> want;
  ChunkKey prev = seed;
  for (size_t c = 0; c < kChunks; ++c) want.push_back(prev = ReferenceNext(prev, &t[c * 256], 256));
  const ChunkKey want_partial = ReferenceNext(prev, &t[kChunks * 256], 184);

  std::vector<uint8_t> bytes((1 << 20) + 3);
  std::mt19937_64 rng(9);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  for (const HashImpl& impl : impls) {
    SCOPED_TRACE(impl.name);
    std::vector<ChunkKey> got(kChunks);
    impl.chain_run(seed, t.data(), 256, kChunks, got.data());
    EXPECT_EQ(got, want);
    // Runs of every length up to two blocks and a bit, starting mid-chain.
    for (size_t n = 0; n <= 33; ++n) {
      std::vector<ChunkKey> part(n + 1, ChunkKey{7, 7});
      impl.chain_run(want[2], &t[3 * 256], 256, n, part.data());
      EXPECT_EQ(std::vector<ChunkKey>(part.begin(), part.begin() + n),
                std::vector<ChunkKey>(want.begin() + 3, want.begin() + 3 + n))
          << n;
      EXPECT_EQ(part[n], (ChunkKey{7, 7})) << "wrote past the run of " << n;
    }
    EXPECT_EQ(impl.chain(want[kChunks - 1], &t[kChunks * 256], 184), want_partial);
    // 256 tokens has a path of its own; any other chunk size takes the general one.
    for (size_t cs : {size_t{1}, size_t{100}, size_t{300}}) {
      const size_t n = t.size() / cs < 20 ? t.size() / cs : 20;
      std::vector<ChunkKey> ref, run(n);
      ChunkKey k = seed;
      for (size_t c = 0; c < n; ++c) ref.push_back(k = ReferenceNext(k, &t[c * cs], cs));
      impl.chain_run(seed, t.data(), cs, n, run.data());
      EXPECT_EQ(run, ref) << "chunk size " << cs;
    }
    EXPECT_EQ(impl.chain(seed, t.data(), 256), want[0]);
    // XXH3 takes a different path below 17, 129 and 241 bytes and per 1 KiB block.
    for (size_t len : {size_t{0}, size_t{1}, size_t{16}, size_t{17}, size_t{128}, size_t{129},
                       size_t{240}, size_t{241}, size_t{1024}, size_t{4099}, bytes.size()}) {
      EXPECT_EQ(impl.checksum(bytes.data(), len), XXH3_64bits(bytes.data(), len)) << len;
    }
    alignas(64) unsigned char state[ChecksumStream::kStateBytes];
    impl.reset(state);
    for (size_t pos = 0, step = 1; pos < bytes.size(); pos += step, step = step * 3 + 1) {
      impl.update(state, &bytes[pos], std::min(step, bytes.size() - pos));
    }
    EXPECT_EQ(impl.digest(state), XXH3_64bits(bytes.data(), bytes.size()));
  }
  // The public functions use the widest build.
  EXPECT_EQ(ChunkKeys(seed, t, 256, false), want);
  std::vector<ChunkKey> with_partial = want;
  with_partial.push_back(want_partial);
  EXPECT_EQ(ChunkKeys(seed, t, 256, true), with_partial);
  EXPECT_EQ(ChunkKeys(seed, t, 256, true, kChunks), want);
  EXPECT_EQ(ChunkKeys(seed, t, 256, true, 4),
            std::vector<ChunkKey>(want.begin(), want.begin() + 4));
  RecordProperty("hash_builds", static_cast<int>(impls.size()));
}

// Keys are persisted in slot headers and file names; this value must never change
// without a format version bump.
TEST(KvFastHash, KeyOfAKnownPromptIsPinned) {
  const ChunkKey seed = ChainSeed({"llama", 1, 0}, {32, 8, 128, DType::kBf16, false}, 4);
  const std::vector<int32_t> t = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<ChunkKey> k = ChunkKeys(seed, t, 4, true);
  ASSERT_EQ(k.size(), 3u);
  EXPECT_EQ(k[2].Hex(), "94ff09510b6a8b369c4586c8a7ebf8c6");
}

}  // namespace
}  // namespace ferry::kv
