// Engine setup, recovery, index operations and asynchronous stores.
#include <algorithm>

#include "engine_impl.h"
#include "fast_hash.h"
#include "kv_copy.h"
#include "slot_format.h"

namespace ferry::kv {
namespace {

class StoreHandleImpl final : public StoreHandle {
 public:
  bool Done() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  Status Wait() override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return status_;
  }
  StoreResult result() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return result_;
  }
  void Finish(Status s, StoreResult r) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_ = std::move(s);
      result_ = r;
      done_ = true;
    }
    cv_.notify_all();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  Status status_;
  StoreResult result_;
};

struct RecoverCtx {
  EngineImpl* engine;
  std::vector<ChunkLocation> to_wipe;  // slots whose content is ours but unusable
  uint64_t max_generation = 0;
};

void VisitHeader(void* p, const ChunkLocation& loc, const uint8_t* bytes, uint64_t file_size) {
  auto* ctx = static_cast<RecoverCtx*>(p);
  EngineImpl* e = ctx->engine;
  // Every name's generation counts, read or not: a new store must never reuse one.
  ctx->max_generation = std::max(ctx->max_generation, loc.generation);
  ChunkHeader h;
  Status s = DecodeHeader(bytes, &h);
  if (s.code() == Code::kNotFound) {
    // A slot is simply empty; a dynamic file with no header is a store that never
    // finished (a crash before its tail): never a chunk, so it goes.
    if (e->storage_->dynamic()) ctx->to_wipe.push_back(loc);
    return;
  }
  const bool usable = s.ok() && h.seed == e->seed_ && h.geometry == e->g_ &&
                      h.chunk_size == e->chunk_size_ && file_size >= StoredBytes(h.payload_bytes) &&
                      (!e->storage_->dynamic() || h.key == loc.key);
  if (!usable) {
    // A torn or foreign header under our own deterministic name: never serve it.
    e->counters_.corrupt.fetch_add(1);
    ctx->to_wipe.push_back(loc);
    return;
  }
  ctx->max_generation = std::max(ctx->max_generation, h.generation);
  // Dynamic files carry their generation in the name (0: written before that); the
  // index keeps that one, since it names the file.
  const uint64_t generation = e->storage_->dynamic() ? loc.generation : h.generation;
  std::optional<ChunkIndex::Copy> loser =
      e->index_->Recover(h.key, loc.slot, StoredBytes(h.payload_bytes), h.tokens, generation);
  if (loser)
    ctx->to_wipe.push_back({loser->slot, loser->key, loser->generation});
  else
    e->counters_.recovered.fetch_add(1);
}

}  // namespace

EngineImpl::~EngineImpl() {
  {
    std::lock_guard<std::mutex> lock(async_mu_);
    async_stop_ = true;
  }
  async_cv_.notify_all();
  for (std::thread& t : async_threads_) t.join();
}

Status EngineImpl::Init(const Config& config, const EngineOptions& options) {
  config_ = config;
  options_ = options;
  g_ = options.geometry;
  if (!g_.Valid()) {
    return InvalidArgument(
        "model geometry needs layers 1..4096, kv_heads 1..4096, head_size 1..65536 and a "
        "known dtype (MLA: kv_heads 1)");
  }
  Status s = ValidateConfig(config);  // chunk_size in range before it is multiplied
  if (!s.ok()) return s;
  if (__builtin_mul_overflow(g_.BytesPerToken(), static_cast<uint64_t>(config.chunk_size),
                             &chunk_bytes_)) {
    return InvalidArgument("a chunk of " + std::to_string(config.chunk_size) +
                           " tokens of this model geometry overflows 64 bits");
  }
  s = ValidateConfig(config, chunk_bytes_);
  if (!s.ok()) return s;
  if (!config.enable_nixl_storage) {
    return InvalidArgument(
        "extra_config.enable_nixl_storage is false: set it to true to store "
        "KV chunks through NIXL storage");
  }
  chunk_size_ = static_cast<uint32_t>(config.chunk_size);
  seed_ = ChainSeed(options.model, g_, chunk_size_);
  ChunkStore::Options so;
  so.seed = seed_;
  so.worker_id = options.model.worker_id;
  so.page_bytes = StoredBytes(chunk_bytes_);
  so.agent_name = options.agent_name;
  so.agent = options.agent;
  so.device = options.device;
  so.kv_runs = g_.planes() * g_.layers;
  s = ChunkStore::Open(config, so, &storage_);
  if (!s.ok()) return s;
  pages_ = std::make_unique<PagePool>(storage_->pages());
  queue_depth_ = std::clamp<uint32_t>(options.queue_depth, 1, storage_->pages());
  index_ = std::make_unique<ChunkIndex>(storage_->slots(), config.nixl_max_storage_size);
  if (options.lookup_key_memo) key_memo_ = std::make_unique<PrefixKeyCache>(chunk_size_);
  s = Recover();
  if (!s.ok()) return s;
  for (uint32_t i = 0; i < std::max<uint32_t>(1, options.async_threads); ++i) {
    async_threads_.emplace_back([this] { AsyncLoop(); });
  }
  return Status::Ok();
}

