// Agent: the one object per process through which Ferry moves data.
//
// An agent loads backend plugins, creates backends from them, registers memory with those
// backends and creates transfers. For storage the target of a transfer is the agent itself
// (target "" or the agent's own name); remote agents arrive with the network backend.
//
// Backend choice is deterministic: XferOptions::backend if given, else the backends, in
// creation order, whose capabilities cover (local kind, target kind, op) and with which
// both the local and the target memory are registered. The first that accepts the
// request is chosen; one that refuses it as unsupported (kUnsupported from its Prepare)
// passes it to the next.
//
// Ownership: Agent::Create hands back a std::unique_ptr. Transfers keep the agent's
// internals alive, so destroying the Agent while Transfers exist is safe; their backends
// go away with the last of them.
//
// Thread safety: every method is safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/capability.h"
#include "ferry/completion_queue.h"
#include "ferry/memory.h"
#include "ferry/params.h"
#include "ferry/status.h"
#include "ferry/transfer.h"

namespace ferry {

struct AgentConfig {
  // Where plugins are looked for; empty = $FERRY_PLUGIN_DIR, else the directory that holds
  // libferry. Statically linked plugins are always available.
  std::string plugin_dir;
};

// A plugin the agent found: what it is, what it moves, what it accepts.
struct PluginInfo {
  std::string name;                      // e.g. "POSIX"
  std::string version;                   // plugin's own version string
  std::string path;                      // shared library path; "(static)" when linked in
  std::vector<Capability> capabilities;  // what its backends move
  std::vector<ParamSpec> params;
  bool usable = true;  // false when the library failed to load
  std::string error;   // why it is not usable
};

struct RegHandle {
  uint64_t value = 0;  // 0 = none
  bool valid() const { return value != 0; }
};

struct RegOptions {
  // Backends to register with; empty = every backend that supports the memory kind.
  std::vector<BackendId> backends;
};

struct XferOptions {
  BackendId backend;  // force a backend; none = deterministic choice (see above)
  // Where the transfer reports each completion, with `tag` (completion_queue.h); none =
  // only Check/Wait/CompletionFd.
  std::shared_ptr<CompletionQueue> completion_queue;
  uint64_t tag = 0;
  XferArgs args;  // handed to the backend's Prepare (a CUDA stream, backend parameters)
};

// A transfer list checked and resolved once against the registrations, for making many
// transfers by descriptor index (Agent::MakeTransfer) without repeating the lookups.
// Immutable; share it freely across threads. Holds its registrations alive.
class PreppedList;

class AgentImpl;  // private

class Agent {
 public:
  // `name` must be non-empty. Scans the plugin directory; a plugin that fails to load is
  // listed as unusable (with the reason), not an error.
  static Status Create(std::string name, const AgentConfig& config, std::unique_ptr<Agent>* out);
  ~Agent();

  const std::string& name() const;

  // Every plugin found, sorted by name.
  std::vector<PluginInfo> ListPlugins() const;

  // Creates a backend from plugin `plugin` with `params` checked against its schema.
  // Errors name the unknown plugin or the offending key.
  Status CreateBackend(std::string_view plugin, const Params& params, BackendId* out);

  // Takes a backend out of service: it is chosen for no new registration, transfer, query
  // or allocation. Registrations, transfers and allocations that use it keep it alive and
  // working; it is destroyed when the last of them is gone. kNotFound for an unknown or
  // already destroyed id.
  Status DestroyBackend(BackendId backend);

  // Registers every descriptor of `list` with the chosen backends (all-or-nothing). Fails
  // on overlap with an existing registration of the same kind and dev_id, on len 0 for
  // anything but FILE and OBJ (open-ended: every offset from addr on), or when no backend
  // moves the kind.
  Status RegisterMem(const MemDescList& list, RegHandle* out, const RegOptions& options = {});

  // Removes a registration. Transfers created before keep it alive until they are released;
  // new transfers cannot use it. kReleased for an unknown or already removed handle.
  Status DeregisterMem(RegHandle handle);

  // Storage namespace operations on FILE (by path, as FileByPath names it) and OBJ (by key)
  // descriptors, which need not be registered. Each goes to `backend` if given, else to the
  // first backend in creation order that names the kind and has a storage namespace (one
  // answering kUnsupported passes to the next).
  //
  // QueryMem: whether each descriptor exists, its size, modification time and ETag.
  Status QueryMem(const MemDescList& list, std::vector<QueryResult>* out, BackendId backend = {});
  // RemoveMem: deletes each named file or object (unlink, DELETE); absent ones are fine.
  // Registrations of them stay valid (an open file is kept by the backend until
  // deregistered).
  Status RemoveMem(const MemDescList& list, BackendId backend = {});
  // ListMem: every file or object whose name starts with `prefix` (for FILE,
  // "<dir>/<name prefix>"), sorted by name.
  Status ListMem(MemKind kind, std::string_view prefix, std::vector<ListEntry>* out,
                 BackendId backend = {});

  // Allocates `len` bytes of `kind` on device `dev_id` from the backend that moves such
  // memory fastest: `backend` if given, else the first in creation order whose allocator
  // takes the kind. With none, DRAM comes page-aligned from the system. The memory is
  // not registered. Free it with FreeMem before destroying the agent; what is left is
  // freed with the agent.
  Status AllocMem(MemKind kind, uint64_t len, uint64_t dev_id, void** addr, BackendId backend = {});
  // kNotFound for an address AllocMem did not return (or already freed).
  Status FreeMem(void* addr);

  // A transfer of local[i] <-> target_list[i] for every i: same count, same lengths.
  // local must be DRAM or VRAM. `target` is "" or this agent's name for storage.
  Status CreateTransfer(XferOp op, const XferDescList& local, const XferDescList& target_list,
                        std::string_view target, std::unique_ptr<Transfer>* out,
                        const XferOptions& options = {});

  // Resolves `list` against the registrations once (for `target`, as above).
  Status PrepDescList(const XferDescList& list, std::string_view target,
                      std::shared_ptr<const PreppedList>* out);

  // A transfer of local.desc[local_idx[i]] <-> target.desc[target_idx[i]].
  Status MakeTransfer(XferOp op, const PreppedList& local, std::span<const uint32_t> local_idx,
                      const PreppedList& target, std::span<const uint32_t> target_idx,
                      std::unique_ptr<Transfer>* out, const XferOptions& options = {});

 private:
  explicit Agent(std::shared_ptr<AgentImpl> impl);
  std::shared_ptr<AgentImpl> impl_;
};

}  // namespace ferry
