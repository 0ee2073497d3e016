// ferry._ferry.Agent and Transfer: the agent API over normalized descriptor arrays. The
// Python layer (ferry/__init__.py) turns numpy arrays, buffers, tensors and tuples into
// an N x 3 uint64 array (addr, len, dev) plus, for registration, a list of meta strings;
// here each becomes one descriptor without a Python call per descriptor. Every call that
// can block releases the GIL.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <chrono>
#include <memory>

#include "bindings.h"
#include "errors.h"
#include "ferry/agent.h"
#include "ferry/completion_queue.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace ferry::py {
namespace {

using Rows = nb::ndarray<const uint64_t, nb::shape<-1, 3>, nb::c_contig, nb::device::cpu>;
using Indices = nb::ndarray<const uint32_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

MemKind KindOf(const std::string& name) {
  std::optional<MemKind> k = ParseMemKind(name);
  if (!k)
    throw StatusError{
        InvalidArgument("unknown memory kind '" + name + "' (DRAM, VRAM, FILE, OBJ, BLK)")};
  return *k;
}

XferOp OpOf(const std::string& name) {
  if (name == "READ") return XferOp::kRead;
  if (name == "WRITE") return XferOp::kWrite;
  throw StatusError{InvalidArgument("operation must be 'READ' or 'WRITE', got '" + name + "'")};
}

XferDescList XferList(const std::string& kind, const Rows& rows) {
  XferDescList l{KindOf(kind), {}};
  l.descs.resize(rows.shape(0));
  const uint64_t* p = rows.data();
  for (size_t i = 0; i < l.descs.size(); ++i) l.descs[i] = {p[3 * i], p[3 * i + 1], p[3 * i + 2]};
  return l;
}

MemDescList MemList(const std::string& kind, const Rows& rows,
                    const std::vector<std::string>& metas) {
  if (!metas.empty() && metas.size() != rows.shape(0)) {
    throw StatusError{InvalidArgument("registration: " + std::to_string(rows.shape(0)) +
                                      " descriptors but " + std::to_string(metas.size()) +
                                      " meta strings")};
  }
  MemDescList l{KindOf(kind), {}};
  l.descs.resize(rows.shape(0));
  const uint64_t* p = rows.data();
  for (size_t i = 0; i < l.descs.size(); ++i) {
    l.descs[i] = {p[3 * i], p[3 * i + 1], p[3 * i + 2], metas.empty() ? "" : metas[i]};
  }
  return l;
}

MemDescList Names(const std::string& kind, const std::vector<std::string>& names) {
  MemDescList l{KindOf(kind), {}};
  for (const auto& n : names)
    l.descs.push_back(l.kind == MemKind::kObj ? ObjectKey(n) : FileName(n));
  return l;
}

nb::dict InfoDict(const QueryResult& q) {
  nb::dict d;
  d["size"] = q.size;
  d["mtime_ns"] = q.mtime_ns;
  d["etag"] = q.etag;
  static const char* kTypes[] = {"regular", "directory", "symlink", "other"};
  d["type"] = kTypes[static_cast<int>(q.type)];
  d["available"] = q.available;
  return d;
}

// A transfer the Python object owns; released (and so never used again) on release() or
// when the object goes.
class PyTransfer {
 public:
  explicit PyTransfer(std::unique_ptr<Transfer> t) : t_(std::move(t)) {}
  Transfer& get() {
    if (!t_) throw StatusError{Status(Code::kReleased, "transfer was released")};
    return *t_;
  }
  void Post() { Check(get().Post()); }
  // True once done; raises for a failed transfer.
  bool Done() {
    Status s = get().Check();
    if (s.code() == Code::kInProgress) return false;
    Check(s);
    return true;
  }
  // A transfer that is already done (an inline POSIX request is, when Post returns) is
  // answered without giving up the GIL: that round trip is most of a small transfer's
  // Python cost. Only a real wait releases it.
  void Wait(std::optional<double> timeout_s) {
    Transfer& t = get();
    Status now = t.Check();
    if (now.code() != Code::kInProgress) return Check(now);
    const auto limit = timeout_s ? std::chrono::nanoseconds(static_cast<int64_t>(*timeout_s * 1e9))
                                 : std::chrono::nanoseconds(std::chrono::hours(24 * 365));
    Status s;
    {
      nb::gil_scoped_release unlocked;
      s = t.Wait(limit);
    }
    Check(s);
  }
  // Post and wait in one call: a small synchronous transfer crosses into C++ once.
  void Run(std::optional<double> timeout_s) {
    Transfer& t = get();
    Status s;
    {
      nb::gil_scoped_release unlocked;
      s = t.Post();
      if (s.ok()) {
        s = t.Check();
        if (s.code() == Code::kInProgress) {
          s = t.Wait(timeout_s ? std::chrono::nanoseconds(static_cast<int64_t>(*timeout_s * 1e9))
                               : std::chrono::nanoseconds(std::chrono::hours(24 * 365)));
        }
      }
    }
    Check(s);
  }
  void Cancel() { Check(get().Cancel()); }
  int Fd() {
    int fd = -1;
    Check(get().CompletionFd(&fd));
    return fd;
  }
  void Release() {
    if (!t_) return;
    Status s = t_->Release();
    t_.reset();
    Check(s);
  }
  nb::dict Telemetry() {
    const TransferTelemetry t = get().telemetry();
    nb::dict d;
    d["bytes"] = t.bytes;
    d["descriptors"] = t.descriptors;
    d["posts"] = t.posts;
    d["post_us"] = t.post_time.count() / 1e3;
    d["transfer_us"] = t.transfer_time.count() / 1e3;
    return d;
  }
  uint32_t Backend() { return get().backend().value; }
  // bench/python_overhead.py's C++ baseline in this process, on this transfer: `n` times
  // Post then Wait, as bench/xfer_overhead.cc does, without the GIL. Nanoseconds per post.
  double RepostLoop(uint32_t n) {
    Transfer& t = get();
    if (n == 0) throw StatusError{InvalidArgument("_repost_loop: iterations must be > 0")};
    Status s;
    std::chrono::steady_clock::time_point t0, t1;
    {
      nb::gil_scoped_release unlocked;
      t0 = std::chrono::steady_clock::now();
      for (uint32_t i = 0; i < n && s.ok(); ++i) {
        s = t.Post();
        if (s.ok()) s = t.Wait(std::chrono::seconds(10));
      }
      t1 = std::chrono::steady_clock::now();
    }
    Check(s);
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
  }

