// ferry._ferry.KvConfig and KvEngine: the KV engine with its LMCache configuration. KV
// memory arrives as an address and a token capacity (ferry/kv.py derives both from numpy
// arrays, buffers and tensors); tokens as a 1-D int32 array. Store, retrieve and lookup
// release the GIL.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>

#include "bindings.h"
#include "errors.h"
#include "ferry/kv/config.h"
#include "ferry/kv/engine.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace ferry::py {
namespace {

using Tokens = nb::ndarray<const int32_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

std::span<const int32_t> Span(const Tokens& t) {
  return {t.data(), t.shape(0)};
}

kv::ChunkKey ParseKey(const std::string& hex) {
  kv::ChunkKey k;
  auto digits = [&](size_t from, uint64_t* out) {
    uint64_t v = 0;
    for (size_t i = from; i < from + 16; ++i) {
      const char c = hex[i];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return false;
      v = v << 4 | uint64_t(d);
    }
    *out = v;
    return true;
  };
  if (hex.size() != 32 || !digits(0, &k.hi) || !digits(16, &k.lo))
    throw StatusError{
        InvalidArgument("a chunk key is 32 lower-case hex digits, got '" + hex + "'")};
  return k;
}

struct PyConfig {
  kv::Config c;
};

PyConfig* LoadConfig(const std::string& path, const std::string& yaml, bool env) {
  auto out = std::make_unique<PyConfig>();
  const kv::EnvLookup lookup = kv::ProcessEnv();
  if (env) {
    Check(kv::LoadConfigFromEnv(lookup, &out->c));
    return out.release();
  }
  if (!path.empty())
    Check(kv::LoadConfigFile(path, &out->c));
  else if (!yaml.empty())
    Check(kv::ParseConfigYaml(yaml, "<yaml>", &out->c));
  Check(kv::ApplyEnvOverrides(lookup, &out->c));
  Check(kv::ValidateConfig(out->c));
  return out.release();
}

class PyEngine {
 public:
  PyEngine(const PyConfig& config, const std::string& model_name, uint32_t layers,
           uint32_t kv_heads, uint32_t head_size, const std::string& dtype, bool mla,
           uint32_t world_size, uint32_t worker_id, uint32_t queue_depth, uint32_t device) {
    kv::EngineOptions o;
    o.model.model_name = model_name;
    o.model.world_size = world_size;
    o.model.worker_id = worker_id;
    std::optional<kv::DType> d = kv::ParseDType(dtype);
    if (!d)
      throw StatusError{
          InvalidArgument("dtype must be bf16, fp16, fp32 or fp8, got '" + dtype + "'")};
    o.geometry = {layers, kv_heads, head_size, *d, mla};
    o.queue_depth = queue_depth;
    o.device = device;
    nb::gil_scoped_release unlocked;
    Check(kv::Engine::Create(config.c, o, &engine_));
  }

  kv::Engine& get() {
    if (!engine_) throw StatusError{Status(Code::kReleased, "engine was closed")};
    return *engine_;
  }

  // The layout in host memory, or in GPU memory of `device` ordered on `stream`.
  static kv::KvLayout InMemory(kv::KvLayout l, const std::string& kind, uint64_t device,
                               uint64_t stream) {
    if (kind == "VRAM") return l.OnGpu(device, reinterpret_cast<void*>(stream));
    if (kind != "DRAM")
      throw StatusError{InvalidArgument("KV memory must be DRAM or VRAM, got '" + kind + "'")};
    return l;
  }

  // vLLM's paged form: per-layer K and V block addresses, an int64 slot mapping.
  static kv::KvLayout Paged(const std::vector<uint64_t>& k, const std::vector<uint64_t>& v,
                            uint64_t slots, uint64_t capacity, uint64_t block_size,
                            uint64_t num_blocks, uint64_t block_stride, uint64_t first) {
    std::vector<void*> kp, vp;
    for (uint64_t a : k) kp.push_back(reinterpret_cast<void*>(a));
    for (uint64_t a : v) vp.push_back(reinterpret_cast<void*>(a));
    kv::KvLayout l = kv::KvLayout::Paged(kp, vp, reinterpret_cast<const int64_t*>(slots), capacity,
                                         block_size, num_blocks, first);
    l.block_stride = block_stride;
    return l;
  }

