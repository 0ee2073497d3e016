// The GDS plugin's face: cuFile's batch API, with NIXL's batch parameters.
#include "gds_params.h"

namespace ferry::gds {
namespace {

class GdsPluginSpec final : public PluginSpec {
 public:
  const char* name() const override { return "GDS"; }
  const char* version() const override { return "1.0"; }
  std::vector<Capability> capabilities() const override { return GdsCapabilities(); }
  std::vector<ParamSpec> params() const override {
    std::vector<ParamSpec> p = {
        {"batch_limit",
         ParamType::kInt,
         "128",
         "most I/Os in one cuFile batch (1..4096); cuFile's bounce buffers cap the I/Os in flight "
         "(README)",
         {},
         {}},
        {"batch_pool_size",
         ParamType::kInt,
         "16",
         "cuFile batch handles; when all are busy, I/Os wait for one (1..1024)",
         {},
         {}},
        {"buffered_threads",
         ParamType::kInt,
         "4",
         "threads running synchronous cuFile calls for files opened without O_DIRECT, which "
         "cuFile moves through the page cache in any mode (0 = batch API for those too; <= 1024)",
         {},
         {}},
        {"compat_batch",
         ParamType::kBool,
         "false",
         "in cuFile's compatibility mode (no nvidia-fs), O_DIRECT files use the batch API too; "
         "false: the synchronous calls of buffered files (README)",
         {},
         {}},
    };
    for (auto& c : CommonParams("16M")) p.push_back(std::move(c));
    return p;
  }
  Status Create(const ParamValues& p, std::unique_ptr<Backend>* out) const override {
    GdsOptions o = CommonOptions(p);
    o.batch_limit = p.GetInt("batch_limit");  // ranges are checked by GdsBackend::Create
    o.batch_pool_size = p.GetInt("batch_pool_size");
    o.buffered_threads = p.GetInt("buffered_threads");
    o.compat_batch = p.GetBool("compat_batch");
    return GdsBackend::Create(o, out);
  }
};

}  // namespace
}  // namespace ferry::gds

FERRY_DEFINE_PLUGIN(ferry::gds::GdsPluginSpec)