 private:
  std::unique_ptr<Transfer> t_;
};

// Completions of transfers created with this queue, by tag.
class PyQueue {
 public:
  PyQueue() : q_(CompletionQueue::Create()) {}
  const std::shared_ptr<CompletionQueue>& get() const { return q_; }
  std::vector<uint64_t> Wait(std::optional<double> timeout_s, size_t max) {
    std::vector<uint64_t> out;
    const auto t = timeout_s ? std::chrono::nanoseconds(static_cast<int64_t>(*timeout_s * 1e9))
                             : std::chrono::nanoseconds(std::chrono::hours(24 * 365));
    nb::gil_scoped_release unlocked;
    q_->Wait(&out, t, max == 0 ? SIZE_MAX : max);
    return out;
  }
  std::vector<uint64_t> Poll(size_t max) {
    std::vector<uint64_t> out;
    q_->Poll(&out, max == 0 ? SIZE_MAX : max);
    return out;
  }
  size_t Size() const { return q_->size(); }

 private:
  std::shared_ptr<CompletionQueue> q_;
};

// `stream`: a cudaStream_t as an integer (0: the backend's own); `params`: the backend's
// per-transfer parameters (ferry/transfer.h XferArgs).
XferOptions Options(uint32_t backend, const PyQueue* queue, uint64_t tag, uint64_t stream,
                    const std::map<std::string, std::string>& params) {
  XferOptions o;
  o.backend = BackendId{backend};
  if (queue != nullptr) o.completion_queue = queue->get();
  o.tag = tag;
  o.args.stream = reinterpret_cast<void*>(static_cast<uintptr_t>(stream));
  o.args.params.insert(params.begin(), params.end());
  return o;
}

class PyPrepped {
 public:
  explicit PyPrepped(std::shared_ptr<const PreppedList> p) : p_(std::move(p)) {}
  const PreppedList& get() const {
    if (!p_) throw StatusError{Status(Code::kReleased, "prepared list was released")};
    return *p_;
  }
  void Release() { p_.reset(); }

 private:
  std::shared_ptr<const PreppedList> p_;
};

class PyAgent {
 public:
  PyAgent(const std::string& name, const std::string& plugin_dir) {
    AgentConfig c;
    c.plugin_dir = plugin_dir;
    Check(Agent::Create(name, c, &agent_));
  }
  Agent& get() { return *agent_; }

