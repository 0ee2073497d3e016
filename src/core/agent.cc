#include "ferry/agent.h"

#include <algorithm>
#include <exception>
#include <mutex>

#include "agent_impl.h"
#include "transfer_state.h"

namespace ferry {

// ---- Agent: a thin handle over AgentImpl ----

Status Agent::Create(std::string name, const AgentConfig& config, std::unique_ptr<Agent>* out) {
  if (name.empty()) return InvalidArgument("agent name must not be empty");
  auto plugins = DiscoverPlugins(PluginDirs(config.plugin_dir));
  out->reset(new Agent(std::make_shared<AgentImpl>(std::move(name), std::move(plugins))));
  return Status::Ok();
}

Agent::Agent(std::shared_ptr<AgentImpl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() = default;
const std::string& Agent::name() const {
  return impl_->name();
}
std::vector<PluginInfo> Agent::ListPlugins() const {
  return impl_->ListPlugins();
}

Status Agent::CreateBackend(std::string_view plugin, const Params& params, BackendId* out) {
  return impl_->CreateBackend(plugin, params, out);
}
Status Agent::RegisterMem(const MemDescList& list, RegHandle* out, const RegOptions& options) {
  return impl_->RegisterMem(list, out, options);
}
Status Agent::DeregisterMem(RegHandle handle) {
  return impl_->DeregisterMem(handle);
}
Status Agent::DestroyBackend(BackendId backend) {
  return impl_->DestroyBackend(backend);
}
Status Agent::QueryMem(const MemDescList& list, std::vector<QueryResult>* out, BackendId backend) {
  return impl_->QueryMem(list, out, backend);
}
Status Agent::RemoveMem(const MemDescList& list, BackendId backend) {
  return impl_->RemoveMem(list, backend);
}
Status Agent::ListMem(MemKind kind, std::string_view prefix, std::vector<ListEntry>* out,
                      BackendId backend) {
  return impl_->ListMem(kind, prefix, out, backend);
}
Status Agent::AllocMem(MemKind kind, uint64_t len, uint64_t dev_id, void** addr,
                       BackendId backend) {
  return impl_->AllocMem(kind, len, dev_id, addr, backend);
}
Status Agent::FreeMem(void* addr) {
  return impl_->FreeMem(addr);
}

Status Agent::CreateTransfer(XferOp op, const XferDescList& local, const XferDescList& target_list,
                             std::string_view target, std::unique_ptr<Transfer>* out,
                             const XferOptions& options) {
  if (local.descs.size() != target_list.descs.size())
    return InvalidArgument("local list has " + std::to_string(local.descs.size()) +
                           " descriptors but the target list has " +
                           std::to_string(target_list.descs.size()));
  auto l = std::make_shared<PreppedList>();
  auto r = std::make_shared<PreppedList>();
  Status s = impl_->Prep(local, target, l.get());
  if (!s.ok()) return s.WithContext("local list");
  s = impl_->Prep(target_list, target, r.get());
  if (!s.ok()) return s.WithContext("target list");
  return impl_->MakeTransfer(op, *l, {}, *r, {}, out, options);
}

Status Agent::PrepDescList(const XferDescList& list, std::string_view target,
                           std::shared_ptr<const PreppedList>* out) {
  auto p = std::make_shared<PreppedList>();
  Status s = impl_->Prep(list, target, p.get());
  if (!s.ok()) return s;
  *out = std::move(p);
  return Status::Ok();
}

Status Agent::MakeTransfer(XferOp op, const PreppedList& local, std::span<const uint32_t> local_idx,
                           const PreppedList& target, std::span<const uint32_t> target_idx,
                           std::unique_ptr<Transfer>* out, const XferOptions& options) {
  if (local_idx.size() != target_idx.size())
    return InvalidArgument("local index list has " + std::to_string(local_idx.size()) +
                           " entries but the target index list has " +
                           std::to_string(target_idx.size()));
  if (local_idx.empty()) return InvalidArgument("index lists are empty");
  return impl_->MakeTransfer(op, local, local_idx, target, target_idx, out, options);
}

// ---- AgentImpl ----

std::vector<PluginInfo> AgentImpl::ListPlugins() const {
  std::vector<PluginInfo> out;
  for (const auto& p : plugins_) out.push_back(p.info);
  return out;
}

Status AgentImpl::CreateBackend(std::string_view plugin, const Params& params, BackendId* out) {
  const LoadedPlugin* lp = nullptr;
  for (const auto& p : plugins_)
    if (p.info.name == plugin) lp = &p;
  if (!lp) {
    std::string m = "no plugin named '" + std::string(plugin) + "' (available:";
    bool any = false;
    for (const auto& p : plugins_)
      if (p.info.usable) m += (any ? ", " : " ") + p.info.name, any = true;
    return NotFound(m + (any ? ")" : " none; set FERRY_PLUGIN_DIR)"));
  }
  if (!lp->info.usable)
    return Unsupported("plugin '" + lp->info.name + "' (" + lp->info.path +
                       ") is not usable: " + lp->info.error);
  ParamValues values;
  Status s = ParamValues::Build(lp->info.params, params, &values);
  if (!s.ok()) return s.WithContext("backend " + lp->info.name);
  auto entry = std::make_shared<BackendEntry>();
  entry->plugin = lp->info.name;
  entry->capabilities = lp->info.capabilities;
  s = CallPlugin(*lp->spec, values, &entry->backend);
  if (!s.ok()) return s.WithContext("creating backend " + lp->info.name);
  if (!entry->backend) return Internal("plugin " + lp->info.name + " created no backend");
  std::unique_lock lk(backends_mu_);
  entry->id.value = static_cast<uint32_t>(backends_.size() + 1);
  backends_.push_back(entry);
  *out = entry->id;
  return Status::Ok();
}

Status AgentImpl::CallPlugin(const PluginSpec& spec, const ParamValues& values,
                             std::unique_ptr<Backend>* out) {
  // A plugin's constructor may throw (std::thread, allocation); Ferry's API does not.
  try {
    return spec.Create(values, out);
  } catch (const std::exception& e) {
    return Internal(std::string("the plugin threw: ") + e.what());
  } catch (...) {
    return Internal("the plugin threw a non-standard exception");
  }
}

Status AgentImpl::DestroyBackend(BackendId id) {
  std::shared_ptr<BackendEntry> be = FindBackend(id);
  if (!be) return NotFound("no backend with id " + std::to_string(id.value));
  if (be->retired.exchange(true))
    return NotFound("backend " + std::to_string(id.value) + " (" + be->plugin +
                    ") was already destroyed");
  // The agent's reference goes; registrations, transfers and allocations keep theirs.
  std::unique_lock lk(backends_mu_);
  backends_[id.value - 1].reset();
  return Status::Ok();
}

std::shared_ptr<BackendEntry> AgentImpl::FindBackend(BackendId id) const {
  std::shared_lock lk(backends_mu_);
  if (id.value == 0 || id.value > backends_.size()) return nullptr;
  const auto& be = backends_[id.value - 1];
  return be && !be->retired.load() ? be : nullptr;
}

std::vector<std::shared_ptr<BackendEntry>> AgentImpl::LiveBackends() const {
  std::vector<std::shared_ptr<BackendEntry>> out;
  std::shared_lock lk(backends_mu_);
  for (const auto& be : backends_)
    if (be && !be->retired.load()) out.push_back(be);
  return out;
}

Status AgentImpl::RegisterMem(const MemDescList& list, RegHandle* out, const RegOptions& options) {
  std::vector<std::shared_ptr<BackendEntry>> chosen;
  if (!options.backends.empty()) {
    for (BackendId id : options.backends) {
      auto be = FindBackend(id);
      if (!be) return NotFound("no backend with id " + std::to_string(id.value));
      if (!be->Names(list.kind))
        return Unsupported("backend " + be->plugin + " does not move " +
                           std::string(MemKindName(list.kind)) + " memory");
      chosen.push_back(std::move(be));
    }
  } else {
    for (auto& be : LiveBackends())
      if (be->Names(list.kind)) chosen.push_back(std::move(be));
  }
  if (chosen.empty())
    return Unsupported("no backend created on this agent moves " +
                       std::string(MemKindName(list.kind)) + " memory");
  return registry_.Register(list, chosen, out);
}

Status AgentImpl::NamespaceCandidates(MemKind kind, BackendId backend,
                                      std::vector<std::shared_ptr<BackendEntry>>* out) const {
  if (kind != MemKind::kFile && kind != MemKind::kObj)
    return InvalidArgument("storage namespace operations take FILE or OBJ descriptors, not " +
                           std::string(MemKindName(kind)));
  if (backend.valid()) {
    auto be = FindBackend(backend);
    if (!be) return NotFound("no backend with id " + std::to_string(backend.value));
    if (!be->backend->storage())
      return Unsupported("backend " + be->plugin + " has no storage namespace");
    out->push_back(std::move(be));
    return Status::Ok();
  }
  for (auto& be : LiveBackends())
    if (be->Names(kind) && be->backend->storage()) out->push_back(std::move(be));
  if (out->empty())
    return Unsupported("no backend on this agent lists, queries or removes " +
                       std::string(MemKindName(kind)));
  return Status::Ok();
}

// Runs `op` on the candidates in order until one answers other than kUnsupported.
template <typename Op>
static Status OnFirstNamespace(const std::vector<std::shared_ptr<BackendEntry>>& candidates,
                               Op op) {
  Status s;
  for (const auto& be : candidates) {
    s = op(*be->backend->storage());
    if (s.code() != Code::kUnsupported) return s;
  }
  return s;
}

Status AgentImpl::QueryMem(const MemDescList& list, std::vector<QueryResult>* out,
                           BackendId backend) {
  std::vector<std::shared_ptr<BackendEntry>> candidates;
  Status s = NamespaceCandidates(list.kind, backend, &candidates);
  if (!s.ok()) return s;
  return OnFirstNamespace(candidates, [&](StorageNamespace& ns) {
    out->clear();
    return ns.Query(list.kind, list.descs, out);
  });
}

Status AgentImpl::RemoveMem(const MemDescList& list, BackendId backend) {
  std::vector<std::shared_ptr<BackendEntry>> candidates;
  Status s = NamespaceCandidates(list.kind, backend, &candidates);
  if (!s.ok()) return s;
  return OnFirstNamespace(candidates,
                          [&](StorageNamespace& ns) { return ns.Remove(list.kind, list.descs); });
}

Status AgentImpl::ListMem(MemKind kind, std::string_view prefix, std::vector<ListEntry>* out,
                          BackendId backend) {
  std::vector<std::shared_ptr<BackendEntry>> candidates;
  Status s = NamespaceCandidates(kind, backend, &candidates);
  if (!s.ok()) return s;
  return OnFirstNamespace(candidates, [&](StorageNamespace& ns) {
    out->clear();
    return ns.List(kind, prefix, out);
  });
}

Status AgentImpl::AllocMem(MemKind kind, uint64_t len, uint64_t dev_id, void** addr,
                           BackendId backend) {
  std::vector<std::shared_ptr<BackendEntry>> candidates;
  if (backend.valid()) {
    auto be = FindBackend(backend);
    if (!be) return NotFound("no backend with id " + std::to_string(backend.value));
    candidates.push_back(std::move(be));
  } else {
    for (auto& be : LiveBackends())
      if (be->Names(kind)) candidates.push_back(std::move(be));
  }
  return allocations_.Alloc(kind, len, dev_id, candidates, backend.valid(), addr);
}

Status AgentImpl::CheckTarget(std::string_view target) const {
  if (target.empty() || target == name_) return Status::Ok();
  return NotFound("unknown agent '" + std::string(target) + "': only this agent ('" + name_ +
                  "') is a valid target until remote metadata is loaded");
}

Status AgentImpl::Prep(const XferDescList& list, std::string_view target, PreppedList* out) const {
  Status s = CheckTarget(target);
  if (!s.ok()) return s;
  out->kind = list.kind;
  return registry_.Resolve(list, &out->descs, &out->holds);
}

Status AgentImpl::MakeTransfer(XferOp op, const PreppedList& local,
                               std::span<const uint32_t> local_idx, const PreppedList& target,
                               std::span<const uint32_t> target_idx, std::unique_ptr<Transfer>* out,
                               const XferOptions& options) {
  if (local.kind != MemKind::kDram && local.kind != MemKind::kVram)
    return InvalidArgument("the local list must be DRAM or VRAM, not " +
                           std::string(MemKindName(local.kind)));
  // Empty index spans mean "every descriptor, in order" (CreateTransfer's form).
  const bool all = local_idx.empty();
  const size_t n = all ? local.descs.size() : local_idx.size();
  if (n == 0) return InvalidArgument("transfer has no descriptors");
  if (n > UINT32_MAX) return InvalidArgument("too many descriptors");

  // Segments (md filled per candidate backend), and the pairs of registrations they use.
  std::vector<IoSegment> segs(n);
  std::vector<std::pair<const RegEntry*, const RegEntry*>> regs(n);
  std::vector<const RegEntry*> entries;  // the registrations this transfer touches
  uint64_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t li = all ? uint32_t(i) : local_idx[i];
    const uint32_t ti = all ? uint32_t(i) : target_idx[i];
    if (li >= local.descs.size())
      return {Code::kOutOfRange, "local index " + std::to_string(li) + " at position " +
                                     std::to_string(i) + " is beyond the prepped list of " +
                                     std::to_string(local.descs.size())};
    if (ti >= target.descs.size())
      return {Code::kOutOfRange, "target index " + std::to_string(ti) + " at position " +
                                     std::to_string(i) + " is beyond the prepped list of " +
                                     std::to_string(target.descs.size())};
    const ResolvedDesc& l = local.descs[li];
    const ResolvedDesc& t = target.descs[ti];
    if (l.desc.len != t.desc.len)
      return InvalidArgument("descriptor pair " + std::to_string(i) + " has lengths " +
                             std::to_string(l.desc.len) + " (local) and " +
                             std::to_string(t.desc.len) + " (target); they must match");
    segs[i] = IoSegment{l.desc.addr, t.desc.addr, l.desc.len, nullptr, nullptr, uint32_t(i)};
    regs[i] = {l.entry, t.entry};
    bytes += l.desc.len;
    for (const RegEntry* e : {l.entry, t.entry})
      if (entries.empty() || entries.back() != e) entries.push_back(e);
  }
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());

