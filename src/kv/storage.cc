// The engine's use of the agent API: buffer, files, transfers.
#include "storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "slot_format.h"

namespace ferry::kv {
namespace {

constexpr auto kIoTimeout = std::chrono::seconds(120);

// mkdir -p with 0700 for the directories it creates.
Status MakeDirs(const std::string& path) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "creating nixl_path directory '" + cur + "'");
    }
  }
  return Status::Ok();
}

// A pool file must be a regular file or absent: a symlink planted under a Ferry name
// would otherwise redirect writes outside nixl_path.
Status CheckPlainFile(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoStatus(errno, "lstat '" + path + "'");
  }
  if (!S_ISREG(st.st_mode)) {
    return Status(Code::kPermissionDenied,
                  "'" + path + "' is not a regular file (symlink?); refusing to use it");
  }
  return Status::Ok();
}

// Reserves `bytes` of disk for the file at `path` (creating it 0600), so that the chunk
// writes land inside the file instead of extending it: ext4 and xfs serialize O_DIRECT
// writes past end of file (exclusive inode lock, completion before the next may start),
// which made a chunk's pieces go to disk one at a time. Filesystems without fallocate keep
// the extending writes; running out of space is an error naming the file.
Status Preallocate(const std::string& path, uint64_t bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "opening '" + path + "'");
  struct stat st;
  int err = 0;
  if (::fstat(fd, &st) != 0) {
    err = errno;
  } else if (uint64_t(st.st_size) < bytes && ::fallocate(fd, 0, 0, off_t(bytes)) != 0 &&
             errno != EOPNOTSUPP && errno != ENOSYS) {
    err = errno;
  }
  ::close(fd);
  if (err != 0) {
    return ErrnoStatus(err, "reserving " + std::to_string(bytes) + " bytes for '" + path + "'");
  }
  return Status::Ok();
}

}  // namespace

PendingIo::~PendingIo() {
  for (auto& x : xfers_) (void)x->Release();
  if (file_reg_.valid()) (void)agent_->DeregisterMem(file_reg_);
}

Status PendingIo::Wait() {
  Status first;
  for (auto& x : xfers_) {
    Status s = x->Wait(kIoTimeout);
    if (s.code() == Code::kTimedOut) (void)x->Cancel();
    (void)x->Release();
    if (first.ok() && !s.ok()) first = s;
  }
  xfers_.clear();
  if (file_reg_.valid()) {
    (void)agent_->DeregisterMem(file_reg_);
    file_reg_ = {};
  }
  return first;
}

Status PendingIo::WaitFirst() {
  if (xfers_.empty()) return Status::Ok();
  Status s = xfers_.front()->Wait(kIoTimeout);
  if (s.code() == Code::kTimedOut) (void)xfers_.front()->Cancel();
  return s;
}

bool PendingIo::FirstDone() const {
  return xfers_.empty() || xfers_.front()->Check().code() != Code::kInProgress;
}

Status Storage::Open(const Config& config, const Options& options, std::unique_ptr<Storage>* out) {
  std::unique_ptr<Storage> st(new Storage());
  Status s = st->Init(config, options);
  if (!s.ok()) return s;
  *out = std::move(st);
  return Status::Ok();
}

