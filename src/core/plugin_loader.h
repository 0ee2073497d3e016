// Finds plugins: statically linked ones, and shared libraries named libferry_plugin_*.so in
// the plugin directories. Loaded libraries stay loaded for the life of the process, so a
// backend's code outlives every object it created.
#pragma once

#include <string>
#include <vector>

#include "ferry/agent.h"
#include "ferry/backend.h"

namespace ferry {

struct LoadedPlugin {
  PluginInfo info;
  const PluginSpec* spec = nullptr;  // null when !info.usable
};

// "libferry_plugin_posix.so" -> "POSIX": the name a plugin that cannot be loaded is listed
// under, so that CreateBackend("POSIX") reports why it failed to load.
std::string PluginNameFromFile(const std::string& file);

// Directories searched: `configured` if non-empty, else $FERRY_PLUGIN_DIR (':'-separated),
// else the directory holding libferry.
std::vector<std::string> PluginDirs(const std::string& configured);

// Every plugin found (static first, then by directory order; a name seen twice keeps the
// first). Thread-safe; results are cached per directory list.
std::vector<LoadedPlugin> DiscoverPlugins(const std::vector<std::string>& dirs);

}  // namespace ferry
