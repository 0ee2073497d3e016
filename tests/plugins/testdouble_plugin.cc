// TESTDOUBLE: a test double plugin, loaded only by the tests (it is built into
// build/test-plugins, never beside libferry). It exists to exercise the core's side of the
// SDK where no real backend can be steered: capability filtering and fall-through, per-
// transfer arguments, DestroyBackend, optional interfaces, and Drive/Kick races.
//
// Moves:   DRAM->FILE write (the bytes are counted and dropped: nothing touches a file)
//          DRAM->OBJ read/write (objects live in a map inside the backend)
// Storage: OBJ namespace (Query with an ETag, Remove, List by prefix).
// Memory:  AllocMem(DRAM) filled with 0xAB, so a test can tell it from the system's zeros.
// Params:  refuse_over (size, 0)       Prepare answers kUnsupported above this many bytes
//          complete_delay_ms (int, 0)  complete on a thread after this long; 0 = inside Post
//          drive (bool, false)         support Drive/Kick
//          drive_linger_ms (int, 0)    Drive returns no sooner than this after it began
//          destroy_delay_ms (int, 0)   the destructor sleeps this long
// Per-transfer arguments: "fail_with" = a status code name: the post completes with that
// code and a message naming the stream pointer. Any other key is refused.
// ferry_testdouble_kicks_while_destroying() (C symbol): Kicks seen while a backend was
// being destroyed, a use-after-free in the making.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ferry/backend.h"

namespace {

using namespace ferry;
using Clock = std::chrono::steady_clock;

std::atomic<int> g_kicks_while_destroying{0};

struct FileMd {
  uint64_t dev_id;
};
struct ObjMd {
  std::string key;
};
struct DramMd {};

struct Request final : BackendRequest {
  XferOp op;
  MemKind target;
  std::vector<IoSegment> segs;
  Code fail_with = Code::kOk;
  std::string fail_message;
};

Code CodeFromName(const std::string& name, bool* ok) {
  for (int c = 0; c <= int(Code::kShutdown); ++c) {
    if (name == CodeName(Code(c))) {
      *ok = true;
      return Code(c);
    }
  }
  *ok = false;
  return Code::kOk;
}

class TestDoubleBackend final : public Backend, StorageNamespace, MemoryAllocator {
 public:
  TestDoubleBackend(uint64_t refuse_over, int64_t complete_delay_ms, bool drive,
                    int64_t drive_linger_ms, int64_t destroy_delay_ms, std::string decline_files)
      : decline_files_(std::move(decline_files)),
        refuse_over_(refuse_over),
        complete_delay_(complete_delay_ms),
        drive_(drive),
        drive_linger_(drive_linger_ms),
        destroy_delay_(destroy_delay_ms) {}

