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
         "most I/Os in one cuFile batch (1..4096; cuFile's properties.io_batchsize caps it)",
         {},
         {}},
        {"batch_pool_size",
         ParamType::kInt,
         "16",
         "cuFile batch handles; when all are busy, I/Os wait for one (1..1024)",
         {},
         {}},
    };
    for (auto& c : CommonParams()) p.push_back(std::move(c));
    return p;
  }
  Status Create(const ParamValues& p, std::unique_ptr<Backend>* out) const override {
    GdsOptions o = CommonOptions(p);
    o.batch_limit = p.GetInt("batch_limit");  // ranges are checked by GdsBackend::Create
    o.batch_pool_size = p.GetInt("batch_pool_size");
    return GdsBackend::Create(o, out);
  }
};

}  // namespace
}  // namespace ferry::gds

FERRY_DEFINE_PLUGIN(ferry::gds::GdsPluginSpec)