  nb::dict Store(const Tokens& tokens, const kv::KvLayout& l) {
    kv::StoreResult r;
    {
      nb::gil_scoped_release unlocked;
      Check(get().Store(Span(tokens), l, &r));
    }
    nb::dict d;
    d["chunks_written"] = r.chunks_written;
    d["chunks_present"] = r.chunks_present;
    d["tokens_covered"] = r.tokens_covered;
    return d;
  }

  uint64_t Retrieve(const Tokens& tokens, const kv::KvLayout& l) {
    uint64_t restored = 0;
    nb::gil_scoped_release unlocked;
    Check(get().Retrieve(Span(tokens), l, &restored));
    return restored;
  }

  nb::dict StoreContiguous(const Tokens& tokens, uint64_t addr, uint64_t capacity, uint64_t first,
                           const std::string& kind, uint64_t device, uint64_t stream) {
    return Store(tokens,
                 InMemory(kv::KvLayout::Contiguous(reinterpret_cast<void*>(addr), capacity, first),
                          kind, device, stream));
  }

  uint64_t RetrieveContiguous(const Tokens& tokens, uint64_t addr, uint64_t capacity,
                              uint64_t first, const std::string& kind, uint64_t device,
                              uint64_t stream) {
    return Retrieve(
        tokens, InMemory(kv::KvLayout::Contiguous(reinterpret_cast<void*>(addr), capacity, first),
                         kind, device, stream));
  }

  nb::dict StorePaged(const Tokens& tokens, const std::vector<uint64_t>& k,
                      const std::vector<uint64_t>& v, uint64_t slots, uint64_t capacity,
                      uint64_t block_size, uint64_t num_blocks, uint64_t block_stride,
                      uint64_t first, const std::string& kind, uint64_t device, uint64_t stream) {
    return Store(tokens,
                 InMemory(Paged(k, v, slots, capacity, block_size, num_blocks, block_stride, first),
                          kind, device, stream));
  }

  uint64_t RetrievePaged(const Tokens& tokens, const std::vector<uint64_t>& k,
                         const std::vector<uint64_t>& v, uint64_t slots, uint64_t capacity,
                         uint64_t block_size, uint64_t num_blocks, uint64_t block_stride,
                         uint64_t first, const std::string& kind, uint64_t device,
                         uint64_t stream) {
    return Retrieve(
        tokens, InMemory(Paged(k, v, slots, capacity, block_size, num_blocks, block_stride, first),
                         kind, device, stream));
  }

  uint64_t Lookup(const Tokens& tokens) {
    nb::gil_scoped_release unlocked;
    return get().Lookup(Span(tokens));
  }

  std::vector<std::string> Keys(const Tokens& tokens) {
    std::vector<std::string> out;
    for (const kv::ChunkKey& k : get().Keys(Span(tokens))) out.push_back(k.Hex());
    return out;
  }

  bool Contains(const std::string& key) { return get().Contains(ParseKey(key)); }
  void Remove(const std::string& key) { Check(get().Remove(ParseKey(key))); }
  void Pin(const std::string& key) { Check(get().Pin(ParseKey(key))); }
  void Unpin(const std::string& key) { Check(get().Unpin(ParseKey(key))); }

  nb::dict Stats() {
    const kv::EngineStats s = get().Stats();
    nb::dict d;
    d["chunks_stored"] = s.chunks_stored;
    d["bytes_stored"] = s.bytes_stored;
    d["chunks_loaded"] = s.chunks_loaded;
    d["bytes_loaded"] = s.bytes_loaded;
    d["chunks_present_on_store"] = s.chunks_present_on_store;
    d["evictions"] = s.evictions;
    d["store_failed_no_space"] = s.store_failed_no_space;
    d["store_failed_io"] = s.store_failed_io;
    d["corrupt_chunks"] = s.corrupt_chunks;
    d["load_failed_io"] = s.load_failed_io;
    d["recovered_chunks"] = s.recovered_chunks;
    d["recovery_skipped"] = s.recovery_skipped;
    d["resident_chunks"] = s.resident_chunks;
    d["capacity_chunks"] = s.capacity_chunks;
    d["device_codec_ns"] = s.device_codec_ns;
    return d;
  }

  uint64_t ChunkBytes() { return get().chunk_bytes(); }

  void Close() {
    nb::gil_scoped_release unlocked;
    engine_.reset();
  }

