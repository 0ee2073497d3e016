// ferry-kv ls / verify / clear: inspect every Ferry chunk file under nixl_path, whatever
// model or rank wrote it. Reads go through the agent like the engine's; listing and
// deleting use the filesystem directly (the agent API has no list/delete).
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "ferry/kv/engine.h"
#include "slot_format.h"

namespace ferry::kv {
namespace {

struct Entry {
  std::string name;
  uint64_t size;
};

Status ListFerryFiles(const std::string& dir, std::vector<Entry>* out, bool include_locks) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, "listing nixl_path '" + dir + "'");
  const std::string prefix = kFilePrefix;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const bool lock = name.size() > 5 && name.compare(name.size() - 5, 5, ".lock") == 0;
    if (lock && !include_locks) continue;
    struct stat sb;
    if (::lstat((dir + "/" + name).c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
    out->push_back({name, static_cast<uint64_t>(sb.st_size)});
  }
  ::closedir(d);
  std::sort(out->begin(), out->end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return Status::Ok();
}

// A scratch buffer registered with the agent, regrown as larger chunks turn up.
class ScanBuffer {
 public:
  ScanBuffer(Agent* agent, BackendId backend) : agent_(agent), backend_(backend) {}
  ~ScanBuffer() { Reset(); }
  Status Ensure(uint64_t len) {
    if (len <= len_) return Status::Ok();
    Reset();
    void* mem = nullptr;
    if (::posix_memalign(&mem, kAlign, len) != 0) {
      return Status(Code::kNoSpace, "cannot allocate " + std::to_string(len) + " bytes");
    }
    ptr_ = static_cast<uint8_t*>(mem);
    len_ = len;
    RegOptions reg;
    reg.backends = {backend_};
    return agent_->RegisterMem(MemDescList{MemKind::kDram, {DramDesc(ptr_, len_)}}, &reg_, reg);
  }
  uint8_t* data() const { return ptr_; }

 private:
  void Reset() {
    if (reg_.valid()) (void)agent_->DeregisterMem(reg_);
    reg_ = {};
    std::free(ptr_);
    ptr_ = nullptr;
    len_ = 0;
  }
  Agent* agent_;
  BackendId backend_;
  uint8_t* ptr_ = nullptr;
  uint64_t len_ = 0;
  RegHandle reg_;
};

Status ReadFile(Agent* agent, BackendId backend, const std::string& path, bool direct, uint8_t* dst,
                uint64_t len) {
  constexpr uint64_t kId = 1;
  RegHandle h;
  RegOptions reg;
  reg.backends = {backend};
  Status s = agent->RegisterMem(
      MemDescList{MemKind::kFile, {FileByPath(path, kId, FileOpenFlags{.direct = direct})}}, &h,
      reg);
  if (!s.ok()) return s;
  std::unique_ptr<Transfer> x;
  XferOptions xo;
  xo.backend = backend;
  s = agent->CreateTransfer(
      XferOp::kRead, XferDescList{MemKind::kDram, {{reinterpret_cast<uint64_t>(dst), len, 0}}},
      XferDescList{MemKind::kFile, {{0, len, kId}}}, "", &x, xo);
  if (s.ok()) s = x->Post();
  if (s.ok()) s = x->Wait(std::chrono::seconds(120));
  x.reset();
  (void)agent->DeregisterMem(h);
  return s;
}

}  // namespace

Status ScanStore(const Config& config, bool verify, ScanReport* report) {
  *report = {};
  if (!config.IsFileBackend()) {
    return Unsupported("ls/verify need a file backend; nixl_backend is " + config.nixl_backend);
  }
  std::vector<Entry> files;
  Status s = ListFerryFiles(config.nixl_path, &files, false);
  if (!s.ok()) return s;
  std::unique_ptr<Agent> agent;
  s = Agent::Create("ferry-kv-scan", AgentConfig{}, &agent);
  if (!s.ok()) return s;
  Params params(config.nixl_backend_params.begin(), config.nixl_backend_params.end());
  BackendId backend;
  s = agent->CreateBackend(config.nixl_backend, params, &backend);
  if (!s.ok()) return s.WithContext("extra_config.nixl_backend_params");
  ScanBuffer buf(agent.get(), backend);
  s = buf.Ensure(kHeaderBytes);
  if (!s.ok()) return s;

  for (const Entry& f : files) {
    const std::string path = config.nixl_path + "/" + f.name;
    if (f.size < kHeaderBytes) {
      ++report->empty_slots;  // a slot opened but never written
      continue;
    }
    ScannedChunk c;
    c.file = f.name;
    s = ReadFile(agent.get(), backend, path, config.use_direct_io, buf.data(), kHeaderBytes);
    if (!s.ok()) {
      c.problem = "unreadable: " + s.message();
      report->chunks.push_back(c);
      continue;
    }
    ChunkHeader h;
    s = DecodeHeader(buf.data(), &h);
    if (s.code() == Code::kNotFound) {
      ++report->empty_slots;
      continue;
    }
    if (!s.ok()) {
      c.problem = s.message();
      report->chunks.push_back(c);
      continue;
    }
    c.model_name = h.model_name;
    c.payload_bytes = h.payload_bytes;
    c.tokens = h.tokens;
    const size_t k = f.name.rfind(kKeyFileMarker);
    if (k != std::string::npos && f.name.substr(k + kKeyFileMarker.size()) != h.key.Hex()) {
      c.problem = "header key does not match the file name";
    } else if (f.size < StoredBytes(h.payload_bytes)) {
      c.problem = "file shorter than the chunk its header describes (torn write)";
    } else {
      c.header_ok = true;
    }
    if (verify && c.header_ok) {
      s = buf.Ensure(StoredBytes(h.payload_bytes));
      if (s.ok()) {
        s = ReadFile(agent.get(), backend, path, config.use_direct_io, buf.data(),
                     StoredBytes(h.payload_bytes));
      }
      if (!s.ok()) {
        c.problem = "unreadable: " + s.message();
      } else if (PayloadChecksum(buf.data() + kHeaderBytes, h.payload_bytes) !=
                 h.payload_checksum) {
        c.problem = "payload checksum mismatch";
      } else {
        c.payload_ok = true;
      }
    }
    report->chunks.push_back(std::move(c));
  }
  return Status::Ok();
}

Status ClearStore(const Config& config, uint64_t* removed) {
  *removed = 0;
  if (!config.IsFileBackend()) {
    return Unsupported("clear needs a file backend; nixl_backend is " + config.nixl_backend);
  }
  std::vector<Entry> files;
  Status s = ListFerryFiles(config.nixl_path, &files, true);
  if (!s.ok()) return s;
  // Refuse while an engine holds a pool: deleting its files under it would lose data
  // it believes stored.
  for (const Entry& f : files) {
    if (f.name.size() < 5 || f.name.compare(f.name.size() - 5, 5, ".lock") != 0) continue;
    const std::string path = config.nixl_path + "/" + f.name;
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    const bool busy = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    ::close(fd);
    if (busy) return Status(Code::kBusy, "'" + path + "' is held by a running engine");
  }
  for (const Entry& f : files) {
    const std::string path = config.nixl_path + "/" + f.name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return ErrnoStatus(errno, "removing '" + path + "'");
    ++*removed;
  }
  return Status::Ok();
}

}  // namespace ferry::kv
