#include "ferry/agent.h"

#include <algorithm>
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
Status Agent::QueryMem(const MemDescList& list, std::vector<QueryResult>* out, BackendId backend) {
  return impl_->QueryMem(list, out, backend);
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
  entry->kinds = lp->info.mem_kinds;
  s = lp->spec->Create(values, &entry->backend);
  if (!s.ok()) return s.WithContext("creating backend " + lp->info.name);
  if (!entry->backend) return Internal("plugin " + lp->info.name + " created no backend");
  std::unique_lock lk(backends_mu_);
  entry->id.value = static_cast<uint32_t>(backends_.size() + 1);
  backends_.push_back(entry);
  *out = entry->id;
  return Status::Ok();
}

std::shared_ptr<BackendEntry> AgentImpl::FindBackend(BackendId id) const {
  std::shared_lock lk(backends_mu_);
  if (id.value == 0 || id.value > backends_.size()) return nullptr;
  return backends_[id.value - 1];
}

Status AgentImpl::RegisterMem(const MemDescList& list, RegHandle* out, const RegOptions& options) {
  std::vector<std::shared_ptr<BackendEntry>> chosen;
  if (!options.backends.empty()) {
    for (BackendId id : options.backends) {
      auto be = FindBackend(id);
      if (!be) return NotFound("no backend with id " + std::to_string(id.value));
      if (!be->Supports(list.kind))
        return Unsupported("backend " + be->plugin + " does not support " +
                           std::string(MemKindName(list.kind)) + " memory");
      chosen.push_back(std::move(be));
    }
  } else {
    std::shared_lock lk(backends_mu_);
    for (const auto& be : backends_)
      if (be->Supports(list.kind)) chosen.push_back(be);
  }
  if (chosen.empty())
    return Unsupported("no backend created on this agent supports " +
                       std::string(MemKindName(list.kind)) + " memory");
  return registry_.Register(list, chosen, out);
}

Status AgentImpl::QueryMem(const MemDescList& list, std::vector<QueryResult>* out,
                           BackendId backend) {
  std::vector<std::shared_ptr<BackendEntry>> candidates;
  if (backend.valid()) {
    auto be = FindBackend(backend);
    if (!be) return NotFound("no backend with id " + std::to_string(backend.value));
    candidates.push_back(std::move(be));
  } else {
    std::shared_lock lk(backends_mu_);
    for (const auto& be : backends_)
      if (be->Supports(list.kind)) candidates.push_back(be);
  }
  for (const auto& be : candidates) {
    Status s = be->backend->Query(list.kind, list.descs, out);
    if (s.code() != Code::kUnsupported) return s;
  }
  return Unsupported("no backend answers queries for " + std::string(MemKindName(list.kind)));
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
                               std::span<const uint32_t> local_idx, const PreppedList& remote,
                               std::span<const uint32_t> remote_idx, std::unique_ptr<Transfer>* out,
                               const XferOptions& options) {
  if (local.kind != MemKind::kDram && local.kind != MemKind::kVram)
    return InvalidArgument("the local list must be DRAM or VRAM, not " +
                           std::string(MemKindName(local.kind)));
  // Empty index spans mean "every descriptor, in order" (CreateTransfer's form).
  const bool all = local_idx.empty();
  const size_t n = all ? local.descs.size() : local_idx.size();
  if (n == 0) return InvalidArgument("transfer has no descriptors");
  if (n > UINT32_MAX) return InvalidArgument("too many descriptors");

  std::vector<IoSegment> segs(n);
  std::vector<const RegEntry*> entries;  // the registrations this transfer touches
  uint64_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t li = all ? uint32_t(i) : local_idx[i];
    const uint32_t ri = all ? uint32_t(i) : remote_idx[i];
    if (li >= local.descs.size())
      return {Code::kOutOfRange, "local index " + std::to_string(li) + " at position " +
                                     std::to_string(i) + " is beyond the prepped list of " +
                                     std::to_string(local.descs.size())};
    if (ri >= remote.descs.size())
      return {Code::kOutOfRange, "target index " + std::to_string(ri) + " at position " +
                                     std::to_string(i) + " is beyond the prepped list of " +
                                     std::to_string(remote.descs.size())};
    const ResolvedDesc& l = local.descs[li];
    const ResolvedDesc& r = remote.descs[ri];
    if (l.desc.len != r.desc.len)
      return InvalidArgument("descriptor pair " + std::to_string(i) + " has lengths " +
                             std::to_string(l.desc.len) + " (local) and " +
                             std::to_string(r.desc.len) + " (target); they must match");
    segs[i] = IoSegment{l.desc.addr, r.desc.addr, l.desc.len, nullptr, nullptr, uint32_t(i)};
    bytes += l.desc.len;
    for (const RegEntry* e : {l.entry, r.entry})
      if (entries.empty() || entries.back() != e) entries.push_back(e);
  }
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());

  // Deterministic backend choice: the forced one, else the first in creation order with
  // which every registration involved is registered and which supports both kinds.
  auto usable = [&](const BackendEntry* be) {
    if (!be->Supports(local.kind) || !be->Supports(remote.kind)) return false;
    for (const RegEntry* e : entries)
      if (!e->MdFor(be)) return false;
    return true;
  };
  std::shared_ptr<BackendEntry> chosen;
  if (options.backend.valid()) {
    chosen = FindBackend(options.backend);
    if (!chosen) return NotFound("no backend with id " + std::to_string(options.backend.value));
    if (!usable(chosen.get()))
      return Unsupported("backend " + chosen->plugin + " cannot move " +
                         std::string(MemKindName(local.kind)) + " <-> " +
                         std::string(MemKindName(remote.kind)) +
                         " with these registrations (register them with it)");
  } else {
    std::shared_lock lk(backends_mu_);
    for (const auto& be : backends_)
      if (usable(be.get())) {
        chosen = be;
        break;
      }
    if (!chosen)
      return Unsupported("no backend can move " + std::string(MemKindName(local.kind)) + " <-> " +
                         std::string(MemKindName(remote.kind)) + " with both lists' registrations");
  }
  for (size_t i = 0; i < n; ++i) {
    const uint32_t li = all ? uint32_t(i) : local_idx[i];
    const uint32_t ri = all ? uint32_t(i) : remote_idx[i];
    segs[i].local_md = local.descs[li].entry->MdFor(chosen.get());
    segs[i].remote_md = remote.descs[ri].entry->MdFor(chosen.get());
  }

  std::unique_ptr<BackendRequest> req;
  Status s = chosen->backend->Prepare(op, local.kind, remote.kind, segs, &req);
  if (!s.ok()) return s;
  // The transfer keeps the registrations it may touch alive by holding both prepped lists.
  std::vector<std::shared_ptr<const PreppedList>> holds = {local.shared_from_this(),
                                                           remote.shared_from_this()};
  auto state =
      std::make_shared<TransferState>(op, std::move(chosen), std::move(req), std::move(holds),
                                      bytes, uint32_t(n), options.completion_queue, options.tag);
  out->reset(new Transfer(std::move(state)));
  return Status::Ok();
}

}  // namespace ferry