Status Storage::Init(const Config& config, const Options& o) {
  agent_ = o.agent;
  if (agent_ == nullptr) {
    Status s = Agent::Create(o.agent_name, AgentConfig{}, &owned_agent_);
    if (!s.ok()) return s.WithContext("creating the agent");
    agent_ = owned_agent_.get();
  }
  // Name the missing plugin and what exists instead of a bare "not found".
  std::string available;
  bool found = false;
  for (const PluginInfo& p : agent_->ListPlugins()) {
    if (!p.usable) continue;
    available += (available.empty() ? "" : ", ") + p.name;
    found |= p.name == config.nixl_backend;
  }
  if (!found) {
    return Unsupported("backend '" + config.nixl_backend + "' is not available: no plugin named " +
                       config.nixl_backend +
                       " (available: " + (available.empty() ? "none" : available) + ")");
  }
  Params params;
  for (const auto& [k, v] : config.nixl_backend_params) params[k] = v;
  Status s = agent_->CreateBackend(config.nixl_backend, params, &backend_);
  if (!s.ok()) return s.WithContext("extra_config.nixl_backend_params");
  xfer_options_.backend = backend_;

  direct_ = config.use_direct_io;
  slots_ = static_cast<uint32_t>(config.nixl_pool_size);
  page_bytes_ = o.page_bytes;
  prefix_ = PoolPrefix(o.seed, o.worker_id);
  if (!config.IsFileBackend()) {
    return Unsupported("nixl_backend " + config.nixl_backend +
                       " keeps objects, not files; the engine supports file backends so far");
  }
  s = MakeDirs(config.nixl_path);
  if (!s.ok()) return s;
  char* real = ::realpath(config.nixl_path.c_str(), nullptr);
  if (real == nullptr) return ErrnoStatus(errno, "nixl_path '" + config.nixl_path + "'");
  dir_ = real;
  std::free(real);

  // One engine per pool: a second process on the same files would corrupt the index.
  const std::string lock_path = dir_ + "/" + prefix_ + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return ErrnoStatus(errno, "opening '" + lock_path + "'");
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status(Code::kBusy, "another engine is using the pool " + prefix_ + " in " + dir_);
  }

  pages_ = static_cast<uint32_t>(config.nixl_buffer_size / page_bytes_);
  if (pages_ == 0) return InvalidArgument("nixl_buffer_size must hold at least one chunk");
  buffer_len_ = uint64_t{pages_} * page_bytes_ + kHeaderBytes;
  void* mem = nullptr;
  if (::posix_memalign(&mem, kAlign, buffer_len_) != 0) {
    return Status(Code::kNoSpace,
                  "cannot allocate nixl_buffer_size " + std::to_string(buffer_len_) + " bytes");
  }
  buffer_ = static_cast<uint8_t*>(mem);
  std::memset(buffer_ + buffer_len_ - kHeaderBytes, 0, kHeaderBytes);  // the zero page
  RegOptions reg;
  reg.backends = {backend_};
  s = agent_->RegisterMem(MemDescList{MemKind::kDram, {DramDesc(buffer_, buffer_len_)}},
                          &buffer_reg_, reg);
  if (!s.ok()) return s.WithContext("registering nixl buffer");
  XferDescList local{MemKind::kDram, {}};
  for (uint32_t p = 0; p < pages_; ++p) {
    local.descs.push_back({reinterpret_cast<uint64_t>(page(p)), page_bytes_, 0});
  }
  s = agent_->PrepDescList(local, "", &local_prepped_);
  if (!s.ok()) return s;
  base_id_ = (XXH3_64bits(prefix_.data(), prefix_.size()) | 1) << 32;
  return dynamic() ? Status::Ok() : OpenSlots();
}

Status Storage::OpenSlots() {
  MemDescList files{MemKind::kFile, {}};
  XferDescList xfer{MemKind::kFile, {}};
  const FileOpenFlags flags{.write = true, .direct = direct_, .sync = false, .create = true};
  for (uint32_t s = 0; s < slots_; ++s) {
    ChunkLocation loc{s, {}};
    const std::string path = PathOf(loc);
    Status st = CheckPlainFile(path);
    if (st.ok()) st = Preallocate(path, page_bytes_);
    if (!st.ok()) return st;
    files.descs.push_back(FileByPath(path, base_id_ + s, flags));
    xfer.descs.push_back({0, page_bytes_, base_id_ + s});
  }
  RegOptions reg;
  reg.backends = {backend_};
  Status st = agent_->RegisterMem(files, &slots_reg_, reg);
  if (!st.ok()) return st.WithContext("opening pool slots in " + dir_);
  return agent_->PrepDescList(xfer, "", &slot_prepped_);
}

