#include "registry.h"

#include <algorithm>
#include <limits>
#include <mutex>
#include <string>

namespace ferry {
namespace {

constexpr uint64_t kOpenEnd = std::numeric_limits<uint64_t>::max();

std::string Range(uint64_t start, uint64_t end) {
  std::string r = "[" + std::to_string(start) + ", ";
  r += end == kOpenEnd ? std::string("end of file") : std::to_string(end);
  return r + ")";
}

std::string Where(MemKind kind, uint64_t dev_id) {
  std::string w(MemKindName(kind));
  if (kind == MemKind::kFile)
    w += " file id " + std::to_string(dev_id);
  else if (kind != MemKind::kDram)
    w += " device " + std::to_string(dev_id);
  return w;
}

}  // namespace

RegEntry::~RegEntry() {
  for (auto& [be, md] : mds) be->backend->DeregisterMem(kind, md);
}

void* RegEntry::MdFor(const BackendEntry* be) const {
  for (const auto& [b, md] : mds)
    if (b.get() == be) return md;
  return nullptr;
}

Status Registry::CheckFree(MemKind kind, const MemDesc& d, uint64_t end, size_t i) const {
  const auto& kind_index = index_[static_cast<int>(kind)];
  auto dev_it = kind_index.find(d.dev_id);
  if (dev_it == kind_index.end()) return Status::Ok();
  auto overlap = [&](const RegEntry& e) -> Status {
    if (!(d.addr < e.end && e.desc.addr < end)) return Status::Ok();
    return {Code::kAlreadyExists, "descriptor " + std::to_string(i) + " " + Range(d.addr, end) +
                                      " overlaps registered " + Where(kind, d.dev_id) + " region " +
                                      Range(e.desc.addr, e.end)};
  };
  auto it = dev_it->second.upper_bound(d.addr);
  if (it != dev_it->second.end()) {
    Status s = overlap(*it->second);
    if (!s.ok()) return s;
  }
  if (it != dev_it->second.begin()) return overlap(*std::prev(it)->second);
  return Status::Ok();
}

Status Registry::Register(const MemDescList& list,
                          const std::vector<std::shared_ptr<BackendEntry>>& backends,
                          RegHandle* out) {
  if (list.descs.empty()) return InvalidArgument("registration list is empty");
  const size_t n = list.descs.size();
  auto at = [](size_t i) { return "descriptor " + std::to_string(i); };

  // 1. Each descriptor on its own, and against the others of this list (sorted by start).
  std::vector<uint64_t> ends(n);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) {
    const MemDesc& d = list.descs[i];
    if (d.len == 0) {
      if (list.kind != MemKind::kFile && list.kind != MemKind::kObj)
        return InvalidArgument(at(i) +
                               ": length 0 (only FILE and OBJ registrations may be open-ended)");
      ends[i] = kOpenEnd;
    } else if (d.addr > kOpenEnd - d.len) {
      return InvalidArgument(at(i) + ": address + length overflows");
    } else {
      ends[i] = d.addr + d.len;
    }
    if ((list.kind == MemKind::kDram || list.kind == MemKind::kVram) && d.addr == 0)
      return InvalidArgument(at(i) + ": null address");
    order[i] = i;
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const MemDesc &x = list.descs[a], &y = list.descs[b];
    return x.dev_id != y.dev_id ? x.dev_id < y.dev_id : x.addr < y.addr;
  });
  for (size_t k = 1; k < n; ++k) {
    const size_t a = order[k - 1], b = order[k];
    if (list.descs[a].dev_id == list.descs[b].dev_id && list.descs[b].addr < ends[a]) {
      const size_t later = std::max(a, b);
      return {Code::kAlreadyExists, at(later) + " " + Range(list.descs[later].addr, ends[later]) +
                                        " overlaps descriptor " + std::to_string(std::min(a, b))};
    }
  }

  // 2. Against what is registered: fail fast, before any backend work.
  {
    std::shared_lock lk(mu_);
    for (size_t i = 0; i < n; ++i) {
      Status s = CheckFree(list.kind, list.descs[i], ends[i], i);
      if (!s.ok()) return s;
    }
  }

  // 3. With the backends, outside the lock: opening files and pinning buffers must not
  // stall every transfer creation of the agent. On failure the entries made so far
  // unwind (their destructors deregister).
  std::vector<std::shared_ptr<RegEntry>> entries;
  entries.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto entry = std::make_shared<RegEntry>();
    entry->kind = list.kind;
    entry->desc = list.descs[i];
    entry->end = ends[i];
    for (const auto& be : backends) {
      void* md = nullptr;
      Status s = be->backend->RegisterMem(list.kind, list.descs[i], &md);
      if (s.code() == Code::kUnsupported) {
        // Not this backend's memory (GDS and a file on tmpfs, say): the others may take it.
        entry->refusals.emplace_back(be.get(), be->plugin + ": " + s.message());
        continue;
      }
      if (!s.ok()) return s.WithContext(at(i) + " (" + be->plugin + ")");
      entry->mds.emplace_back(be, md);
    }
    if (entry->mds.empty() && !entry->refusals.empty()) {
      std::string why = at(i) + ": no backend takes this " + std::string(MemKindName(list.kind));
      for (const auto& [be, reason] : entry->refusals) why += "; " + reason;
      return Unsupported(why);
    }
    entries.push_back(std::move(entry));
  }

  // 4. Publish, unless a registration that raced with this one took an overlapping range.
  std::unique_lock lk(mu_);
  for (size_t i = 0; i < n; ++i) {
    Status s = CheckFree(list.kind, list.descs[i], ends[i], i);
    if (!s.ok()) {
      lk.unlock();  // the entries unwind outside the lock
      return s;
    }
  }
  auto& kind_index = index_[static_cast<int>(list.kind)];
  for (const auto& e : entries) kind_index[e->desc.dev_id][e->desc.addr] = e;
  out->value = next_handle_++;
  handles_[out->value] = std::move(entries);
  return Status::Ok();
}

