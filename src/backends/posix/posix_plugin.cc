// The POSIX plugin's face: name, memory kinds, parameter schema, and the entry point.
#include "ferry/backend.h"
#include "posix_backend.h"

namespace ferry::posix {
namespace {

class PosixPluginSpec final : public PluginSpec {
 public:
  const char* name() const override { return "POSIX"; }
  const char* version() const override { return "1.1"; }
  std::vector<Capability> capabilities() const override {
#ifdef FERRY_POSIX_VRAM
    return {{MemKind::kDram, MemKind::kFile, true, true},
            { MemKind::kVram,
              MemKind::kFile,
              true,
              true }};
#else
    return {{MemKind::kDram, MemKind::kFile, true, true}};
#endif
  }

  std::vector<ParamSpec> params() const override {
    return {
        {"engine",
         ParamType::kEnum,
         "auto",
         "I/O engine; auto = io_uring if the kernel allows it, else libaio, else threads",
         {"auto", "uring", "aio", "threads"},
         {{"use_uring", "uring"}, {"use_aio", "aio"}}},
        {"queue_depth",
         ParamType::kInt,
         "256",
         "most I/Os in flight at once across all requests; more wait in a queue (1..4096)",
         {},
         {{"kernel_queue_size", ""}, {"ios_pool_size", ""}}},
        {"max_request_size",
         ParamType::kSize,
         "32M",
         "larger descriptors are split into I/Os of at most this size (4K multiple, <= 1G)",
         {},
         {}},
        {"threads", ParamType::kInt, "8", "worker threads of the 'threads' engine", {}, {}},
        {"registered_buffers",
         ParamType::kBool,
         "true",
         "register DRAM with io_uring as fixed buffers (no per-I/O page pinning)",
         {},
         {}},
        {"inline_max",
         ParamType::kSize,
         "1G",
         "buffered requests of at most this many bytes on tmpfs/ramfs run inside Post (0 = never)",
         {},
         {}},
        {"spin_us",
         ParamType::kInt,
         "0",
         "a waiting thread spins this long on the completion ring before it sleeps (0..1000; 0 = "
         "never)",
         {},
         {}},
        {"copy_threads",
         ParamType::kInt,
         "3",
         "inline requests split by parallel_read_min: helper threads that copy alongside the "
         "posting thread, at most one per other core (0..64; 0 = the posting thread alone)",
         {},
         {}},
        {"parallel_read_min",
         ParamType::kSize,
         "8M",
         "inline reads of at least this many bytes, and writes of as many to two files or more, "
         "are split over copy_threads",
         {},
         {}},
        {"vram_threads",
         ParamType::kInt,
         "8",
         "VRAM transfers: threads staging through pinned buffers (1..256; built with CUDA)",
         {},
         {}},
        {"vram_inline_max",
         ParamType::kSize,
         "2M",
         "VRAM transfers of at most this many bytes are staged inside Post (0 = never)",
         {},
         {}},
        {"vram_bounce_size",
         ParamType::kSize,
         "4M",
         "VRAM transfers: each staging thread's two pinned buffers, and the most one VRAM op "
         "moves (4K multiple, 64K..256M)",
         {},
         {}},
    };
  }

  Status Create(const ParamValues& p, std::unique_ptr<Backend>* out) const override {
    PosixOptions o;
    o.engine = p.GetString("engine");
    o.queue_depth = p.GetInt("queue_depth");  // ranges are checked by PosixBackend::Create
    o.threads = p.GetInt("threads");
    o.max_request_size = p.GetSize("max_request_size");
    o.registered_buffers = p.GetBool("registered_buffers");
    o.inline_max = p.GetSize("inline_max");
    o.spin_us = p.GetInt("spin_us");
    o.copy_threads = p.GetInt("copy_threads");
    o.parallel_read_min = p.GetSize("parallel_read_min");
    o.vram_threads = p.GetInt("vram_threads");
    o.vram_bounce_size = p.GetSize("vram_bounce_size");
    o.vram_inline_max = p.GetSize("vram_inline_max");
    return PosixBackend::Create(o, out);
  }
};

}  // namespace
}  // namespace ferry::posix

FERRY_DEFINE_PLUGIN(ferry::posix::PosixPluginSpec)