Storage::~Storage() {
  local_prepped_.reset();
  slot_prepped_.reset();
  if (agent_ != nullptr) {
    if (slots_reg_.valid()) (void)agent_->DeregisterMem(slots_reg_);
    if (buffer_reg_.valid()) (void)agent_->DeregisterMem(buffer_reg_);
  }
  owned_agent_.reset();
  std::free(buffer_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string Storage::PathOf(const ChunkLocation& loc) const {
  // Only hex digits and numbers go into the name: no key can escape dir_.
  return dir_ + "/" + (dynamic() ? KeyFileName(prefix_, loc.key) : SlotFileName(prefix_, loc.slot));
}

Status Storage::Begin(XferOp op, const ChunkLocation& loc, uint64_t bytes, PendingIo* io) {
  io->agent_ = agent_;
  io->file_id_ = base_id_ + loc.slot;
  if (!dynamic()) return Status::Ok();
  const std::string path = PathOf(loc);
  Status s = CheckPlainFile(path);
  if (s.ok() && op == XferOp::kWrite) s = Preallocate(path, bytes);
  if (!s.ok()) return s;
  io->file_id_ = base_id_ + (next_file_id_.fetch_add(1) & 0x7fffffff) + 0x80000000u;
  const bool w = op == XferOp::kWrite;
  const FileOpenFlags flags{.write = w, .direct = direct_, .sync = false, .create = w};
  RegOptions reg;
  reg.backends = {backend_};
  return agent_->RegisterMem(MemDescList{MemKind::kFile, {FileByPath(path, io->file_id_, flags)}},
                             &io->file_reg_, reg);
}

Status Storage::Post(XferOp op, uint32_t pg, std::span<const IoRange> ranges, PendingIo* io) {
  std::unique_ptr<Transfer> xfer;
  Status s;
  if (!dynamic() && ranges.size() == 1 && ranges[0].offset == 0 && ranges[0].len == page_bytes_) {
    // A whole page to its slot: made from the prepared lists by index, no descriptor checks.
    const uint32_t li = pg, ri = static_cast<uint32_t>(io->file_id_ - base_id_);
    s = agent_->MakeTransfer(op, *local_prepped_, {&li, 1}, *slot_prepped_, {&ri, 1}, &xfer,
                             xfer_options_);
  } else {
    XferDescList local{MemKind::kDram, {}};
    XferDescList remote{MemKind::kFile, {}};
    for (const IoRange& r : ranges) {
      local.descs.push_back({reinterpret_cast<uint64_t>(page(pg) + r.offset), r.len, 0});
      remote.descs.push_back({r.offset, r.len, io->file_id_});
    }
    s = agent_->CreateTransfer(op, local, remote, "", &xfer, xfer_options_);
  }
  if (!s.ok()) return s;
  s = xfer->Post();
  if (!s.ok()) return s;
  io->xfers_.push_back(std::move(xfer));
  return Status::Ok();
}

Status Storage::Start(XferOp op, uint32_t pg, const ChunkLocation& loc, uint64_t bytes,
                      std::unique_ptr<PendingIo>* out) {
  auto io = std::make_unique<PendingIo>();
  Status s = Begin(op, loc, bytes, io.get());
  if (!s.ok()) return s;
  const IoRange all{0, bytes};
  s = Post(op, pg, {&all, 1}, io.get());
  if (!s.ok()) return s;
  *out = std::move(io);
  return Status::Ok();
}

Status Storage::StartRead(uint32_t pg, const ChunkLocation& loc, uint64_t bytes,
                          std::unique_ptr<PendingIo>* out) {
  return Start(XferOp::kRead, pg, loc, bytes, out);
}

Status Storage::Invalidate(const ChunkLocation& loc) {
  if (dynamic()) {
    const std::string path = PathOf(loc);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "removing '" + path + "'");
    }
    return Status::Ok();
  }
  XferDescList local{
      MemKind::kDram,
      {{reinterpret_cast<uint64_t>(buffer_ + buffer_len_ - kHeaderBytes), kHeaderBytes, 0}}};
  XferDescList remote{MemKind::kFile, {{0, kHeaderBytes, base_id_ + loc.slot}}};
  PendingIo io;
  io.agent_ = agent_;
  std::unique_ptr<Transfer> xfer;
  Status s = agent_->CreateTransfer(XferOp::kWrite, local, remote, "", &xfer, xfer_options_);
  if (!s.ok()) return s;
  s = xfer->Post();
  io.xfers_.push_back(std::move(xfer));  // released by Wait or the destructor either way
  if (!s.ok()) return s;
  return io.Wait();
}
}  // namespace ferry::kv
