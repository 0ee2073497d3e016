// What every chunk store does first: borrow the caller's agent (or make one) and create the
// backend named by nixl_backend with nixl_backend_params, naming a missing plugin and the
// ones that exist instead of a bare "not found".
#pragma once

#include <memory>

#include "chunk_store.h"

namespace ferry::kv {

Status OpenStoreBackend(const Config& config, const ChunkStore::Options& options,
                        std::unique_ptr<Agent>* owned_agent, Agent** agent, BackendId* backend);

}  // namespace ferry::kv
