// The plugin SDK: the small southbound interface a backend implements.
//
// A plugin is a shared library that exports one C function, FERRY_PLUGIN_ENTRY_V1, returning
// its PluginSpec (see FERRY_DEFINE_PLUGIN at the bottom). A plugin folder depends on this
// header alone. The core checks parameters against the spec's schema, resolves descriptors
// to registrations, and hands the backend flat lists of I/O segments.
//
// Threading contract for backends: RegisterMem, DeregisterMem, Prepare, Post, Cancel, Drive,
// Kick and Query may be called from many threads at once, for different requests. For one request
// the core serialises Post/Cancel/destruction, and never destroys a request between Post
// and its completion. The completion may be delivered from any thread, including from
// inside Post.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ferry/memory.h"
#include "ferry/params.h"
#include "ferry/status.h"
#include "ferry/transfer.h"

namespace ferry {

// 2: Backend::Drive and Backend::Kick.
inline constexpr uint32_t kPluginApiVersion = 2;

// One contiguous piece of a transfer: local memory <-> target (file, object, remote memory).
// `local_md` / `remote_md` are what this backend returned from RegisterMem for the
// registrations the two addresses fall in.
struct IoSegment {
  uint64_t local_addr;
  uint64_t remote_addr;
  uint64_t len;
  void* local_md;
  void* remote_md;
  uint32_t desc_index;  // index in the transfer, for error messages
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

class Backend {
 public:
  virtual ~Backend() = default;

  // Registers one descriptor of `kind`; `*md` is passed back in IoSegments and to
  // DeregisterMem. A FILE registered by path is opened here.
  virtual Status RegisterMem(MemKind kind, const MemDesc& desc, void** md) = 0;
  virtual void DeregisterMem(MemKind kind, void* md) = 0;

  // Validates and prepares a request for repeated posting. Errors (alignment, unsupported
  // combination) name the descriptor index.
  virtual Status Prepare(XferOp op, MemKind local_kind, MemKind remote_kind,
                         std::span<const IoSegment> segments,
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

  // Existence and size of each descriptor. Optional.
  virtual Status Query(MemKind kind, std::span<const MemDesc> descs,
                       std::vector<QueryResult>* out) {
    (void)kind, (void)descs, (void)out;
    return Unsupported("this backend does not answer queries");
  }
};

// What a plugin exports.
class PluginSpec {
 public:
  virtual ~PluginSpec() = default;
  virtual uint32_t api_version() const { return kPluginApiVersion; }
  virtual const char* name() const = 0;
  virtual const char* version() const = 0;
  virtual std::vector<MemKind> mem_kinds() const = 0;
  virtual std::vector<ParamSpec> params() const = 0;
  // `params` already checked against params().
  virtual Status Create(const ParamValues& params, std::unique_ptr<Backend>* out) const = 0;
};

}  // namespace ferry

// The versioned entry point. A shared-library plugin exports it under this exact name; a
// statically linked plugin is registered by name instead (FERRY_DEFINE_PLUGIN does both).
#define FERRY_PLUGIN_ENTRY_V1 ferry_plugin_entry_v1
#define FERRY_PLUGIN_ENTRY_V1_NAME "ferry_plugin_entry_v1"
using FerryPluginEntryV1 = const ferry::PluginSpec* (*)();

namespace ferry {
// Used by FERRY_DEFINE_PLUGIN in static builds; call it before creating agents otherwise.
void RegisterStaticPlugin(FerryPluginEntryV1 entry);
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
  FERRY_PLUGIN_ENTRY_V1() {                                                  \
    static const SpecType spec;                                              \
    return &spec;                                                            \
  }
#endif
