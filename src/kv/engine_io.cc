// The store and retrieve pipelines: up to queue_depth chunk transfers in flight per call,
// each on its own buffer page, completed in submission order.
#include <chrono>
#include <cstring>
#include <deque>

#include "engine_impl.h"
#include "fast_hash.h"
#include "kv_copy.h"
#include "slot_format.h"

namespace ferry::kv {
namespace {

struct Inflight {
  size_t request;
  ChunkKey key;
  uint64_t t0;
  uint32_t tokens;
  uint32_t page;
  uint64_t generation;
  uint32_t slot;  // stores: where the chunk goes
  std::unique_ptr<PendingIo> io;
  EngineImpl::ChunkTail tail;  // stores only
  Status error;                // stores: posting the tail failed
};

uint64_t NanosSince(std::chrono::steady_clock::time_point began) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - began)
          .count());
}

// Pages are taken without blocking while this call has transfers of its own to finish
// (see page_pool.h); `finish_oldest` completes one of them.
template <typename Finish>
uint32_t TakePage(PagePool& pool, std::deque<Inflight>& inflight, Finish finish_oldest) {
  for (;;) {
    if (std::optional<uint32_t> p = pool.TryAcquire()) return *p;
    if (inflight.empty()) return pool.Acquire();
    finish_oldest();
  }
}

}  // namespace

Status EngineImpl::WriteChunk(const KvLayout& kv, const ChunkKey& key, const ChunkLocation& loc,
                              uint64_t t0, uint32_t n, uint32_t page, uint64_t generation,
                              PendingIo* io, ChunkTail* tail) {
  // Copy and checksum in one pass: each block is hashed right after it is copied, while it
  // is still in cache, so the payload crosses memory once (read from the caller, written to
  // the page) instead of twice. Every kPieceBytes the filled part is posted, so the disk
  // works on the start of the chunk while the rest is being copied; the header (which needs
  // the checksum) goes last, with the tail. The first piece carries a zeroed header, and the
  // last is posted only after it completed: a slot reused for a new chunk never shows the
  // old chunk's header over new payload bytes. A crash between pieces leaves an empty slot
  // or a checksum-failing file, never a chunk that reads as valid.
  //
  // The wait for the first piece is not done here: the caller posts the tail when that
  // piece is done (PostTail), and meanwhile starts more chunks, so a batch keeps
  // queue_depth chunks in flight instead of stalling behind each one's first piece.
  constexpr uint64_t kBlockBytes = 256 << 10;   // fits in L2 with room to spare
  constexpr uint64_t kPieceBytes = 4ull << 20;  // big enough for full-speed disk writes
  const uint64_t payload = uint64_t{n} * g_.BytesPerToken();
  Status s = storage_->Begin(loc, StoredBytes(payload), io);
  if (!s.ok()) return s;
  if (DeviceCodec* codec = storage_->codec()) {
    return WriteChunkFromGpu(*codec, kv, key, t0, n, page, generation, io, tail);
  }
  uint8_t* buf = storage_->page(page);
  uint8_t* data = buf + kHeaderBytes;
  std::memset(buf, 0, kHeaderBytes);
  ChecksumStream sum;
  uint64_t posted = 0;  // payload bytes already handed to the backend
  for (uint64_t off = 0; off < payload;) {
    const uint64_t end = std::min(payload, off + kBlockBytes);
    GatherRange(kv, g_, t0, n, off, end, data);
    sum.Update(data + off, end - off);
    off = end;
    const uint64_t ready = off / kAlign * kAlign;
    if (storage_->piecewise_writes() && ready - posted >= kPieceBytes && off < payload) {
      const IoRange piece = posted == 0 ? IoRange{0, kHeaderBytes + ready}
                                        : IoRange{kHeaderBytes + posted, ready - posted};
      s = storage_->Post(page, {&piece, 1}, io);
      if (!s.ok()) return s;
      posted = ready;
    }
  }
  // Zero the O_DIRECT padding so files never carry stale buffer bytes.
  std::memset(data + payload, 0, AlignUp(payload) - payload);
  *tail = ChunkTail{payload, posted, sum.Digest(), false};
  if (posted > 0) return Status::Ok();  // PostTail, once the first piece is done
  tail->sent = true;
  EncodeHeader(MakeHeader(key, n, payload, tail->checksum, generation), buf);
  const IoRange all{0, StoredBytes(payload)};
  return storage_->Post(page, {&all, 1}, io);
}