  const std::string pair = std::string(MemKindName(local.kind)) + "->" +
                           std::string(MemKindName(target.kind)) + " " + XferOpName(op);
  auto holds_all = [&](const BackendEntry* be) {
    for (const RegEntry* e : entries)
      if (!e->MdFor(be)) return false;
    return true;
  };
  std::vector<std::shared_ptr<BackendEntry>> candidates;
  if (options.backend.valid()) {
    auto be = FindBackend(options.backend);
    if (!be) return NotFound("no backend with id " + std::to_string(options.backend.value));
    if (!be->Covers(local.kind, target.kind, op))
      return Unsupported("backend " + be->plugin + " does not move " + pair);
    if (!holds_all(be.get()))
      return Unsupported("backend " + be->plugin +
                         " does not hold these registrations (register them with it)");
    candidates.push_back(std::move(be));
  } else {
    // Under the lock, without copying the whole backend list: this runs per transfer.
    std::shared_lock lk(backends_mu_);
    for (const auto& be : backends_)
      if (be && !be->retired.load(std::memory_order_relaxed) &&
          be->Covers(local.kind, target.kind, op) && holds_all(be.get()))
        candidates.push_back(be);
    lk.unlock();
    if (candidates.empty()) {
      std::string why = "no backend can move " + pair + " with both lists' registrations";
      for (const RegEntry* e : entries)
        for (const auto& [be, reason] : e->refusals)
          if (be->Covers(local.kind, target.kind, op) && why.find(reason) == std::string::npos)
            why += "; " + reason;
      return Unsupported(why);
    }
  }

