// The agent's internals, shared (by shared_ptr) between the Agent object and nothing else;
// transfers hold backends and registrations directly, not the agent.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "allocations.h"
#include "backend_entry.h"
#include "ferry/agent.h"
#include "plugin_loader.h"
#include "registry.h"

namespace ferry {

// Shared (enable_shared_from_this) so that a transfer made from it holds the list, and so
// its registrations, with one reference count instead of one per registration.
class PreppedList : public std::enable_shared_from_this<PreppedList> {
 public:
  MemKind kind;
  std::vector<ResolvedDesc> descs;
  std::vector<std::shared_ptr<const RegEntry>> holds;
};

class AgentImpl {
 public:
  AgentImpl(std::string name, std::vector<LoadedPlugin> plugins)
      : name_(std::move(name)), plugins_(std::move(plugins)) {}

  const std::string& name() const { return name_; }
  std::vector<PluginInfo> ListPlugins() const;
  Status CreateBackend(std::string_view plugin, const Params& params, BackendId* out);
  Status DestroyBackend(BackendId id);
  Status RegisterMem(const MemDescList& list, RegHandle* out, const RegOptions& options);
  Status DeregisterMem(RegHandle handle) { return registry_.Deregister(handle); }
  Status QueryMem(const MemDescList& list, std::vector<QueryResult>* out, BackendId backend);
  Status RemoveMem(const MemDescList& list, BackendId backend);
  Status ListMem(MemKind kind, std::string_view prefix, std::vector<ListEntry>* out,
                 BackendId backend);
  Status AllocMem(MemKind kind, uint64_t len, uint64_t dev_id, void** addr, BackendId backend);
  Status FreeMem(void* addr) { return allocations_.Free(addr); }
  Status Prep(const XferDescList& list, std::string_view target, PreppedList* out) const;
  Status MakeTransfer(XferOp op, const PreppedList& local, std::span<const uint32_t> local_idx,
                      const PreppedList& target, std::span<const uint32_t> target_idx,
                      std::unique_ptr<Transfer>* out, const XferOptions& options);

 private:
  static Status CallPlugin(const PluginSpec& spec, const ParamValues& values,
                           std::unique_ptr<Backend>* out);
  Status CheckTarget(std::string_view target) const;
  std::shared_ptr<BackendEntry> FindBackend(BackendId id) const;
  // Backends not destroyed, in creation order.
  std::vector<std::shared_ptr<BackendEntry>> LiveBackends() const;
  Status NamespaceCandidates(MemKind kind, BackendId backend,
                             std::vector<std::shared_ptr<BackendEntry>>* out) const;

  const std::string name_;
  const std::vector<LoadedPlugin> plugins_;
  Registry registry_;
  mutable std::shared_mutex backends_mu_;
  // Creation order; BackendId = index + 1; null once destroyed.
  std::vector<std::shared_ptr<BackendEntry>> backends_;
  Allocations allocations_;  // declared last: freed first, while backends still exist
};

}  // namespace ferry