Status EngineImpl::WriteChunkFromGpu(DeviceCodec& codec, const KvLayout& kv, const ChunkKey& key,
                                     uint64_t t0, uint32_t n, uint32_t page, uint64_t generation,
                                     PendingIo* io, ChunkTail* tail) {
  // The gather runs at GPU memory speed, far ahead of any storage: the chunk goes out in
  // one write, header included. A crash during it leaves a header whose checksum the
  // payload does not match, never a chunk that reads as valid.
  const uint64_t payload = uint64_t{n} * g_.BytesPerToken();
  uint8_t* dev = storage_->page(page);
  uint64_t checksum = 0;
  const auto began = std::chrono::steady_clock::now();
  Status s = codec.Gather(kv, g_, t0, n, page, dev + kHeaderBytes, &checksum);
  counters_.codec_ns.fetch_add(NanosSince(began));
  if (!s.ok()) return s;
  std::vector<uint8_t> header(kHeaderBytes);
  EncodeHeader(MakeHeader(key, n, payload, checksum, generation, ChecksumKind::kBlockXxh3),
               header.data());
  s = codec.PutHeader(page, dev, header.data(), kv.stream);
  if (!s.ok()) return s;
  *tail = ChunkTail{payload, 0, checksum, true};
  const IoRange all{0, StoredBytes(payload)};
  return storage_->Post(page, {&all, 1}, io);
}

Status EngineImpl::CheckPage(uint32_t page, const ChunkKey& key, uint32_t n, void* stream) {
  const uint8_t* buf = storage_->page(page);
  DeviceCodec* codec = storage_->codec();
  const uint64_t payload = uint64_t{n} * g_.BytesPerToken();
  std::vector<uint8_t> host;  // the header (or, rarely, the chunk) of a GPU page
  uint64_t gpu_sum = 0;
  if (codec != nullptr) {
    // The header comes over with the block checksum of the payload it should describe, in
    // one wait; a header that says otherwise makes the chunk a miss either way.
    host.resize(kHeaderBytes);
    const auto began = std::chrono::steady_clock::now();
    Status s = codec->Checksum(page, const_cast<uint8_t*>(buf) + kHeaderBytes, payload, stream,
                               &gpu_sum, host.data());
    counters_.codec_ns.fetch_add(NanosSince(began));
    if (!s.ok()) return s;
  }
  ChunkHeader h;
  Status s = DecodeHeader(codec != nullptr ? host.data() : buf, &h);
  if (!s.ok()) return Status(Code::kCorrupt, s.message());
  if (!(h.key == key && h.seed == seed_ && h.geometry == g_ && h.tokens == n &&
        h.payload_bytes == payload)) {
    return Status(Code::kCorrupt, "header is of another chunk");
  }
  bool match = false;
  if (codec == nullptr) {
    match = PayloadMatches(h, buf + kHeaderBytes);
  } else if (h.checksum_kind == ChecksumKind::kBlockXxh3) {
    match = gpu_sum == h.payload_checksum;
  } else {
    // Written by an engine with a host buffer (XXH3 over the whole payload, one sequential
    // chain): checked on the host, the only case where a payload crosses to it.
    host.resize(payload);
    s = codec->ToHost(host.data(), buf + kHeaderBytes, payload);
    if (!s.ok()) return s;
    match = PayloadMatches(h, host.data());
  }
  return match ? Status::Ok() : Status(Code::kCorrupt, "payload checksum mismatch");
}

