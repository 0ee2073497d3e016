#include "store_backend.h"

namespace ferry::kv {

Status OpenStoreBackend(const Config& config, const ChunkStore::Options& o,
                        std::unique_ptr<Agent>* owned_agent, Agent** agent, BackendId* backend) {
  *agent = o.agent;
  if (*agent == nullptr) {
    Status s = Agent::Create(o.agent_name, AgentConfig{}, owned_agent);
    if (!s.ok()) return s.WithContext("creating the agent");
    *agent = owned_agent->get();
  }
  std::string available;
  bool found = false;
  for (const PluginInfo& p : (*agent)->ListPlugins()) {
    if (!p.usable) continue;
    available += (available.empty() ? "" : ", ") + p.name;
    found |= p.name == config.nixl_backend;
  }
  if (!found) {
    for (const PluginInfo& p : (*agent)->ListPlugins())
      if (p.name == config.nixl_backend)
        return Unsupported("backend '" + config.nixl_backend + "' (" + p.path +
                           ") cannot be used: " + p.error);
    return Unsupported("backend '" + config.nixl_backend + "' is not available: no plugin named " +
                       config.nixl_backend +
                       " (available: " + (available.empty() ? "none" : available) + ")");
  }
  Params params;
  for (const auto& [k, v] : config.nixl_backend_params) params[k] = v;
  Status s = (*agent)->CreateBackend(config.nixl_backend, params, backend);
  if (!s.ok()) return s.WithContext("extra_config.nixl_backend_params");
  return Status::Ok();
}

}  // namespace ferry::kv
