// Helpers for the KV engine tests: a per-test directory, a small model geometry, and KV
// contents that are a pure function of the tokens so any retrieve can be checked.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "ferry/kv/config.h"
#include "ferry/kv/engine.h"

namespace ferry::kv::testing {

// A fresh directory under the test temp dir, removed when the test ends.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("ferry-kv-") + info->test_suite_name() + "-" + info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    path_ = std::filesystem::path(::testing::TempDir()) / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  std::string sub(const std::string& s) const { return (path_ / s).string(); }

 private:
  std::filesystem::path path_;
};

// 2 layers x 2 heads x 16 dims x bf16 = 256 bytes per token; 16-token chunks = 4 KiB.
inline KvGeometry SmallGeometry() {
  return KvGeometry{2, 2, 16, DType::kBf16, false};
}
inline constexpr uint32_t kChunk = 16;

inline Config SmallConfig(const std::string& dir, int64_t pool = 16) {
  Config c;
  c.chunk_size = kChunk;
  c.nixl_buffer_size = 8 * 8192;  // 8 pages of 4 KiB header + 4 KiB chunk
  c.enable_nixl_storage = true;
  c.nixl_backend = "POSIX";
  c.nixl_pool_size = pool;
  c.nixl_path = dir;
  return c;
}

inline EngineOptions SmallOptions(const std::string& model = "tiny") {
  EngineOptions o;
  o.model.model_name = model;
  o.geometry = SmallGeometry();
  o.queue_depth = 4;
  return o;
}

// An engine on `c`, or null with a test failure naming why.
inline std::unique_ptr<Engine> MakeEngine(const Config& c,
                                          const EngineOptions& o = SmallOptions()) {
  std::unique_ptr<Engine> e;
  Status s = Engine::Create(c, o, &e);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return e;
}

inline std::vector<int32_t> Tokens(size_t n, int32_t start) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = start + static_cast<int32_t>(i * 7 % 1000);
  return t;
}

inline uint8_t KvByte(int32_t token, uint64_t pos, uint64_t plane_layer, uint64_t i) {
  uint64_t x =
      static_cast<uint64_t>(token) * 0x9E3779B97F4A7C15ull ^ (pos << 20) ^ (plane_layer << 12) ^ i;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  return static_cast<uint8_t>(x >> 56);
}

// Contiguous [planes, layers, tokens, row] KV for `tokens`.
inline std::vector<uint8_t> MakeKv(const std::vector<int32_t>& tokens, const KvGeometry& g) {
  const uint64_t rb = g.RowBytes();
  std::vector<uint8_t> kv(g.BytesPerToken() * tokens.size());
  size_t o = 0;
  for (uint64_t pl = 0; pl < uint64_t{g.planes()} * g.layers; ++pl) {
    for (uint64_t t = 0; t < tokens.size(); ++t) {
      for (uint64_t i = 0; i < rb; ++i) kv[o++] = KvByte(tokens[t], t, pl, i);
    }
  }
  return kv;
}

// True when tokens [0, n) of `got` (same layout as MakeKv for `tokens`) match.
inline bool PrefixMatches(const std::vector<uint8_t>& got, const std::vector<int32_t>& tokens,
                          const KvGeometry& g, uint64_t n) {
  const std::vector<uint8_t> want = MakeKv(tokens, g);
  const uint64_t run = g.RowBytes() * tokens.size();
  for (uint64_t pl = 0; pl < uint64_t{g.planes()} * g.layers; ++pl) {
    if (std::memcmp(got.data() + pl * run, want.data() + pl * run, n * g.RowBytes()) != 0) {
      return false;
    }
  }
  return true;
}

// A vLLM-style paged cache in host memory: per layer one tensor of `blocks` blocks, K and V
// either in separate halves ([2, blocks, block_size, row], vLLM's FlashAttention form) or
// interleaved per block ([blocks, 2, block_size, row], FlashInfer's), and a slot mapping
// that scatters a window's tokens over the blocks in a shuffled order.
struct PagedCache {
  KvGeometry g;
  uint64_t block_size = 4;
  uint64_t blocks = 0;
  bool interleaved = false;
  std::vector<std::vector<uint8_t>> layers;  // one tensor per layer
  std::vector<int64_t> slots;                // slot of window token i