Status EngineImpl::CopyOut(uint32_t page, uint64_t t0, uint32_t n, const KvLayout& kv) {
  const uint8_t* payload = storage_->page(page) + kHeaderBytes;
  DeviceCodec* codec = storage_->codec();
  if (codec == nullptr) {
    ScatterChunk(payload, g_, t0, n, kv);
    return Status::Ok();
  }
  const auto began = std::chrono::steady_clock::now();
  Status s = codec->Scatter(payload, g_, t0, n, page, kv);
  counters_.codec_ns.fetch_add(NanosSince(began));
  return s;
}

Status EngineImpl::CheckKvMemory(const KvLayout& kv) const {
  Status s = CheckLayout(kv, g_);
  if (!s.ok()) return s;
  if (DeviceCodec* codec = storage_->codec()) return codec->CheckLayout(kv, g_);
  if (kv.kind != MemKind::kDram) {
    return InvalidArgument(
        "KV layout: KV in GPU memory needs the engine's buffer there too: set "
        "nixl_buffer_device: cuda (this engine's buffer is in host memory and takes DRAM KV)");
  }
  return Status::Ok();
}

ChunkHeader EngineImpl::MakeHeader(const ChunkKey& key, uint32_t n, uint64_t payload,
                                   uint64_t checksum, uint64_t generation,
                                   ChecksumKind kind) const {
  ChunkHeader h;
  h.checksum_kind = kind;
  h.key = key;
  h.seed = seed_;
  h.geometry = g_;
  h.chunk_size = chunk_size_;
  h.tokens = n;
  h.payload_bytes = payload;
  h.payload_checksum = checksum;
  h.generation = generation;
  h.world_size = options_.model.world_size;
  h.worker_id = options_.model.worker_id;
  h.model_name = options_.model.model_name;
  return h;
}

Status EngineImpl::PostTail(const ChunkKey& key, uint32_t n, uint32_t page, uint64_t generation,
                            ChunkTail* tail, PendingIo* io) {
  tail->sent = true;
  // The first piece sent this page's header bytes (zeros): it has finished reading them,
  // and has landed, so the real header lands after it.
  EncodeHeader(MakeHeader(key, n, tail->payload, tail->checksum, generation), storage_->page(page));
  const IoRange last[2] = {{0, kHeaderBytes},
                           {kHeaderBytes + tail->posted, AlignUp(tail->payload) - tail->posted}};
  return storage_->Post(page, last, io);
}

