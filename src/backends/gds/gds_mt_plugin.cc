// The GDS_MT plugin's face: a pool of threads issuing synchronous cuFile calls.
#include "gds_params.h"

namespace ferry::gds {
namespace {

class GdsMtPluginSpec final : public PluginSpec {
 public:
  const char* name() const override { return "GDS_MT"; }
  const char* version() const override { return "1.0"; }
  std::vector<Capability> capabilities() const override { return GdsCapabilities(); }
  std::vector<ParamSpec> params() const override {
    std::vector<ParamSpec> p = {
        {"thread_count",
         ParamType::kInt,
         "8",
         "threads issuing synchronous cuFile reads and writes (1..1024)",
         {},
         {}},
    };
    for (auto& c : CommonParams("32M")) p.push_back(std::move(c));
    return p;
  }
  Status Create(const ParamValues& p, std::unique_ptr<Backend>* out) const override {
    GdsOptions o = CommonOptions(p);
    o.multi_thread = true;
    o.thread_count = p.GetInt("thread_count");
    return GdsBackend::Create(o, out);
  }
};

}  // namespace
}  // namespace ferry::gds

FERRY_DEFINE_PLUGIN(ferry::gds::GdsMtPluginSpec)
