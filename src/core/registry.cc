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

Status Registry::Register(const MemDescList& list,
                          const std::vector<std::shared_ptr<BackendEntry>>& backends,
                          RegHandle* out) {
  if (list.descs.empty()) return InvalidArgument("registration list is empty");
  std::vector<std::shared_ptr<RegEntry>> entries;
  entries.reserve(list.descs.size());
  std::unique_lock lk(mu_);
  auto& kind_index = index_[static_cast<int>(list.kind)];

  for (size_t i = 0; i < list.descs.size(); ++i) {
    const MemDesc& d = list.descs[i];
    const std::string at = "descriptor " + std::to_string(i);
    uint64_t end;
    if (d.len == 0) {
      if (list.kind != MemKind::kFile)
        return InvalidArgument(at + ": length 0 (only FILE registrations may be open-ended)");
      end = kOpenEnd;
    } else if (d.addr > kOpenEnd - d.len) {
      return InvalidArgument(at + ": address + length overflows");
    } else {
      end = d.addr + d.len;
    }
    if ((list.kind == MemKind::kDram || list.kind == MemKind::kVram) && d.addr == 0)
      return InvalidArgument(at + ": null address");

    // Overlap with what is registered, and with earlier descriptors of this list.
    auto overlaps = [&](uint64_t s, uint64_t e) { return d.addr < e && s < end; };
    auto dev_it = kind_index.find(d.dev_id);
    if (dev_it != kind_index.end()) {
      auto it = dev_it->second.upper_bound(d.addr);
      if (it != dev_it->second.end() && overlaps(it->second->desc.addr, it->second->end))
        return {Code::kAlreadyExists, at + " " + Range(d.addr, end) + " overlaps registered " +
                                          Where(list.kind, d.dev_id) + " region " +
                                          Range(it->second->desc.addr, it->second->end)};
      if (it != dev_it->second.begin()) {
        --it;
        if (overlaps(it->second->desc.addr, it->second->end))
          return {Code::kAlreadyExists, at + " " + Range(d.addr, end) + " overlaps registered " +
                                            Where(list.kind, d.dev_id) + " region " +
                                            Range(it->second->desc.addr, it->second->end)};
      }
    }
    for (size_t j = 0; j < entries.size(); ++j) {
      const auto& e = entries[j];
      if (e->desc.dev_id == d.dev_id && overlaps(e->desc.addr, e->end))
        return {Code::kAlreadyExists,
                at + " " + Range(d.addr, end) + " overlaps descriptor " + std::to_string(j)};
    }

    auto entry = std::make_shared<RegEntry>();
    entry->kind = list.kind;
    entry->desc = d;
    entry->end = end;
    for (const auto& be : backends) {
      void* md = nullptr;
      Status s = be->backend->RegisterMem(list.kind, d, &md);
      if (!s.ok()) return s.WithContext(at + " (" + be->plugin + ")");  // entries unwind
      entry->mds.emplace_back(be, md);
    }
    entries.push_back(std::move(entry));
  }

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
    const std::string at = std::string(MemKindName(list.kind)) + " descriptor " + std::to_string(i);
    if (d.len == 0) return InvalidArgument(at + " has length 0");
    if (d.addr > kOpenEnd - d.len) return InvalidArgument(at + ": address + length overflows");
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
      return {Code::kNotRegistered, at + " " + Range(d.addr, end) + " of " +
                                        Where(list.kind, d.dev_id) + " is not registered"};
    if (end > e->end)
      return {Code::kOutOfRange, at + " " + Range(d.addr, end) + " extends past its registration " +
                                     Range(e->desc.addr, e->end)};
    out->push_back({d, e});
    last = e;
  }
  std::sort(holds->begin(), holds->end());
  holds->erase(std::unique(holds->begin(), holds->end()), holds->end());
  return Status::Ok();
}

}  // namespace ferry
