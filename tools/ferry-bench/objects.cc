// ferry-bench's OBJ targets: one whole object per descriptor, so a WRITE is a PUT of the
// object and a READ a ranged GET of all of it, as an object store's clients use them.
#include <algorithm>

#include "runner.h"

namespace ferry_bench {
namespace {
// Distinct keys per case at most: enough that no two requests in flight share one.
constexpr uint64_t kMaxObjects = 4096;
}  // namespace

bool Runner::PrepareObjects(const Case& c, Geometry* g, ferry::RegHandle* reg,
                            std::shared_ptr<const ferry::PreppedList>* target, std::string* error) {
  const uint64_t in_flight = uint64_t{c.threads} * c.queue_depth * c.batch;
  const uint64_t n = std::min(kMaxObjects, std::max<uint64_t>(options_.files, in_flight));
  g->file_size = c.block_size;
  g->blocks_per_file = 1;
  g->target_count = n;
  ferry::MemDescList objs{ferry::MemKind::kObj, {}};
  ferry::XferDescList list{ferry::MemKind::kObj, {}};
  const std::string stem = options_.key_prefix + FormatSize(c.block_size) + ".";
  for (uint64_t i = 0; i < n; ++i) {
    objs.descs.push_back(ferry::MemDesc{0, 0, i + 1, stem + std::to_string(i)});
    list.descs.push_back({0, c.block_size, i + 1});
  }
  ferry::RegOptions ro;
  ro.backends = {backend_};
  ferry::Status st = agent_->RegisterMem(objs, reg, ro);
  if (!st.ok()) return *error = "registering objects: " + st.ToString(), false;
  st = agent_->PrepDescList(list, "", target);
  if (!st.ok()) return *error = "PrepDescList(objects): " + st.ToString(), false;
  const bool ready =
      std::find(objects_ready_.begin(), objects_ready_.end(), c.block_size) != objects_ready_.end();
  for (uint64_t i = 0; i < n; ++i) objects_.push_back(stem + std::to_string(i));
  if (IsWrite(c.op) || ready) {
    if (IsWrite(c.op)) objects_ready_.push_back(c.block_size);
    return true;
  }
  // Reads need the objects: written now, untimed, a buffer-full at a time.
  const uint64_t per_xfer = std::max<uint64_t>(1, std::min(n, buffer_size_ / c.block_size));
  for (uint64_t first = 0; first < n; first += per_xfer) {
    const uint64_t count = std::min(per_xfer, n - first);
    ferry::XferDescList local{ferry::MemKind::kDram, {}}, remote{ferry::MemKind::kObj, {}};
    for (uint64_t i = 0; i < count; ++i) {
      local.descs.push_back(
          {reinterpret_cast<uint64_t>(buffer_) + i * c.block_size, c.block_size, 0});
      remote.descs.push_back({0, c.block_size, first + i + 1});
    }
    std::unique_ptr<ferry::Transfer> x;
    ferry::XferOptions xo;
    xo.backend = backend_;
    st = agent_->CreateTransfer(ferry::XferOp::kWrite, local, remote, "", &x, xo);
    if (st.ok()) st = x->Post();
    if (st.ok()) st = x->Wait(std::chrono::seconds(600));
    if (!st.ok()) return *error = "writing the objects to read: " + st.ToString(), false;
  }
  objects_ready_.push_back(c.block_size);
  return true;
}

void Runner::RemoveObjects() {
  std::sort(objects_.begin(), objects_.end());
  objects_.erase(std::unique(objects_.begin(), objects_.end()), objects_.end());
  ferry::MemDescList names{ferry::MemKind::kObj, {}};
  for (const std::string& k : objects_) names.descs.push_back(ferry::ObjectKey(k));
  if (!names.descs.empty()) (void)agent_->RemoveMem(names, backend_);
  objects_.clear();
}

}  // namespace ferry_bench