Status EngineImpl::StoreMany(std::span<const StoreRequest> requests,
                             std::vector<StoreResult>* results) {
  results->assign(requests.size(), StoreResult{});
  std::vector<Status> failed(requests.size());
  std::deque<Inflight> inflight;

  auto post_tail = [&](Inflight& f) {
    Status s = PostTail(f.key, f.tokens, f.page, f.generation, &f.tail, f.io.get());
    if (!s.ok()) f.error = s;
  };
  auto finish_oldest = [&] {
    Inflight f = std::move(inflight.front());
    inflight.pop_front();
    if (!f.tail.sent) {
      Status first = f.io->WaitFirst();  // a timeout cancels it, but it may still land
      if (first.ok())
        post_tail(f);
      else
        f.error = first;
    }
    Status s = f.io->Wait();
    if (s.ok()) s = f.error;
    pages_->Release(f.page);
    if (s.ok()) {
      index_->Publish(f.key, f.generation);  // visible only now that the bytes are stored
      counters_.chunks_stored.fetch_add(1);
      counters_.bytes_stored.fetch_add(uint64_t{f.tokens} * g_.BytesPerToken());
      (*results)[f.request].chunks_written++;
    } else {
      AbortStore({f.slot, f.key, f.generation}, /*opened=*/true);
      if (failed[f.request].ok()) failed[f.request] = s.WithContext("storing chunk " + f.key.Hex());
    }
  };

  // Each prompt is hashed once: its keys serve the stores and, at the end, tokens_covered.
  std::vector<std::vector<ChunkKey>> request_keys(requests.size());
  for (size_t r = 0; r < requests.size(); ++r) {
    const StoreRequest& req = requests[r];
    request_keys[r] = Keys(req.tokens);
    Status s = CheckKvMemory(req.kv);
    if (!s.ok()) {
      failed[r] = s;
      continue;
    }
    const std::vector<ChunkKey>& keys = request_keys[r];
    const uint64_t win_begin = req.kv.first_token;
    const uint64_t win_end = req.kv.first_token + req.kv.capacity_tokens;
    for (size_t i = 0; i < keys.size() && failed[r].ok(); ++i) {
      const uint64_t t0 = uint64_t{i} * chunk_size_;
      const uint32_t n =
          static_cast<uint32_t>(std::min<uint64_t>(chunk_size_, req.tokens.size() - t0));
      if (t0 < win_begin || t0 + n > win_end) continue;  // not in the caller's memory
      const uint64_t payload = uint64_t{n} * g_.BytesPerToken();
      ChunkIndex::Reservation res;
      switch (index_->Reserve(keys[i], StoredBytes(payload), n, &res)) {
        case ChunkIndex::ReserveResult::kPresent:
          counters_.present_on_store.fetch_add(1);
          (*results)[r].chunks_present++;
          continue;
        case ChunkIndex::ReserveResult::kNoSpace:
          counters_.no_space.fetch_add(1);
          failed[r] = Status(Code::kNoSpace,
                             "KV pool full: every stored chunk is pinned or in use, chunk " +
                                 std::to_string(i) + " of the request was not stored");
          continue;
        case ChunkIndex::ReserveResult::kReserved:
          break;
      }
      // An evicted copy's file goes; it is that generation's alone, so a store of the same
      // key racing with this (a new generation) keeps its own.
      for (const ChunkIndex::Copy& gone : res.evicted) {
        if (storage_->dynamic()) (void)storage_->Invalidate({gone.slot, gone.key, gone.generation});
      }
      while (inflight.size() >= queue_depth_) finish_oldest();
      for (Inflight& f : inflight) {
        if (f.tail.sent) continue;
        // The header goes out only after the first piece landed; a failed first piece
        // ends the chunk (finish_oldest reports it) with no header over it.
        Status first = f.io->FirstState();
        if (first.ok()) {
          post_tail(f);
        } else if (first.code() != Code::kInProgress) {
          f.tail.sent = true;
          f.error = first;
        }
      }
      const uint32_t page = TakePage(*pages_, inflight, finish_oldest);
      const uint64_t generation = generation_.fetch_add(1);
      auto io = std::make_unique<PendingIo>();
      EngineImpl::ChunkTail tail;
      s = WriteChunk(req.kv, keys[i], {res.slot, keys[i], generation}, t0, n, page, generation,
                     io.get(), &tail);
      if (!s.ok()) {
        (void)io->Wait();  // pieces already posted must finish before the page is reused
        const bool opened = io->opened();
        io.reset();  // and the file is let go before it is removed
        pages_->Release(page);
        AbortStore({res.slot, keys[i], generation}, opened);
        failed[r] = s.WithContext("storing chunk " + keys[i].Hex());
        continue;
      }
      inflight.push_back({r, keys[i], t0, n, page, generation, res.slot, std::move(io), tail, {}});
    }
  }
  while (!inflight.empty()) finish_oldest();

  Status first;
  for (size_t r = 0; r < requests.size(); ++r) {
    const size_t ready = index_->PrefixReady(request_keys[r]);
    (*results)[r].tokens_covered =
        std::min<uint64_t>(uint64_t{ready} * chunk_size_, requests[r].tokens.size());
    if (first.ok() && !failed[r].ok()) first = failed[r];
  }
  return first;
}