  // The first candidate that accepts the request; kUnsupported passes it on.
  const PrepareSpec spec{op, local.kind, target.kind, options.args};
  std::unique_ptr<BackendRequest> req;
  std::shared_ptr<BackendEntry> chosen;
  std::string refusals;
  for (auto& be : candidates) {
    for (size_t i = 0; i < n; ++i) {
      segs[i].local_md = regs[i].first->MdFor(be.get());
      segs[i].target_md = regs[i].second->MdFor(be.get());
    }
    Status s = be->backend->Prepare(spec, segs, &req);
    if (s.ok()) {
      chosen = std::move(be);
      break;
    }
    if (s.code() != Code::kUnsupported || options.backend.valid())
      return s.WithContext("backend " + be->plugin);
    refusals += (refusals.empty() ? "" : "; ") + be->plugin + ": " + s.message();
  }
  if (!chosen) return Unsupported("every backend that moves " + pair + " refused: " + refusals);
  // The transfer keeps the registrations it may touch alive by holding both prepped lists.
  std::vector<std::shared_ptr<const PreppedList>> holds = {local.shared_from_this(),
                                                           target.shared_from_this()};
  auto state =
      std::make_shared<TransferState>(op, std::move(chosen), std::move(req), std::move(holds),
                                      bytes, uint32_t(n), options.completion_queue, options.tag);
  out->reset(new Transfer(std::move(state)));
  return Status::Ok();
}

}  // namespace ferry