  nb::list Plugins() {
    nb::list out;
    for (const PluginInfo& p : agent_->ListPlugins()) {
      nb::dict d;
      d["name"] = p.name;
      d["version"] = p.version;
      d["path"] = p.path;
      d["usable"] = p.usable;
      d["error"] = p.error;
      nb::list caps;
      for (const Capability& c : p.capabilities) {
        caps.append(nb::make_tuple(std::string(MemKindName(c.local)),
                                   std::string(MemKindName(c.target)), c.read, c.write));
      }
      d["capabilities"] = caps;
      nb::dict params;
      for (const ParamSpec& s : p.params) {
        nb::dict ps;
        ps["type"] = std::string(ParamTypeName(s.type));
        ps["default"] = s.default_value;
        ps["doc"] = s.doc;
        ps["choices"] = s.choices;
        params[s.name.c_str()] = ps;
      }
      d["params"] = params;
      out.append(d);
    }
    return out;
  }

  uint32_t CreateBackend(const std::string& plugin, const std::map<std::string, std::string>& p) {
    Params params(p.begin(), p.end());
    BackendId id;
    Status s;
    {
      nb::gil_scoped_release unlocked;
      s = agent_->CreateBackend(plugin, params, &id);
    }
    Check(s);
    return id.value;
  }

  void DestroyBackend(uint32_t b) {
    nb::gil_scoped_release unlocked;
    Check(agent_->DestroyBackend(BackendId{b}));
  }

  uint64_t Register(const std::string& kind, const Rows& rows,
                    const std::vector<std::string>& metas, const std::vector<uint32_t>& backends) {
    MemDescList list = MemList(kind, rows, metas);
    RegOptions o;
    for (uint32_t b : backends) o.backends.push_back(BackendId{b});
    RegHandle h;
    nb::gil_scoped_release unlocked;
    Check(agent_->RegisterMem(list, &h, o));
    return h.value;
  }

  void Deregister(uint64_t handle) {
    nb::gil_scoped_release unlocked;
    Check(agent_->DeregisterMem(RegHandle{handle}));
  }

  nb::list Query(const std::string& kind, const std::vector<std::string>& names, uint32_t backend) {
    std::vector<QueryResult> r;
    {
      MemDescList list = Names(kind, names);
      nb::gil_scoped_release unlocked;
      Check(agent_->QueryMem(list, &r, BackendId{backend}));
    }
    nb::list out;
    for (const QueryResult& q : r) out.append(q.exists ? nb::object(InfoDict(q)) : nb::none());
    return out;
  }

  void Remove(const std::string& kind, const std::vector<std::string>& names, uint32_t backend) {
    MemDescList list = Names(kind, names);
    nb::gil_scoped_release unlocked;
    Check(agent_->RemoveMem(list, BackendId{backend}));
  }

  nb::list List(const std::string& kind, const std::string& prefix, uint32_t backend) {
    std::vector<ListEntry> r;
    {
      const MemKind k = KindOf(kind);
      nb::gil_scoped_release unlocked;
      Check(agent_->ListMem(k, prefix, &r, BackendId{backend}));
    }
    nb::list out;
    for (const ListEntry& e : r) {
      nb::dict d = InfoDict(e.info);
      d["name"] = e.name;
      out.append(d);
    }
    return out;
  }

  uint64_t Alloc(const std::string& kind, uint64_t len, uint64_t dev, uint32_t backend) {
    const MemKind k = KindOf(kind);
    void* p = nullptr;
    nb::gil_scoped_release unlocked;
    Check(agent_->AllocMem(k, len, dev, &p, BackendId{backend}));
    return reinterpret_cast<uint64_t>(p);
  }

  void Free(uint64_t addr) {
    nb::gil_scoped_release unlocked;
    Check(agent_->FreeMem(reinterpret_cast<void*>(addr)));
  }

  PyTransfer* CreateTransfer(const std::string& op, const std::string& local_kind,
                             const Rows& local, const std::string& target_kind, const Rows& target,
                             const std::string& target_name, uint32_t backend, const PyQueue* queue,
                             uint64_t tag, uint64_t stream,
                             const std::map<std::string, std::string>& params) {
    const XferOp o = OpOf(op);
    XferDescList l = XferList(local_kind, local), t = XferList(target_kind, target);
    const XferOptions opt = Options(backend, queue, tag, stream, params);
    std::unique_ptr<Transfer> x;
    {
      nb::gil_scoped_release unlocked;
      Check(agent_->CreateTransfer(o, l, t, target_name, &x, opt));
    }
    return new PyTransfer(std::move(x));
  }

  PyPrepped* Prep(const std::string& kind, const Rows& rows, const std::string& target_name) {
    XferDescList l = XferList(kind, rows);
    std::shared_ptr<const PreppedList> p;
    {
      nb::gil_scoped_release unlocked;
      Check(agent_->PrepDescList(l, target_name, &p));
    }
    return new PyPrepped(std::move(p));
  }