 private:
  std::unique_ptr<kv::Engine> engine_;
};

nb::list Scan(const PyConfig& c, bool verify) {
  kv::ScanReport r;
  {
    nb::gil_scoped_release unlocked;
    Check(kv::ScanStore(c.c, verify, &r));
  }
  nb::list out;
  for (const kv::ScannedChunk& s : r.chunks) {
    nb::dict d;
    d["file"] = s.file;
    d["model_name"] = s.model_name;
    d["payload_bytes"] = s.payload_bytes;
    d["tokens"] = s.tokens;
    d["header_ok"] = s.header_ok;
    d["payload_ok"] = s.payload_ok;
    d["problem"] = s.problem;
    out.append(d);
  }
  return out;
}

uint64_t Clear(const PyConfig& c) {
  uint64_t removed = 0;
  nb::gil_scoped_release unlocked;
  Check(kv::ClearStore(c.c, &removed));
  return removed;
}

}  // namespace

void DefineKv(nb::module_& m) {
  nb::class_<PyConfig>(m, "KvConfig")
      .def_static("load", &LoadConfig, "path"_a = "", "yaml"_a = "", "env"_a = false,
                  nb::rv_policy::take_ownership)
      .def_prop_rw(
          "chunk_size", [](PyConfig& c) { return c.c.chunk_size; },
          [](PyConfig& c, int64_t v) { c.c.chunk_size = v; })
      .def_prop_rw(
          "nixl_buffer_size", [](PyConfig& c) { return c.c.nixl_buffer_size; },
          [](PyConfig& c, uint64_t v) { c.c.nixl_buffer_size = v; })
      .def_prop_rw(
          "nixl_buffer_device", [](PyConfig& c) { return c.c.nixl_buffer_device; },
          [](PyConfig& c, const std::string& v) { c.c.nixl_buffer_device = v; })
      .def_prop_rw(
          "nixl_backend", [](PyConfig& c) { return c.c.nixl_backend; },
          [](PyConfig& c, const std::string& v) { c.c.nixl_backend = v; })
      .def_prop_rw(
          "nixl_path", [](PyConfig& c) { return c.c.nixl_path; },
          [](PyConfig& c, const std::string& v) { c.c.nixl_path = v; })
      .def_prop_rw(
          "nixl_pool_size", [](PyConfig& c) { return c.c.nixl_pool_size; },
          [](PyConfig& c, int64_t v) { c.c.nixl_pool_size = v; })
      .def_prop_ro("nixl_backend_params",
                   [](PyConfig& c) {
                     return std::map<std::string, std::string>(c.c.nixl_backend_params.begin(),
                                                               c.c.nixl_backend_params.end());
                   })
      .def_prop_ro("warnings", [](PyConfig& c) { return c.c.warnings; })
      .def("validate", [](PyConfig& c) { Check(kv::ValidateConfig(c.c)); });
  nb::class_<PyEngine>(m, "KvEngine")
      .def(nb::init<const PyConfig&, const std::string&, uint32_t, uint32_t, uint32_t,
                    const std::string&, bool, uint32_t, uint32_t, uint32_t, uint32_t>(),
           "config"_a, "model_name"_a, "layers"_a, "kv_heads"_a, "head_size"_a, "dtype"_a = "bf16",
           "mla"_a = false, "world_size"_a = 1, "worker_id"_a = 0, "queue_depth"_a = 8,
           "device"_a = 0)
      .def("_store", &PyEngine::StoreContiguous)
      .def("_retrieve", &PyEngine::RetrieveContiguous)
      .def("_store_paged", &PyEngine::StorePaged)
      .def("_retrieve_paged", &PyEngine::RetrievePaged)
      .def("lookup", &PyEngine::Lookup, "tokens"_a)
      .def("keys", &PyEngine::Keys, "tokens"_a)
      .def("contains", &PyEngine::Contains, "key"_a)
      .def("remove", &PyEngine::Remove, "key"_a)
      .def("pin", &PyEngine::Pin, "key"_a)
      .def("unpin", &PyEngine::Unpin, "key"_a)
      .def("stats", &PyEngine::Stats)
      .def_prop_ro("chunk_bytes", &PyEngine::ChunkBytes)
      .def("close", &PyEngine::Close);
  m.def("kv_scan", &Scan, "config"_a, "verify"_a = false);
  m.def("kv_clear", &Clear, "config"_a);
}

}  // namespace ferry::py