  ~TestDoubleBackend() override {
    destroying_.store(true);
    std::this_thread::sleep_for(destroy_delay_);
    std::vector<std::thread> threads;
    {
      std::lock_guard lk(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  Status RegisterMem(MemKind kind, const MemDesc& desc, void** md) override {
    switch (kind) {
      case MemKind::kDram:
        *md = new DramMd{};
        return Status::Ok();
      case MemKind::kFile:
        // As GDS declines a file on tmpfs: not an error, just not this backend's file.
        if (!decline_files_.empty() && desc.meta.find(decline_files_) != std::string::npos)
          return Unsupported("TESTDOUBLE declines files named like '" + decline_files_ + "'");
        *md = new FileMd{desc.dev_id};
        return Status::Ok();
      case MemKind::kObj:
        if (desc.meta.empty()) return InvalidArgument("OBJ registration needs a key in meta");
        *md = new ObjMd{desc.meta};
        return Status::Ok();
      default:
        return Unsupported("TESTDOUBLE does not register " + std::string(MemKindName(kind)));
    }
  }
  void DeregisterMem(MemKind kind, void* md) override {
    if (kind == MemKind::kDram) delete static_cast<DramMd*>(md);
    if (kind == MemKind::kFile) delete static_cast<FileMd*>(md);
    if (kind == MemKind::kObj) delete static_cast<ObjMd*>(md);
  }

  Status Prepare(const PrepareSpec& spec, std::span<const IoSegment> segments,
                 std::unique_ptr<BackendRequest>* out) override {
    uint64_t bytes = 0;
    for (const auto& s : segments) bytes += s.len;
    if (refuse_over_ > 0 && bytes > refuse_over_)
      return Unsupported("TESTDOUBLE refuses " + std::to_string(bytes) + " bytes (refuse_over)");
    auto req = std::make_unique<Request>();
    for (const auto& [k, v] : spec.args.params) {
      if (k != "fail_with")
        return InvalidArgument("TESTDOUBLE: unknown transfer argument '" + k + "'");
      bool ok = false;
      req->fail_with = CodeFromName(v, &ok);
      if (!ok) return InvalidArgument("TESTDOUBLE: fail_with '" + v + "' is not a status code");
      char stream[32];
      std::snprintf(stream, sizeof stream, "%p", spec.args.stream);
      req->fail_message = std::string("failed as asked, stream ") + stream;
    }
    req->op = spec.op;
    req->target = spec.target_kind;
    req->segs.assign(segments.begin(), segments.end());
    *out = std::move(req);
    return Status::Ok();
  }

  Status Post(BackendRequest* request, CompletionSink* sink) override {
    auto* req = static_cast<Request*>(request);
    if (complete_delay_.count() == 0) {
      sink->Complete(Run(*req));
      return Status::Ok();
    }
    std::lock_guard lk(mu_);
    threads_.emplace_back([this, req, sink] {
      std::unique_lock l(cancel_mu_);
      cancel_cv_.wait_for(l, complete_delay_, [&] { return cancelled_ == req; });
      const bool cancelled = cancelled_ == req;
      if (cancelled) cancelled_ = nullptr;
      l.unlock();
      sink->Complete(cancelled ? Status(Code::kCancelled, "cancelled") : Run(*req));
      Kick();
    });
    return Status::Ok();
  }

  void Cancel(BackendRequest* request) override {
    {
      std::lock_guard l(cancel_mu_);
      cancelled_ = request;
    }
    cancel_cv_.notify_all();
  }

  bool Drive(Clock::time_point deadline, const std::function<bool()>& done) override {
    if (!drive_) return false;
    const auto linger_until = Clock::now() + drive_linger_;
    std::unique_lock lk(drive_mu_);
    for (;;) {
      const bool finished = done();
      const auto now = Clock::now();
      if ((finished && now >= linger_until) || now >= deadline) return true;
      drive_cv_.wait_until(
          lk, std::min(deadline, finished ? linger_until : now + std::chrono::milliseconds(5)));
    }
  }
  void Kick() override {
    if (destroying_.load()) g_kicks_while_destroying.fetch_add(1);
    drive_cv_.notify_all();
  }

  StorageNamespace* storage() override { return this; }
  MemoryAllocator* allocator() override { return this; }

  Status Query(MemKind kind, std::span<const MemDesc> descs,
               std::vector<QueryResult>* out) override {
    if (kind != MemKind::kObj) return Unsupported("TESTDOUBLE answers OBJ queries only");
    std::lock_guard lk(mu_);
    out->assign(descs.size(), QueryResult{});
    for (size_t i = 0; i < descs.size(); ++i) {
      auto it = objects_.find(descs[i].meta);
      if (it != objects_.end()) (*out)[i] = Info(it->second);
    }
    return Status::Ok();
  }
  Status Remove(MemKind kind, std::span<const MemDesc> descs) override {
    if (kind != MemKind::kObj) return Unsupported("TESTDOUBLE removes OBJ only");
    std::lock_guard lk(mu_);
    for (const auto& d : descs) objects_.erase(d.meta);
    return Status::Ok();
  }
  Status List(MemKind kind, std::string_view prefix, std::vector<ListEntry>* out) override {
    if (kind != MemKind::kObj) return Unsupported("TESTDOUBLE lists OBJ only");
    std::lock_guard lk(mu_);
    for (auto it = objects_.lower_bound(std::string(prefix));
         it != objects_.end() && it->first.starts_with(prefix); ++it)
      out->push_back({it->first, Info(it->second)});
    return Status::Ok();
  }

  Status AllocMem(MemKind kind, uint64_t len, uint64_t dev_id, void** addr) override {
    (void)dev_id;
    if (kind != MemKind::kDram) return Unsupported("TESTDOUBLE allocates DRAM only");
    void* p = ::operator new(len, std::align_val_t(4096));
    std::memset(p, 0xAB, len);
    *addr = p;
    return Status::Ok();
  }
  void FreeMem(MemKind kind, void* addr, uint64_t len, uint64_t dev_id) override {
    (void)kind, (void)len, (void)dev_id;
    ::operator delete(addr, std::align_val_t(4096));
  }

 private:
  static QueryResult Info(const std::string& bytes) {
    QueryResult r;
    r.exists = true;
    r.size = bytes.size();
    r.etag = std::to_string(std::hash<std::string>{}(bytes));
    return r;
  }

  Status Run(Request& req) {
    if (req.fail_with != Code::kOk) return {req.fail_with, req.fail_message};
    if (req.target != MemKind::kObj) return Status::Ok();  // FILE writes are dropped
    std::lock_guard lk(mu_);
    for (const auto& s : req.segs) {
      const std::string& key = static_cast<const ObjMd*>(s.target_md)->key;
      auto* mem = reinterpret_cast<char*>(s.local_addr);
      if (req.op == XferOp::kWrite) {
        std::string& obj = objects_[key];
        if (obj.size() < s.target_addr + s.len) obj.resize(s.target_addr + s.len);
        std::memcpy(obj.data() + s.target_addr, mem, s.len);
      } else {
        auto it = objects_.find(key);
        if (it == objects_.end()) return NotFound("object '" + key + "' does not exist");
        if (it->second.size() < s.target_addr + s.len)
          return {Code::kOutOfRange, "read past the end of object '" + key + "'"};
        std::memcpy(mem, it->second.data() + s.target_addr, s.len);
      }
    }
    return Status::Ok();
  }

  const std::string decline_files_;
  const uint64_t refuse_over_;
  const std::chrono::milliseconds complete_delay_;
  const bool drive_;
  const std::chrono::milliseconds drive_linger_;
  const std::chrono::milliseconds destroy_delay_;
  std::atomic<bool> destroying_{false};
  std::mutex mu_;
  std::map<std::string, std::string> objects_;
  std::vector<std::thread> threads_;
  std::mutex cancel_mu_;
  std::condition_variable cancel_cv_;
  BackendRequest* cancelled_ = nullptr;
  std::mutex drive_mu_;
  std::condition_variable drive_cv_;
};

class TestDoubleSpec final : public PluginSpec {
 public:
  const char* name() const override { return "TESTDOUBLE"; }
  const char* version() const override { return "test"; }
  std::vector<Capability> capabilities() const override {
    return {{MemKind::kDram, MemKind::kFile, false, true},
            {MemKind::kDram, MemKind::kObj, true, true}};
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"refuse_over", ParamType::kSize, "0", "refuse requests over this many bytes", {}, {}},
        {"complete_delay_ms", ParamType::kInt, "0", "complete after this long on a thread", {}, {}},
        {"drive", ParamType::kBool, "false", "support Drive/Kick", {}, {}},
        {"drive_linger_ms", ParamType::kInt, "0", "Drive lasts at least this long", {}, {}},
        {"destroy_delay_ms", ParamType::kInt, "0", "the destructor sleeps this long", {}, {}},
        {"token", ParamType::kSecret, "", "a credential, for the no-echo tests", {}, {}},
        {"decline_files", ParamType::kString, "", "decline FILE registrations naming this", {}, {}},
    };
  }
  Status Create(const ParamValues& p, std::unique_ptr<Backend>* out) const override {
    *out = std::make_unique<TestDoubleBackend>(
        p.GetSize("refuse_over"), p.GetInt("complete_delay_ms"), p.GetBool("drive"),
        p.GetInt("drive_linger_ms"), p.GetInt("destroy_delay_ms"), p.GetString("decline_files"));
    return Status::Ok();
  }
};

}  // namespace

FERRY_DEFINE_PLUGIN(TestDoubleSpec)

extern "C" __attribute__((visibility("default"))) int ferry_testdouble_kicks_while_destroying() {
  return g_kicks_while_destroying.load();
}