  PagedCache(const KvGeometry& geometry, uint64_t window, uint64_t bs, bool inter,
             uint64_t shuffle_seed)
      : g(geometry), block_size(bs), interleaved(inter) {
    const uint64_t used = (window + bs - 1) / bs;
    blocks = used + 3;  // a few blocks nobody uses
    for (uint32_t l = 0; l < g.layers; ++l)
      layers.emplace_back(blocks * bs * g.RowBytes() * g.planes(), 0);
    std::vector<uint64_t> order(blocks);
    for (uint64_t b = 0; b < blocks; ++b) order[b] = b;
    uint64_t x = shuffle_seed | 1;
    for (uint64_t b = blocks - 1; b > 0; --b) {  // Fisher-Yates with a fixed LCG
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      std::swap(order[b], order[(x >> 33) % (b + 1)]);
    }
    for (uint64_t t = 0; t < window; ++t)
      slots.push_back(static_cast<int64_t>(order[t / bs] * bs + t % bs));
  }
  uint64_t BlockStride() const { return (interleaved ? 2 : 1) * block_size * g.RowBytes(); }
  // Where plane `p` of layer `l` starts in that layer's tensor.
  uint64_t PlaneOffset(uint32_t p) const {
    return p == 0 ? 0 : (interleaved ? block_size : blocks * block_size) * g.RowBytes();
  }
  uint8_t* Row(uint8_t* layer_base, uint32_t p, int64_t slot) const {
    const auto s = static_cast<uint64_t>(slot);
    return layer_base + PlaneOffset(p) + (s / block_size) * BlockStride() +
           (s % block_size) * g.RowBytes();
  }
  // The layout over `bases` (this cache's tensors, or copies of them elsewhere: GPU).
  KvLayout Layout(const std::vector<uint8_t*>& bases, const int64_t* slot_mapping,
                  uint64_t first_token = 0) const {
    std::vector<void*> k, v;
    for (uint32_t l = 0; l < g.layers; ++l) {
      k.push_back(bases[l]);
      if (!g.mla) v.push_back(bases[l] + PlaneOffset(1));
    }
    KvLayout kv =
        KvLayout::Paged(k, v, slot_mapping, slots.size(), block_size, blocks, first_token);
    kv.block_stride = interleaved ? BlockStride() : 0;
    return kv;
  }
  KvLayout Layout(uint64_t first_token = 0) {
    std::vector<uint8_t*> bases;
    for (auto& t : layers) bases.push_back(t.data());
    return Layout(bases, slots.data(), first_token);
  }
  // Window token i holds the KvByte contents of tokens[first + i] (MakeKv's).
  void Fill(const std::vector<int32_t>& tokens, uint64_t first) {
    for (uint64_t i = 0; i < slots.size() && first + i < tokens.size(); ++i) {
      for (uint32_t p = 0; p < g.planes(); ++p) {
        for (uint32_t l = 0; l < g.layers; ++l) {
          uint8_t* row = Row(layers[l].data(), p, slots[i]);
          for (uint64_t b = 0; b < g.RowBytes(); ++b)
            row[b] = KvByte(tokens[first + i], first + i, uint64_t{p} * g.layers + l, b);
        }
      }
    }
  }
  // Window tokens [0, n) hold what Fill would put there.
  bool Matches(const std::vector<int32_t>& tokens, uint64_t first, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      for (uint32_t p = 0; p < g.planes(); ++p) {
        for (uint32_t l = 0; l < g.layers; ++l) {
          const uint8_t* row = Row(layers[l].data(), p, slots[i]);
          for (uint64_t b = 0; b < g.RowBytes(); ++b)
            if (row[b] != KvByte(tokens[first + i], first + i, uint64_t{p} * g.layers + l, b))
              return false;
        }
      }
    }
    return true;
  }
};

}  // namespace ferry::kv::testing
