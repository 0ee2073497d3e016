// XXH3-64 of one 4 KiB block with a seed, computed by eight lanes that each own one of
// XXH3's eight accumulators: the form the GPU checksum kernel runs (eight threads per
// block, exchanging one word per stripe with a shuffle). Written from the XXH3
// specification for inputs longer than 240 bytes; the host build below runs the same
// lane steps one lane after the other, so the algorithm is tested against libxxhash on
// any machine (tests/kv/block_hash_test.cc) and only the shuffles need a GPU.
//
// `secret` is XXH3's default 192-byte secret as 24 little-endian words (what
// XXH3_generateSecret_fromSeed gives for seed 0); the seeded secret is derived on the fly:
// even words plus the seed, odd words minus it.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define FERRY_HD __host__ __device__ __forceinline__
#else
#define FERRY_HD inline
#endif

namespace ferry::kv::gpu {

inline constexpr uint32_t kHashBlock = 4096;
inline constexpr uint32_t kLanes = 8;
inline constexpr uint32_t kSecretWords = 24;

namespace xxh3 {
inline constexpr uint64_t kP32_1 = 0x9E3779B1u, kP32_2 = 0x85EBCA77u, kP32_3 = 0xC2B2AE3Du;
inline constexpr uint64_t kP64_1 = 0x9E3779B185EBCA87ull, kP64_2 = 0xC2B2AE3D27D4EB4Full;
inline constexpr uint64_t kP64_3 = 0x165667B19E3779F9ull, kP64_4 = 0x85EBCA77C2B2AE63ull;
inline constexpr uint64_t kP64_5 = 0x27D4EB2F165667C5ull;
// Stripes of 64 bytes; a 1 KiB "block" of 16 stripes is followed by a scramble.
inline constexpr uint32_t kStripe = 64, kStripesPerRound = 16;
// Offsets into the secret that the long-input path uses.
inline constexpr uint32_t kScrambleAt = 192 - 64, kLastStripeAt = 192 - 64 - 7, kMergeAt = 11;

FERRY_HD uint64_t InitAcc(uint32_t lane) {
  switch (lane) {
    case 0:
      return kP32_3;
    case 1:
      return kP64_1;
    case 2:
      return kP64_2;
    case 3:
      return kP64_3;
    case 4:
      return kP64_4;
    case 5:
      return kP32_2;
    case 6:
      return kP64_5;
    default:
      return kP32_1;
  }
}

// Word `w` of the secret derived from `seed`.
FERRY_HD uint64_t SeededWord(const uint64_t* secret, uint32_t w, uint64_t seed) {
  return (w & 1) ? secret[w] - seed : secret[w] + seed;
}

// The 8 little-endian bytes of the seeded secret at byte offset `at` (may be unaligned).
FERRY_HD uint64_t SecretAt(const uint64_t* secret, uint32_t at, uint64_t seed) {
  const uint32_t w = at / 8, shift = 8 * (at % 8);
  const uint64_t lo = SeededWord(secret, w, seed);
  if (shift == 0) return lo;
  return (lo >> shift) | (SeededWord(secret, w + 1, seed) << (64 - shift));
}

// One lane's part of a stripe: its own product, before the neighbour's word is added.
FERRY_HD uint64_t LaneProduct(uint64_t data, uint64_t key) {
  const uint64_t k = data ^ key;
  return (k & 0xFFFFFFFFull) * (k >> 32);
}

FERRY_HD uint64_t Scramble(uint64_t acc, uint64_t key) {
  acc ^= acc >> 47;
  acc ^= key;
  return acc * kP32_1;
}

FERRY_HD uint64_t MulFold(uint64_t a, uint64_t b) {
#if defined(__CUDA_ARCH__)
  return (a * b) ^ __umul64hi(a, b);
#else
  const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(p) ^ static_cast<uint64_t>(p >> 64);
#endif
}

FERRY_HD uint64_t Avalanche(uint64_t h) {
  h ^= h >> 37;
  h *= 0x165667919E3779F9ull;
  return h ^ (h >> 32);
}

// The stripe schedule of a 4 KiB input: stripe `s` (0..63) reads input bytes
// [StripeInput(s), +64) with secret bytes from StripeSecret(s); a scramble follows
// stripes 15, 31 and 47. Stripe 63 is XXH3's "last stripe" (the final 64 bytes).
FERRY_HD uint32_t StripeInput(uint32_t s) {
  return s == 63 ? kHashBlock - kStripe : s * kStripe;
}
FERRY_HD uint32_t StripeSecret(uint32_t s) {
  return s == 63 ? kLastStripeAt : (s % kStripesPerRound) * 8;
}
FERRY_HD bool ScrambleAfter(uint32_t s) {
  return s % kStripesPerRound == kStripesPerRound - 1 && s < 48;
}

// Lane pair (2i, 2i+1)'s term of the final merge.
FERRY_HD uint64_t MergeTerm(const uint64_t* secret, uint32_t i, uint64_t acc_even, uint64_t acc_odd,
                            uint64_t seed) {
  return MulFold(acc_even ^ SecretAt(secret, kMergeAt + 16 * i, seed),
                 acc_odd ^ SecretAt(secret, kMergeAt + 16 * i + 8, seed));
}

FERRY_HD uint64_t Finish(uint64_t merged_terms) {
  return Avalanche(uint64_t{kHashBlock} * kP64_1 + merged_terms);
}

}  // namespace xxh3

#if !defined(__CUDA_ARCH__)
// The lane algorithm run on the host, one lane after another; equals
// XXH3_64bits_withSeed(block, 4096, seed).
inline uint64_t BlockHashOnHost(const uint8_t* block, const uint64_t* secret, uint64_t seed) {
  using namespace xxh3;
  uint64_t acc[kLanes];
  for (uint32_t j = 0; j < kLanes; ++j) acc[j] = InitAcc(j);
  for (uint32_t s = 0; s < 64; ++s) {
    uint64_t data[kLanes];
    for (uint32_t j = 0; j < kLanes; ++j) {
      data[j] = 0;
      for (int b = 7; b >= 0; --b) data[j] = data[j] << 8 | block[StripeInput(s) + 8 * j + b];
    }
    for (uint32_t j = 0; j < kLanes; ++j)
      acc[j] += LaneProduct(data[j], SecretAt(secret, StripeSecret(s) + 8 * j, seed)) + data[j ^ 1];
    if (ScrambleAfter(s)) {
      for (uint32_t j = 0; j < kLanes; ++j)
        acc[j] = Scramble(acc[j], SecretAt(secret, kScrambleAt + 8 * j, seed));
    }
  }
  uint64_t terms = 0;
  for (uint32_t i = 0; i < 4; ++i) terms += MergeTerm(secret, i, acc[2 * i], acc[2 * i + 1], seed);
  return Finish(terms);
}
#endif

}  // namespace ferry::kv::gpu