  PyTransfer* MakeTransfer(const std::string& op, const PyPrepped& local, const Indices& li,
                           const PyPrepped& target, const Indices& ti, uint32_t backend,
                           const PyQueue* queue, uint64_t tag, uint64_t stream,
                           const std::map<std::string, std::string>& params) {
    const XferOp o = OpOf(op);
    const XferOptions opt = Options(backend, queue, tag, stream, params);
    std::unique_ptr<Transfer> x;
    {
      nb::gil_scoped_release unlocked;
      Check(agent_->MakeTransfer(o, local.get(), {li.data(), li.shape(0)}, target.get(),
                                 {ti.data(), ti.shape(0)}, &x, opt));
    }
    return new PyTransfer(std::move(x));
  }

 private:
  std::unique_ptr<Agent> agent_;
};

}  // namespace

void DefineAgent(nb::module_& m) {
  nb::class_<PyTransfer>(m, "Transfer", "A transfer: post(), done(), wait(), release().")
      .def("post", &PyTransfer::Post, nb::call_guard<nb::gil_scoped_release>(),
           "Starts the transfer (again, once it finished).")
      .def("done", &PyTransfer::Done, "True once finished (never blocks); raises if it failed.")
      .def("wait", &PyTransfer::Wait, "timeout_s"_a = nb::none(),
           "Blocks until finished (without the GIL); raises on failure.")
      .def("run", &PyTransfer::Run, "timeout_s"_a = nb::none(),
           "post() and wait() in one call (without the GIL); raises on failure.")
      .def("cancel", &PyTransfer::Cancel, nb::call_guard<nb::gil_scoped_release>())
      .def("fd", &PyTransfer::Fd, "A file descriptor that becomes readable on completion.")
      .def("release", &PyTransfer::Release, nb::call_guard<nb::gil_scoped_release>())
      .def("telemetry", &PyTransfer::Telemetry)
      .def_prop_ro("backend", &PyTransfer::Backend)
      .def("_repost_loop", &PyTransfer::RepostLoop, "iterations"_a,
           "Benchmark baseline: post() + wait() n times in C++; ns per post.");
  nb::class_<PyPrepped>(m, "PreppedList").def("release", &PyPrepped::Release);
  nb::class_<PyQueue>(m, "CompletionQueue",
                      "Tags of finished transfers created with queue=this (in any order).")
      .def(nb::init<>())
      .def("wait", &PyQueue::Wait, "timeout_s"_a = nb::none(), "max"_a = 0,
           "Blocks (without the GIL) until at least one completion or the timeout; returns "
           "the tags collected.")
      .def("poll", &PyQueue::Poll, "max"_a = 0, "The tags already there; never blocks.")
      .def("__len__", &PyQueue::Size);
  nb::class_<PyAgent>(m, "Agent")
      .def(nb::init<const std::string&, const std::string&>(), "name"_a, "plugin_dir"_a = "")
      .def_prop_ro("name", [](PyAgent& a) { return a.get().name(); })
      .def("plugins", &PyAgent::Plugins)
      .def("create_backend", &PyAgent::CreateBackend, "plugin"_a,
           "params"_a = std::map<std::string, std::string>{})
      .def("destroy_backend", &PyAgent::DestroyBackend)
      .def("_register", &PyAgent::Register)
      .def("deregister", &PyAgent::Deregister)
      .def("_query", &PyAgent::Query)
      .def("_remove", &PyAgent::Remove)
      .def("_list", &PyAgent::List)
      .def("alloc", &PyAgent::Alloc, "kind"_a, "length"_a, "device"_a = 0, "backend"_a = 0)
      .def("free", &PyAgent::Free)
      .def("_transfer", &PyAgent::CreateTransfer, "op"_a, "local_kind"_a, "local"_a,
           "target_kind"_a, "target"_a, "target_name"_a, "backend"_a, "queue"_a.none(), "tag"_a,
           "stream"_a = 0, "params"_a = std::map<std::string, std::string>{},
           nb::rv_policy::take_ownership)
      .def("_prep", &PyAgent::Prep, nb::rv_policy::take_ownership)
      .def("_make_transfer", &PyAgent::MakeTransfer, "op"_a, "local"_a, "local_indices"_a,
           "target"_a, "target_indices"_a, "backend"_a, "queue"_a.none(), "tag"_a, "stream"_a = 0,
           "params"_a = std::map<std::string, std::string>{}, nb::rv_policy::take_ownership);
}

}  // namespace ferry::py