Status EngineImpl::Recover() {
  RecoverCtx ctx{this, {}, 0};
  uint64_t skipped = 0;
  Status s = storage_->ScanHeaders(&VisitHeader, &ctx, &skipped);
  if (!s.ok()) return s;
  counters_.recovery_skipped.fetch_add(skipped);
  for (const ChunkLocation& loc : ctx.to_wipe) {
    // A copy that cannot be wiped stays unindexed (a dynamic file), or keeps its slot out
    // of use until the next start (a static one): counted, never fatal.
    if (!storage_->Invalidate(loc).ok()) counters_.recovery_skipped.fetch_add(1);
  }
  index_->FinishRecovery();
  generation_.store(ctx.max_generation + 1);
  return Status::Ok();
}

std::vector<ChunkKey> EngineImpl::Keys(std::span<const int32_t> tokens, size_t max_chunks) const {
  return ChunkKeys(seed_, tokens, chunk_size_, config_.save_unfull_chunk, max_chunks);
}

uint64_t EngineImpl::Lookup(std::span<const int32_t> tokens) const {
  const size_t full = tokens.size() / chunk_size_;
  // keys[0, known): keys of the leading chunks, from the memo or hashed here. Per thread,
  // so that a steady stream of lookups allocates nothing.
  thread_local std::vector<ChunkKey> keys;
  if (keys.size() < full) keys.resize(full);
  size_t known = key_memo_ ? key_memo_->Match(tokens, keys.data(), full) : 0;
  size_t hit = known > 0 ? index_->PrefixReady({keys.data(), known}) : 0;
  if (hit == known) {
    // Hash a few chunks at a time, then check them under one shared lock: a miss near the
    // start costs little hashing, a long hit takes the lock once per step, not per chunk.
    // Steps double (16, 32, 64, ...): a 128-chunk prompt takes the lock 4 times, not 8,
    // and a miss at chunk m costs hashing at most m + 16 chunks past it.
    size_t step = 16;
    const size_t memo_known = known;
    ChunkKey prev = known > 0 ? keys[known - 1] : seed_;
    while (known < full) {
      const size_t n = std::min(step, full - known);
      step *= 2;
      ChainHashRun(prev, tokens.data() + known * chunk_size_, chunk_size_, n, &keys[known]);
      const size_t ready = index_->PrefixReady({&keys[known], n});
      prev = keys[known + n - 1];
      known += n;
      hit += ready;
      if (ready < n) break;
    }
    // A prompt longer than the memo keeps only its first max_chunks() chunks there: when
    // those came from the memo, there is nothing new to offer.
    if (key_memo_ && std::min(known, key_memo_->max_chunks()) > memo_known)
      key_memo_->Offer(tokens, {keys.data(), known});
  }
  if (hit < full) return hit * chunk_size_;
  // Only the last chunk of a prompt can be partial; it is not memoized.
  if (!config_.save_unfull_chunk) return full * chunk_size_;
  if (tokens.size() == full * chunk_size_) return tokens.size();
  const ChunkKey last =
      NextKey(full > 0 ? keys[full - 1] : seed_, tokens.subspan(full * chunk_size_));
  return index_->PrefixReady({&last, 1}) == 1 ? tokens.size() : full * chunk_size_;
}

Status EngineImpl::RemoveChunk(const ChunkKey& key) {
  ChunkIndex::Copy gone;
  Status s = index_->Remove(key, &gone);
  if (!s.ok()) return s;
  s = storage_->Invalidate({gone.slot, key, gone.generation});
  // The slot is reused only once its old header is gone, so a restart cannot revive it.
  if (s.ok()) index_->FreeSlot(gone.slot);
  return s;
}

void EngineImpl::DropCorrupt(const ChunkKey& key, uint64_t generation) {
  counters_.corrupt.fetch_add(1);
  uint32_t slot = 0;
  if (index_->ReleaseRead(key, generation, /*drop=*/true, &slot)) {
    if (storage_->Invalidate({slot, key, generation}).ok()) index_->FreeSlot(slot);
  }
}

void EngineImpl::AbortStore(const ChunkLocation& loc, bool opened) {
  counters_.store_io.fetch_add(1);
  // Before the slot is freed for another store: a slot gets a zeroed header (pieces of
  // the failed chunk may sit under an older header), a dynamic file this store opened is
  // removed. A name the store was refused (a link, someone else's file) is left alone.
  if (opened || !storage_->dynamic()) (void)storage_->Invalidate(loc);
  index_->Abort(loc.key);
}