Status Registry::Deregister(RegHandle handle) {
  std::vector<std::shared_ptr<RegEntry>> entries;
  {
    std::unique_lock lk(mu_);
    auto it = handles_.find(handle.value);
    if (it == handles_.end())
      return {Code::kReleased, "registration handle " + std::to_string(handle.value) +
                                   " is unknown or already deregistered"};
    entries = std::move(it->second);
    handles_.erase(it);
    for (const auto& e : entries) {
      auto& dev = index_[static_cast<int>(e->kind)];
      auto d = dev.find(e->desc.dev_id);
      d->second.erase(e->desc.addr);
      if (d->second.empty()) dev.erase(d);
    }
  }
  // Backends forget the regions here, outside the lock, unless a transfer still holds them.
  entries.clear();
  return Status::Ok();
}

Status Registry::Resolve(const XferDescList& list, std::vector<ResolvedDesc>* out,
                         std::vector<std::shared_ptr<const RegEntry>>* holds) const {
  out->clear();
  out->reserve(list.descs.size());
  std::shared_lock lk(mu_);
  const auto& kind_index = index_[static_cast<int>(list.kind)];
  const RegEntry* last = nullptr;
  for (size_t i = 0; i < list.descs.size(); ++i) {
    const XferDesc& d = list.descs[i];
    auto at = [&] {
      return std::string(MemKindName(list.kind)) + " descriptor " + std::to_string(i);
    };
    if (d.len == 0) return InvalidArgument(at() + " has length 0");
    if (d.addr > kOpenEnd - d.len) return InvalidArgument(at() + ": address + length overflows");
    const uint64_t end = d.addr + d.len;
    // Consecutive descriptors usually fall in the same registration: skip the map lookup.
    const RegEntry* e = nullptr;
    if (last && last->desc.dev_id == d.dev_id && d.addr >= last->desc.addr && d.addr < last->end) {
      e = last;
    } else {
      auto dev_it = kind_index.find(d.dev_id);
      if (dev_it != kind_index.end()) {
        auto it = dev_it->second.upper_bound(d.addr);
        if (it != dev_it->second.begin()) {
          --it;
          if (d.addr < it->second->end) {
            e = it->second.get();
            holds->push_back(it->second);  // deduplicated below
          }
        }
      }
    }
    if (!e)
      return {Code::kNotRegistered, at() + " " + Range(d.addr, end) + " of " +
                                        Where(list.kind, d.dev_id) + " is not registered"};
    if (end > e->end)
      return {Code::kOutOfRange, at() + " " + Range(d.addr, end) +
                                     " extends past its registration " +
                                     Range(e->desc.addr, e->end)};
    out->push_back({d, e});
    last = e;
  }
  std::sort(holds->begin(), holds->end());
  holds->erase(std::unique(holds->begin(), holds->end()), holds->end());
  return Status::Ok();
}

}  // namespace ferry
