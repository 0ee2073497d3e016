// The plugin SDK (API version 4): the small southbound interface a backend implements.
//
// A plugin is a shared library that exports one C function, FERRY_PLUGIN_ENTRY (see
// FERRY_DEFINE_PLUGIN at the bottom), returning its PluginSpec. The symbol carries no
// version: the spec's api_version() does, and the core refuses a spec of another version
// with a message naming both. The core checks parameters against the spec's schema,
// resolves descriptors to registrations, chooses a backend among those whose capabilities
// cover a transfer, and hands it flat lists of I/O segments.
//
// ABI. The interface passes C++ types (std::string, std::vector, std::span, std::function,
// std::unique_ptr) through virtual calls, so a plugin must be built with the same compiler
// family and C++ standard library ABI as libferry, against the headers of the same Ferry
// release (api_version() tells releases apart). A plugin links libferry for the Status
// helpers (ErrnoStatus, WithContext) and the value types' functions; it includes only
// headers from include/ferry/.
//
// Optional abilities are optional interfaces, not stubs: a backend that removes and lists
// files or objects returns a StorageNamespace from storage(); one that hands out memory
// returns a MemoryAllocator from allocator(); one that lets a waiting thread reap its
// completions overrides Drive/Kick (and Poll). The defaults say "not supported".
//
// Threading contract for backends: every method may be called from many threads at once,
// for different requests. For one request the core serialises Post/Cancel/destruction, and
// never destroys a request between Post and its completion. The completion may be delivered
// from any thread, including from inside Post. The core never holds its own locks while it
// calls a backend.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ferry/capability.h"
#include "ferry/memory.h"
#include "ferry/params.h"
#include "ferry/status.h"
#include "ferry/transfer.h"

namespace ferry {

// 3: capabilities, per-transfer arguments, StorageNamespace, MemoryAllocator, the
// unversioned entry symbol. 4: Backend::Poll.
inline constexpr uint32_t kPluginApiVersion = 4;

// One contiguous piece of a transfer: local memory <-> target (file, object, remote memory).
// `local_md` / `target_md` are what this backend returned from RegisterMem for the
// registrations the two addresses fall in.
struct IoSegment {
  uint64_t local_addr;
  uint64_t target_addr;
  uint64_t len;
  void* local_md;
  void* target_md;
  uint32_t desc_index;  // index in the transfer, for error messages
};

// What Prepare is asked to build. `args` are the caller's per-transfer arguments
// (XferOptions::args), valid during Prepare only: a backend copies what it keeps.
struct PrepareSpec {
  XferOp op;
  MemKind local_kind;
  MemKind target_kind;
  const XferArgs& args;
};

// Where a backend reports that a posted request finished. Exactly one Complete per
// successful Post. `status` is OK, kCancelled or the first error.
class CompletionSink {
 public:
  virtual void Complete(Status status) = 0;

 protected:
  ~CompletionSink() = default;
};

// A backend's prepared request. Owned by the core; destroyed only when not in flight.
class BackendRequest {
 public:
  virtual ~BackendRequest() = default;
};

// Optional: names in a storage namespace (files under a directory, objects under a
// prefix). Descriptors name files as FileByPath does (the meta holds the path; flags and
// dev_id are ignored) and objects by their key in meta.
class StorageNamespace {
 public:
  // Existence, size, modification time and (objects) ETag of each descriptor. `out` gets
  // one entry per descriptor; a missing one is exists == false, not an error.
  virtual Status Query(MemKind kind, std::span<const MemDesc> descs,
                       std::vector<QueryResult>* out) = 0;
  // Removes each named file or object. Absent ones count as removed (as S3 DELETE does).
  // A name that is not a plain file (a directory, say) is an error naming it. Tries every
  // descriptor; returns the first error.
  virtual Status Remove(MemKind kind, std::span<const MemDesc> descs) = 0;
  // Every entry whose name starts with `prefix`: for FILE, "<dir>/<name prefix>" lists
  // the directory's entries whose names start with the name prefix (no recursion), named
  // by full path; for OBJ, the keys under the prefix. Sorted by name.
  virtual Status List(MemKind kind, std::string_view prefix, std::vector<ListEntry>* out) = 0;

 protected:
  ~StorageNamespace() = default;
};

// Optional: memory the backend moves fastest (page-aligned or huge-page DRAM, pinned host
// or device memory, 3FS I/O buffers). The memory is not registered; the caller registers
// it like any other. kUnsupported for a kind it does not allocate.
class MemoryAllocator {
 public:
  virtual Status AllocMem(MemKind kind, uint64_t len, uint64_t dev_id, void** addr) = 0;
  // `addr`, `len`, `dev_id` exactly as allocated.
  virtual void FreeMem(MemKind kind, void* addr, uint64_t len, uint64_t dev_id) = 0;