std::shared_ptr<StoreHandle> EngineImpl::StoreAsync(std::span<const int32_t> tokens,
                                                    const KvLayout& kv) {
  auto handle = std::make_shared<StoreHandleImpl>();
  auto owned = std::make_shared<std::vector<int32_t>>(tokens.begin(), tokens.end());
  auto task = [this, handle, owned, kv] {
    StoreRequest req{std::span<const int32_t>(*owned), kv};
    std::vector<StoreResult> results;
    Status s = StoreMany({&req, 1}, &results);
    handle->Finish(std::move(s), results.empty() ? StoreResult{} : results[0]);
  };
  {
    std::lock_guard<std::mutex> lock(async_mu_);
    async_tasks_.push_back(std::move(task));
  }
  async_cv_.notify_one();
  return handle;
}

void EngineImpl::AsyncLoop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(async_mu_);
      async_cv_.wait(lock, [&] { return async_stop_ || !async_tasks_.empty(); });
      // Drain before stopping: a StoreHandle must always complete.
      if (async_tasks_.empty()) return;
      task = std::move(async_tasks_.front());
      async_tasks_.pop_front();
    }
    task();
  }
}

EngineStats EngineImpl::Stats() const {
  EngineStats s;
  s.chunks_stored = counters_.chunks_stored.load();
  s.bytes_stored = counters_.bytes_stored.load();
  s.chunks_loaded = counters_.chunks_loaded.load();
  s.bytes_loaded = counters_.bytes_loaded.load();
  s.chunks_present_on_store = counters_.present_on_store.load();
  s.evictions = index_->evictions();
  s.store_failed_no_space = counters_.no_space.load();
  s.store_failed_io = counters_.store_io.load();
  s.corrupt_chunks = counters_.corrupt.load();
  s.load_failed_io = counters_.load_io.load();
  s.recovered_chunks = counters_.recovered.load();
  s.recovery_skipped = counters_.recovery_skipped.load();
  s.resident_chunks = index_->ready_chunks();
  s.capacity_chunks = storage_->slots();
  s.device_codec_ns = counters_.codec_ns.load();
  return s;
}

// --- Engine: thin forwarding ---

Engine::Engine(std::unique_ptr<EngineImpl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Status Engine::Create(const Config& config, const EngineOptions& options,
                      std::unique_ptr<Engine>* out) {
  auto impl = std::make_unique<EngineImpl>();
  Status s = impl->Init(config, options);
  if (!s.ok()) return s;
  out->reset(new Engine(std::move(impl)));
  return Status::Ok();
}

std::vector<ChunkKey> Engine::Keys(std::span<const int32_t> tokens) const {
  return impl_->Keys(tokens);
}

Status Engine::Store(std::span<const int32_t> tokens, const KvLayout& kv, StoreResult* result) {
  StoreRequest req{tokens, kv};
  std::vector<StoreResult> results;
  Status s = impl_->StoreMany({&req, 1}, &results);
  if (result != nullptr && !results.empty()) *result = results[0];
  return s;
}

Status Engine::BatchedStore(std::span<const StoreRequest> requests,
                            std::vector<StoreResult>* results) {
  std::vector<StoreResult> local;
  return impl_->StoreMany(requests, results != nullptr ? results : &local);
}

std::shared_ptr<StoreHandle> Engine::StoreAsync(std::span<const int32_t> tokens,
                                                const KvLayout& kv) {
  return impl_->StoreAsync(tokens, kv);
}

Status Engine::Retrieve(std::span<const int32_t> tokens, const KvLayout& kv, uint64_t* restored) {
  StoreRequest req{tokens, kv};
  std::vector<uint64_t> out;
  Status s = impl_->RetrieveMany({&req, 1}, &out);
  if (restored != nullptr) *restored = out.empty() ? 0 : out[0];
  return s;
}

Status Engine::BatchedRetrieve(std::span<const StoreRequest> requests,
                               std::vector<uint64_t>* restored) {
  std::vector<uint64_t> local;
  return impl_->RetrieveMany(requests, restored != nullptr ? restored : &local);
}

uint64_t Engine::Lookup(std::span<const int32_t> tokens) {
  return impl_->Lookup(tokens);
}

std::vector<uint64_t> Engine::BatchedLookup(std::span<const std::span<const int32_t>> prompts) {
  std::vector<uint64_t> out;
  out.reserve(prompts.size());
  for (const auto& p : prompts) out.push_back(impl_->Lookup(p));
  return out;
}

bool Engine::Contains(const ChunkKey& key) const {
  return impl_->index_->Contains(key);
}
Status Engine::Remove(const ChunkKey& key) {
  return impl_->RemoveChunk(key);
}
Status Engine::Pin(const ChunkKey& key) {
  return impl_->index_->Pin(key);
}
Status Engine::Unpin(const ChunkKey& key) {
  return impl_->index_->Unpin(key);
}
EngineStats Engine::Stats() const {
  return impl_->Stats();
}
const Config& Engine::config() const {
  return impl_->config_;
}
uint64_t Engine::chunk_bytes() const {
  return impl_->chunk_bytes_;
}

}  // namespace ferry::kv
