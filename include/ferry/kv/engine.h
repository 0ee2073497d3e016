// KV-cache offload engine: saves chunks of a model's KV cache to storage through the Ferry
// agent and loads them back, keyed by token prefix (see keys.h).
//
// Storage. `nixl_buffer_size` bytes are allocated page-aligned and registered once; they are
// cut into pages of one chunk each (4 KiB header + the chunk padded to 4 KiB). Static mode
// (nixl_pool_size > 0) opens that many slot files at start, named deterministically from
// the model/rank/layout so a restart finds them and rebuilds the index from their headers.
// Dynamic mode (nixl_pool_size == 0) keeps one file per chunk, named from the key's hex.
// Every stored chunk carries a header (magic, version, key, geometry, length, checksum:
// XXH3-64 from host buffers, a block checksum computed on the GPU from GPU buffers) checked
// on every read: a mismatch is a miss and counts in
// EngineStats::corrupt_chunks, never returned data. A chunk is visible to Lookup/Contains
// only after its write completed. When the pool is full the least recently used unpinned
// chunk is evicted; when nothing can be evicted Store fails with kNoSpace and counts it.
// Files are created 0600 and only ever inside nixl_path.
//
// nixl_buffer_device cuda puts the buffer on GPU EngineOptions::device; KV is then GPU
// memory of that GPU (KvLayout::OnGpu), gathered and scattered there on the caller's stream
// (docs/kv-engine.md, "GPU memory").
//
// Ownership: Engine::Create hands back a std::unique_ptr; the engine owns its buffer, its
// slot registrations and (unless EngineOptions::agent is given) its agent. Destroying the
// engine waits for asynchronous stores. Caller KV memory is only read/written during the
// call (or until the StoreHandle completes for StoreAsync).
//
// Thread safety: every Engine method is safe to call from many threads at once.
// Errors: Status; kNoSpace (pool full, nothing evictable), kIoError from the backend,
// kInvalidArgument for a layout that does not fit the geometry.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ferry/agent.h"
#include "ferry/kv/config.h"
#include "ferry/kv/keys.h"
#include "ferry/status.h"

namespace ferry::kv {

// Caller KV memory for a window of tokens [first_token, first_token + capacity_tokens) of
// the token sequence passed with it. Store writes only the chunks that lie wholly inside
// the window; Retrieve fills those and checks that the chunks before it are stored.
struct KvLayout {
  enum class Form : uint8_t { kContiguous, kPerLayer, kPaged };
  Form form = Form::kContiguous;
  // kContiguous: one block [planes, layers, capacity_tokens, row] (planes = 2 for K,V;
  // 1 for MLA), row = kv_heads * head_size elements.
  void* base = nullptr;
  // kPerLayer: k[l] and v[l] each [capacity_tokens, row]; MLA uses k only.
  // kPaged (vLLM's paged cache): k[l] and v[l] each point at layer l's blocks of
  // `block_size` rows, block b starting block_stride bytes after block b - 1 (0 means
  // block_size * row bytes: vLLM's [2, num_blocks, block_size, heads, head] per layer has
  // k = t[0], v = t[1]; [num_blocks, 2, block_size, ...] has v = k + block_size rows and
  // block_stride = 2 * block_size rows). Token first_token + i is in slot slot_mapping[i]
  // (block * block_size + offset; int64, capacity_tokens entries, in the same memory as
  // the blocks). A slot outside [0, num_blocks * block_size) is refused, never touched.
  std::vector<void*> k;
  std::vector<void*> v;
  const int64_t* slot_mapping = nullptr;
  uint64_t block_size = 0;
  uint64_t num_blocks = 0;
  uint64_t block_stride = 0;
  uint64_t capacity_tokens = 0;
  uint64_t first_token = 0;
  // Where the memory is: host memory (kDram), or GPU memory (kVram; `device` = the GPU
  // ordinal, copies ordered on `stream`, a cudaStream_t, null for the calling thread's
  // default stream). GPU KV needs nixl_buffer_device cuda on that GPU.
  MemKind kind = MemKind::kDram;
  uint64_t device = 0;
  void* stream = nullptr;