 protected:
  ~MemoryAllocator() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Registers one descriptor of `kind`; `*md` is passed back in IoSegments and to
  // DeregisterMem. A FILE registered by path is opened here.
  virtual Status RegisterMem(MemKind kind, const MemDesc& desc, void** md) = 0;
  virtual void DeregisterMem(MemKind kind, void* md) = 0;

  // Validates and prepares a request for repeated posting. Errors (alignment, an unknown
  // argument) name the descriptor index or the argument. kUnsupported means "not this
  // backend": the core then tries the next candidate backend.
  virtual Status Prepare(const PrepareSpec& spec, std::span<const IoSegment> segments,
                         std::unique_ptr<BackendRequest>* out) = 0;

  // Submits everything. On OK, `sink->Complete` is called exactly once later (or before
  // Post returns). On error, it is not called. A full queue is not an error.
  virtual Status Post(BackendRequest* request, CompletionSink* sink) = 0;

  // Best effort; the completion is still delivered.
  virtual void Cancel(BackendRequest* request) = 0;

  // Optional: completion driving. Lets a thread that waits for this backend's requests
  // (Transfer::Wait, CompletionQueue::Wait) collect finished I/O and deliver completions
  // itself, so that the thread that submits also waits and reaps, instead of sleeping until
  // a backend thread wakes it. Drive delivers completions (of any request) until `done()`
  // returns true or `deadline` passes. `done` is called with the backend's locks held, so
  // it may take only the caller's own lock (not held by the caller during Drive).
  // Returns false when it cannot drive now (unsupported, another thread is driving, or
  // the wait failed): at once, or after an error; the caller then sleeps as usual. A
  // backend must complete every request whether or not anyone drives.
  virtual bool Drive(std::chrono::steady_clock::time_point deadline,
                     const std::function<bool()>& done) {
    (void)deadline, (void)done;
    return false;
  }
  // Wakes a Drive in progress on another thread so that it calls `done` again: what it
  // waits for arrived some other way. Cheap, lock-free, callable from any thread.
  virtual void Kick() {}
  // Optional: delivers the completions of I/O that has already finished, at once, without
  // blocking and (where the backend's completion ring is mapped in user space) without a
  // system call. Transfer::Check and CompletionQueue::Poll call it for a transfer still in
  // flight, so that a caller that polls sees a completion as soon as the hardware posted
  // it rather than when a backend thread wakes up. Returns at once when another thread is
  // collecting completions (a driving waiter, the backend's own thread).
  virtual void Poll() {}

  // Optional interfaces (see above); null = not supported. The object lives as long as
  // the backend.
  virtual StorageNamespace* storage() { return nullptr; }
  virtual MemoryAllocator* allocator() { return nullptr; }
};

// What a plugin exports.
class PluginSpec {
 public:
  virtual ~PluginSpec() = default;
  virtual uint32_t api_version() const { return kPluginApiVersion; }
  virtual const char* name() const = 0;
  virtual const char* version() const = 0;
  // Every (local, target, op) combination the backend moves. Memory of a kind named here
  // is registered with the backend.
  virtual std::vector<Capability> capabilities() const = 0;
  virtual std::vector<ParamSpec> params() const = 0;
  // `params` already checked against params().
  virtual Status Create(const ParamValues& params, std::unique_ptr<Backend>* out) const = 0;
};

}  // namespace ferry

// The entry point. A shared-library plugin exports it under this exact name; a statically
// linked plugin is registered by name instead (FERRY_DEFINE_PLUGIN does both).
#define FERRY_PLUGIN_ENTRY ferry_plugin_entry
#define FERRY_PLUGIN_ENTRY_NAME "ferry_plugin_entry"
using FerryPluginEntry = const ferry::PluginSpec* (*)();

namespace ferry {
// Used by FERRY_DEFINE_PLUGIN in static builds; call it before creating agents otherwise.
void RegisterStaticPlugin(FerryPluginEntry entry);
}  // namespace ferry

// FERRY_DEFINE_PLUGIN(PosixPluginSpec) — defines the entry point for a PluginSpec subclass
// with a default constructor. With FERRY_STATIC_PLUGIN defined, the plugin registers
// itself with the core at load time instead of exporting the C symbol.
#ifdef FERRY_STATIC_PLUGIN
#define FERRY_DEFINE_PLUGIN(SpecType)                 \
  namespace {                                         \
  const ferry::PluginSpec* FerryStaticEntry() {       \
    static const SpecType spec;                       \
    return &spec;                                     \
  }                                                   \
  [[maybe_unused]] const bool kFerryRegistered = [] { \
    ferry::RegisterStaticPlugin(&FerryStaticEntry);   \
    return true;                                      \
  }();                                                \
  }
#else
#define FERRY_DEFINE_PLUGIN(SpecType)                                        \
  extern "C" __attribute__((visibility("default"))) const ferry::PluginSpec* \
  FERRY_PLUGIN_ENTRY() {                                                     \
    static const SpecType spec;                                              \
    return &spec;                                                            \
  }
#endif