Status EngineImpl::RetrieveMany(std::span<const StoreRequest> requests,
                                std::vector<uint64_t>* restored) {
  restored->assign(requests.size(), 0);
  std::vector<bool> stopped(requests.size(), false);
  std::deque<Inflight> inflight;
  Status first;

  auto finish_oldest = [&] {
    Inflight f = std::move(inflight.front());
    inflight.pop_front();
    Status s = f.io->Wait();
    bool good = false, corrupt = false;
    if (s.ok()) {
      const KvLayout& kv = requests[f.request].kv;
      Status checked = CheckPage(f.page, f.key, f.tokens, kv.stream);
      good = checked.ok();
      corrupt = checked.code() == Code::kCorrupt;
      if (!good && !corrupt) {
        counters_.load_io.fetch_add(1);  // the GPU failed, not the chunk
        if (first.ok()) first = checked.WithContext("checking chunk " + f.key.Hex());
      }
      if (good && !stopped[f.request]) {
        Status out = CopyOut(f.page, f.t0, f.tokens, kv);
        if (out.ok()) {
          (*restored)[f.request] = f.t0 + f.tokens;
          counters_.chunks_loaded.fetch_add(1);
          counters_.bytes_loaded.fetch_add(uint64_t{f.tokens} * g_.BytesPerToken());
        } else {
          good = false;  // the chunk is fine; the caller's memory is not
          if (first.ok()) first = out.WithContext("restoring chunk " + f.key.Hex());
        }
      }
    } else if (s.code() == Code::kOutOfRange || s.code() == Code::kNotFound) {
      // Shorter than its header said, or gone (a truncated file, an object replaced or
      // deleted behind the engine's back): the stored chunk is damaged, not the medium.
      corrupt = true;
    } else {
      counters_.load_io.fetch_add(1);
      if (first.ok()) first = s.WithContext("loading chunk " + f.key.Hex());
    }
    pages_->Release(f.page);
    uint32_t unused = 0;
    if (corrupt) {
      DropCorrupt(f.key, f.generation);  // a miss plus a counter, never returned bytes
    } else {
      (void)index_->ReleaseRead(f.key, f.generation, false, &unused);
    }
    if (!good) stopped[f.request] = true;  // the prefix ends before this chunk
  };

  for (size_t r = 0; r < requests.size(); ++r) {
    const StoreRequest& req = requests[r];
    Status s = CheckKvMemory(req.kv);
    if (!s.ok()) {
      if (first.ok()) first = s;
      continue;
    }
    const std::vector<ChunkKey> keys = Keys(req.tokens);
    const uint64_t win_begin = req.kv.first_token;
    const uint64_t win_end = req.kv.first_token + req.kv.capacity_tokens;
    for (size_t i = 0; i < keys.size() && !stopped[r]; ++i) {
      const uint64_t t0 = uint64_t{i} * chunk_size_;
      const uint32_t n =
          static_cast<uint32_t>(std::min<uint64_t>(chunk_size_, req.tokens.size() - t0));
      if (t0 + n <= win_begin) {
        // Before the caller's window: counts only if stored.
        if (!index_->Contains(keys[i])) break;
        (*restored)[r] = t0 + n;
        continue;
      }
      if (t0 < win_begin || t0 + n > win_end) break;
      ChunkIndex::ReadRef ref;
      if (!index_->AcquireRead(keys[i], &ref)) break;
      while (inflight.size() >= queue_depth_) finish_oldest();
      if (stopped[r]) {
        uint32_t unused = 0;
        (void)index_->ReleaseRead(keys[i], ref.generation, false, &unused);
        break;
      }
      const uint32_t page = TakePage(*pages_, inflight, finish_oldest);
      std::unique_ptr<PendingIo> io;
      s = storage_->StartRead(page, {ref.slot, keys[i], ref.generation}, ref.stored_bytes, &io);
      if (!s.ok()) {
        pages_->Release(page);
        uint32_t unused = 0;
        (void)index_->ReleaseRead(keys[i], ref.generation, false, &unused);
        counters_.load_io.fetch_add(1);
        if (first.ok()) first = s.WithContext("loading chunk " + keys[i].Hex());
        break;
      }
      inflight.push_back(
          {r, keys[i], t0, n, page, ref.generation, ref.slot, std::move(io), {}, {}});
    }
  }
  while (!inflight.empty()) finish_oldest();
  return first;
}

}  // namespace ferry::kv
