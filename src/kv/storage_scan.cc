// Recovery scan: read the header of every chunk file of this pool through the agent.
#include <dirent.h>
#include <sys/stat.h>

#include <cstring>

#include "slot_format.h"
#include "storage.h"

namespace ferry::kv {
namespace {

struct Found {
  ChunkLocation loc;
  uint64_t id;
  uint64_t size;
};

bool ParseHex32(std::string_view hex, ChunkKey* out) {
  if (hex.size() != 32) return false;
  uint64_t parts[2] = {0, 0};
  for (size_t i = 0; i < 32; ++i) {
    const char c = hex[i];
    const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return false;
    parts[i / 16] = parts[i / 16] << 4 | static_cast<uint64_t>(v);
  }
  *out = {parts[0], parts[1]};
  return true;
}

}  // namespace

Status Storage::ScanHeaders(HeaderVisitor visit, void* ctx) {
  std::vector<Found> found;
  if (!dynamic()) {
    MemDescList query{MemKind::kFile, {}};
    for (uint32_t s = 0; s < slots_; ++s) {
      query.descs.push_back(FileByPath(PathOf({s, {}}), base_id_ + s, FileOpenFlags{}));
    }
    std::vector<QueryResult> sizes;
    Status st = agent_->QueryMem(query, &sizes, backend_);
    for (uint32_t s = 0; s < slots_; ++s) {
      uint64_t size = 0;
      if (st.ok() && s < sizes.size()) {
        size = sizes[s].exists ? sizes[s].size : 0;
      } else {
        struct stat sb;  // the backend answers no queries: ask the filesystem
        if (::stat(PathOf({s, {}}).c_str(), &sb) == 0) size = static_cast<uint64_t>(sb.st_size);
      }
      if (size >= kHeaderBytes) found.push_back({{s, {}}, base_id_ + s, size});
    }
  } else {
    DIR* d = ::opendir(dir_.c_str());
    if (d == nullptr) return ErrnoStatus(errno, "listing nixl_path '" + dir_ + "'");
    const std::string want = prefix_ + std::string(kKeyFileMarker);
    while (dirent* e = ::readdir(d)) {
      std::string_view name(e->d_name);
      ChunkKey key;
      if (name.substr(0, want.size()) != want || !ParseHex32(name.substr(want.size()), &key)) {
        continue;
      }
      struct stat sb;
      const std::string path = dir_ + "/" + std::string(name);
      if (::lstat(path.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
      if (static_cast<uint64_t>(sb.st_size) < kHeaderBytes) continue;
      const uint64_t id = base_id_ + (next_file_id_.fetch_add(1) & 0x7fffffff) + 0x80000000u;
      found.push_back({{0, key}, id, static_cast<uint64_t>(sb.st_size)});
    }
    ::closedir(d);
  }

  // Headers land side by side in the buffer: one transfer per buffer-full of them.
  const size_t per_batch =
      std::min<size_t>(dynamic() ? 256 : SIZE_MAX, uint64_t{pages_} * page_bytes_ / kHeaderBytes);
  for (size_t begin = 0; begin < found.size(); begin += per_batch) {
    const size_t n = std::min(per_batch, found.size() - begin);
    XferDescList local{MemKind::kDram, {}};
    XferDescList remote{MemKind::kFile, {}};
    MemDescList files{MemKind::kFile, {}};
    for (size_t i = 0; i < n; ++i) {
      const Found& f = found[begin + i];
      local.descs.push_back(
          {reinterpret_cast<uint64_t>(buffer_ + i * kHeaderBytes), kHeaderBytes, 0});
      remote.descs.push_back({0, kHeaderBytes, f.id});
      if (dynamic()) {
        files.descs.push_back(FileByPath(PathOf(f.loc), f.id, FileOpenFlags{.direct = direct_}));
      }
    }
    PendingIo io;
    io.agent_ = agent_;
    if (dynamic()) {
      RegOptions reg;
      reg.backends = {backend_};
      Status st = agent_->RegisterMem(files, &io.file_reg_, reg);
      if (!st.ok()) return st.WithContext("recovering " + dir_);
    }
    std::unique_ptr<Transfer> xfer;
    Status st = agent_->CreateTransfer(XferOp::kRead, local, remote, "", &xfer, xfer_options_);
    if (st.ok()) st = xfer->Post();
    if (xfer) io.xfers_.push_back(std::move(xfer));
    if (st.ok()) st = io.Wait();
    if (!st.ok()) return st.WithContext("reading chunk headers in " + dir_);
    for (size_t i = 0; i < n; ++i) {
      const Found& f = found[begin + i];
      visit(ctx, f.loc, buffer_ + i * kHeaderBytes, f.size);
    }
  }
  return Status::Ok();
}

}  // namespace ferry::kv