  static KvLayout Contiguous(void* base, uint64_t capacity_tokens, uint64_t first_token = 0);
  static KvLayout PerLayer(std::vector<void*> k, std::vector<void*> v, uint64_t capacity_tokens,
                           uint64_t first_token = 0);
  static KvLayout Paged(std::vector<void*> k, std::vector<void*> v, const int64_t* slot_mapping,
                        uint64_t tokens, uint64_t block_size, uint64_t num_blocks,
                        uint64_t first_token = 0);
  // The same layout in GPU memory of `device`.
  KvLayout OnGpu(uint64_t device, void* stream = nullptr) const;
};

struct EngineOptions {
  ModelId model;
  KvGeometry geometry;
  Agent* agent = nullptr;  // borrowed agent; null = the engine creates its own
  std::string agent_name = "ferry-kv";
  uint32_t queue_depth = 8;    // chunk transfers in flight per call (<= buffer pages)
  uint32_t async_threads = 1;  // threads serving StoreAsync
  // Lookup remembers the chunk keys of prompts it has seen twice (at most 8 prompts, the
  // first 64k tokens and 1024 chunks of each, ~2 MiB) and compares tokens instead of
  // hashing them again. Answers are the same either way; false makes every lookup hash
  // its tokens.
  bool lookup_key_memo = true;
  // nixl_buffer_device cuda: the GPU the staging buffer lives on (LMCache takes the
  // current CUDA device); KV passed in must be on the same GPU.
  uint32_t device = 0;
};

struct StoreResult {
  uint64_t chunks_written = 0;  // new chunks written by this call
  uint64_t chunks_present = 0;  // already stored (or being stored) by someone else
  uint64_t tokens_covered = 0;  // tokens of the prefix now stored or in flight
};

struct StoreRequest {
  std::span<const int32_t> tokens;
  KvLayout kv;
};

struct EngineStats {
  uint64_t chunks_stored = 0, bytes_stored = 0;
  uint64_t chunks_loaded = 0, bytes_loaded = 0;
  uint64_t chunks_present_on_store = 0;
  uint64_t evictions = 0;
  uint64_t store_failed_no_space = 0;  // pool full and every chunk pinned or busy
  uint64_t store_failed_io = 0;
  uint64_t corrupt_chunks = 0;  // header or checksum mismatch on read
  uint64_t load_failed_io = 0;
  uint64_t recovered_chunks = 0;  // found at start
  uint64_t recovery_skipped = 0;  // files found at start that could not be read or wiped
  uint64_t resident_chunks = 0;   // visible now
  uint64_t capacity_chunks = 0;   // slots (static) or 0 = unlimited
  // nixl_buffer_device cuda: GPU time of gathers, scatters and checksums (nanoseconds).
  uint64_t device_codec_ns = 0;
};

// Completion of StoreAsync. Thread safe; keep the KV memory valid until Done().
class StoreHandle {
 public:
  virtual ~StoreHandle() = default;
  virtual bool Done() const = 0;
  virtual Status Wait() = 0;  // blocks; the store's status
  virtual StoreResult result() const = 0;
};

class EngineImpl;

class Engine {
 public:
  // Validates `config` against the geometry, creates (or borrows) the agent, creates the
  // backend with extra_config.nixl_backend_params, registers the buffer, opens the pool
  // and recovers the index. A missing plugin names the plugins that are available.
  static Status Create(const Config& config, const EngineOptions& options,
                       std::unique_ptr<Engine>* out);
  ~Engine();

  // Keys of `tokens` (full chunks; the trailing partial one when save_unfull_chunk).
  std::vector<ChunkKey> Keys(std::span<const int32_t> tokens) const;

  // Stores every chunk of the window not already stored. Stops at the first chunk that
  // cannot be stored (kNoSpace or the I/O error); chunks before it stay stored.
  Status Store(std::span<const int32_t> tokens, const KvLayout& kv, StoreResult* result = nullptr);
  Status BatchedStore(std::span<const StoreRequest> requests, std::vector<StoreResult>* results);
  // Copies `tokens`; `kv` must stay valid until the handle is Done.
  std::shared_ptr<StoreHandle> StoreAsync(std::span<const int32_t> tokens, const KvLayout& kv);

  // Restores the longest stored prefix: `*restored` tokens, chunks verified before they are
  // copied out. A corrupt chunk ends the prefix (and is dropped from the index).
  Status Retrieve(std::span<const int32_t> tokens, const KvLayout& kv, uint64_t* restored);
  Status BatchedRetrieve(std::span<const StoreRequest> requests, std::vector<uint64_t>* restored);

  // Tokens of the longest stored prefix; stops at the first missing chunk.
  uint64_t Lookup(std::span<const int32_t> tokens);
  std::vector<uint64_t> BatchedLookup(std::span<const std::span<const int32_t>> prompts);

  bool Contains(const ChunkKey& key) const;
  // Drops a chunk (its stored bytes are invalidated). kNotFound if absent, kBusy if pinned.
  Status Remove(const ChunkKey& key);
  // Pinned chunks are never evicted. Pins nest. kNotFound if the chunk is not stored.
  Status Pin(const ChunkKey& key);
  Status Unpin(const ChunkKey& key);

  EngineStats Stats() const;
  const Config& config() const;
  uint64_t chunk_bytes() const;  // payload bytes of one full chunk

 private:
  explicit Engine(std::unique_ptr<EngineImpl> impl);
  std::unique_ptr<EngineImpl> impl_;
};

// --- Store administration (ferry-kv ls / verify / clear) ---

struct ScannedChunk {
  std::string file;        // name inside nixl_path
  std::string model_name;  // from the header; empty when the header is unreadable
  uint64_t payload_bytes = 0;
  uint32_t tokens = 0;
  bool header_ok = false;
  bool payload_ok = false;  // only checked with verify
  std::string problem;      // why it is corrupt
};

struct ScanReport {
  std::vector<ScannedChunk> chunks;  // every Ferry chunk file, valid or not
  uint64_t empty_slots = 0;          // pool slots holding nothing yet
  // Pools a running engine holds. verify reads a mismatching chunk of such a pool again
  // until it holds still: a chunk being written is not corrupt; other pools are locked for
  // the scan.
  std::vector<std::string> busy_pools;
};

// Reads every chunk file under config.nixl_path through the agent; with `verify` reads the
// payloads too and checks their checksums. Anything under a Ferry name that is not a
// regular file, and a per-key file shorter than a header, is reported as a problem. Needs
// a file backend.
Status ScanStore(const Config& config, bool verify, ScanReport* report);

// Removes every Ferry file (and only those) in config.nixl_path, holding each pool's lock
// until its lock file, removed last, is gone; kBusy, removing nothing, while an engine
// runs on any pool there.
Status ClearStore(const Config& config, uint64_t* removed);

}  // namespace ferry::kv
