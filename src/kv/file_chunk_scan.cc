// Recovery scan of the file store: the header of every chunk file of this pool, read
// through the agent. A file that cannot be read is a counted skip, never an outage.
#include <algorithm>
#include <cstring>

#include "file_chunk_store.h"
#include "slot_format.h"

namespace ferry::kv {

struct FileChunkStore::Found {
  ChunkLocation loc;
  uint64_t id;
  uint64_t size;
};

Status FileChunkStore::ScanHeaders(HeaderVisitor visit, void* ctx, uint64_t* skipped) {
  *skipped = 0;
  std::vector<Found> found;
  if (!dynamic()) {
    MemDescList query{MemKind::kFile, {}};
    for (uint32_t s = 0; s < slots_; ++s) query.descs.push_back(FileName(PathOf({s, {}, 0})));
    std::vector<QueryResult> sizes;
    Status st = agent_->QueryMem(query, &sizes, backend_);
    if (!st.ok()) return st.WithContext("recovering " + dir_);
    for (uint32_t s = 0; s < slots_ && s < sizes.size(); ++s) {
      if (sizes[s].exists && sizes[s].size >= kHeaderBytes)
        found.push_back({{s, {}, 0}, base_id_ + s, sizes[s].size});
    }
  } else {
    std::vector<ListEntry> files;
    Status st = agent_->ListMem(MemKind::kFile, dir_ + "/" + prefix_ + std::string(kKeyFileMarker),
                                &files, backend_);
    if (!st.ok()) return st.WithContext("recovering " + dir_);
    std::vector<ListEntry> leftovers;  // ours by name, but never a chunk: a failed store's
    for (ListEntry& f : files) {
      ChunkLocation loc;
      const std::string_view name = std::string_view(f.name).substr(dir_.size() + 1);
      if (!ParseKeyFileName(name, prefix_, &loc.key, &loc.generation)) continue;
      if (f.info.type != EntryType::kRegular) {
        ++*skipped;  // a directory or link under our name: left alone, never followed
        continue;
      }
      if (f.info.size < kHeaderBytes) {
        leftovers.push_back(std::move(f));
        continue;
      }
      found.push_back({loc, NextFileId(), f.info.size});
    }
    // A store that failed before its header (a full disk, a crash) leaves a file shorter
    // than a header: never indexed, so removed here rather than left uncounted.
    MemDescList gone{MemKind::kFile, {}};
    for (const ListEntry& f : leftovers) gone.descs.push_back(FileName(f.name));
    if (!gone.descs.empty()) (void)agent_->RemoveMem(gone, backend_);
  }
  // Headers land side by side in the buffer: one transfer per buffer-full of them.
  const size_t per_batch =
      std::min<size_t>(dynamic() ? 256 : SIZE_MAX, uint64_t{pages_} * page_bytes_ / kHeaderBytes);
  for (size_t begin = 0; begin < found.size(); begin += per_batch) {
    const size_t n = std::min(per_batch, found.size() - begin);
    Status st = ReadHeaders({found.data() + begin, n}, visit, ctx, skipped);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Status FileChunkStore::ReadHeaders(std::span<const Found> found, HeaderVisitor visit, void* ctx,
                                   uint64_t* skipped) {
  XferDescList local{buffer_kind_, {}};
  XferDescList remote{MemKind::kFile, {}};
  MemDescList files{MemKind::kFile, {}};
  for (size_t i = 0; i < found.size(); ++i) {
    local.descs.push_back(
        {reinterpret_cast<uint64_t>(buffer_ + i * kHeaderBytes), kHeaderBytes, device_});
    remote.descs.push_back({0, kHeaderBytes, found[i].id});
    if (dynamic()) {
      files.descs.push_back(FileByPath(PathOf(found[i].loc), found[i].id,
                                       FileOpenFlags{.direct = direct_, .owned_only = true}));
    }
  }
  PendingIo io;
  io.agent_ = agent_;
  RegOptions reg;
  reg.backends = {backend_};
  Status st;
  if (dynamic()) st = agent_->RegisterMem(files, &io.file_reg_, reg);
  std::unique_ptr<Transfer> xfer;
  if (st.ok()) st = agent_->CreateTransfer(XferOp::kRead, local, remote, "", &xfer, xfer_options_);
  if (st.ok()) st = xfer->Post();
  if (xfer) io.xfers_.push_back(std::move(xfer));
  if (st.ok()) st = io.Wait();
  std::vector<uint8_t> host;  // the headers, when the buffer is in GPU memory
  if (st.ok() && codec_ != nullptr) {
    host.resize(found.size() * kHeaderBytes);
    st = codec_->ToHost(host.data(), buffer_, host.size());
    if (!st.ok()) return st.WithContext("recovering " + dir_);
  }
  if (st.ok()) {
    const uint8_t* headers = codec_ != nullptr ? host.data() : buffer_;
    for (size_t i = 0; i < found.size(); ++i)
      visit(ctx, found[i].loc, headers + i * kHeaderBytes, found[i].size);
    return Status::Ok();
  }
  // One bad file (unreadable, gone since the listing, refusing O_DIRECT) failed the batch:
  // read the files one by one and skip the ones that fail.
  (void)io.Wait();
  if (io.file_reg_.valid()) {
    (void)agent_->DeregisterMem(io.file_reg_);
    io.file_reg_ = {};
  }
  if (found.size() == 1) {
    ++*skipped;
    return Status::Ok();
  }
  for (size_t i = 0; i < found.size(); ++i) {
    Status one = ReadHeaders(found.subspan(i, 1), visit, ctx, skipped);
    if (!one.ok()) return one;
  }
  return Status::Ok();
}

}  // namespace ferry::kv
