#include "plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>

namespace ferry {
namespace {

std::mutex g_mu;
std::vector<FerryPluginEntry>& StaticEntries() {
  static std::vector<FerryPluginEntry> entries;
  return entries;
}

LoadedPlugin Describe(const PluginSpec* spec, std::string path) {
  LoadedPlugin lp;
  lp.info.path = std::move(path);
  if (spec->api_version() != kPluginApiVersion) {
    lp.info.name = spec->name();
    lp.info.usable = false;
    lp.info.error = "plugin API version " + std::to_string(spec->api_version()) +
                    ", this libferry speaks " + std::to_string(kPluginApiVersion);
    return lp;
  }
  lp.spec = spec;
  lp.info.name = spec->name();
  lp.info.version = spec->version();
  lp.info.capabilities = spec->capabilities();
  lp.info.params = spec->params();
  return lp;
}

constexpr std::string_view kFilePrefix = "libferry_plugin_";
constexpr std::string_view kFileSuffix = ".so";

}  // namespace

// "libferry_plugin_posix.so" -> "POSIX", used as the name of a plugin that failed to load.
std::string PluginNameFromFile(const std::string& file) {
  std::string n =
      file.substr(kFilePrefix.size(), file.size() - kFilePrefix.size() - kFileSuffix.size());
  std::transform(n.begin(), n.end(), n.begin(), ::toupper);
  return n;
}

namespace {

void ScanDir(const std::string& dir, std::vector<LoadedPlugin>* out) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    std::string f = e->d_name;
    if (f.size() > kFilePrefix.size() + kFileSuffix.size() && f.starts_with(kFilePrefix) &&
        f.ends_with(kFileSuffix))
      files.push_back(f);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::string path = dir + "/" + f;
    // RTLD_LOCAL: two plugins may use clashing private symbols. Never dlclose'd.
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    LoadedPlugin lp;
    lp.info.path = path;
    lp.info.name = PluginNameFromFile(f);
    lp.info.usable = false;
    if (!h) {
      const char* err = dlerror();
      lp.info.error = std::string("cannot load: ") + (err ? err : "unknown dlopen error");
      out->push_back(std::move(lp));
      continue;
    }
    auto entry = reinterpret_cast<FerryPluginEntry>(dlsym(h, FERRY_PLUGIN_ENTRY_NAME));
    if (!entry) {
      // Plugins of API 1 and 2 exported a versioned symbol.
      lp.info.error = dlsym(h, "ferry_plugin_entry_v1") != nullptr
                          ? "built for Ferry plugin API 1 or 2 (ferry_plugin_entry_v1); "
                            "rebuild it against this release's ferry/backend.h (API " +
                                std::to_string(kPluginApiVersion) + ")"
                          : "no entry point " FERRY_PLUGIN_ENTRY_NAME " (not a Ferry plugin)";
      out->push_back(std::move(lp));
      continue;
    }
    const PluginSpec* spec = entry();
    if (!spec) {
      lp.info.error = "entry point returned no plugin";
      out->push_back(std::move(lp));
      continue;
    }
    out->push_back(Describe(spec, path));
  }
}

}  // namespace

void RegisterStaticPlugin(FerryPluginEntry entry) {
  std::lock_guard lk(g_mu);
  StaticEntries().push_back(entry);
}

std::vector<std::string> PluginDirs(const std::string& configured) {
  std::string spec = configured;
  if (spec.empty()) {
    if (const char* env = std::getenv("FERRY_PLUGIN_DIR"); env && *env) spec = env;
  }
  std::vector<std::string> dirs;
  if (!spec.empty()) {
    size_t start = 0;
    while (start <= spec.size()) {
      size_t colon = spec.find(':', start);
      if (colon == std::string::npos) colon = spec.size();
      if (colon > start) dirs.push_back(spec.substr(start, colon - start));
      start = colon + 1;
    }
    return dirs;
  }
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&PluginDirs), &info) && info.dli_fname) {
    std::string lib = info.dli_fname;
    size_t slash = lib.rfind('/');
    dirs.push_back(slash == std::string::npos ? "." : lib.substr(0, slash));
  }
  return dirs;
}

std::vector<LoadedPlugin> DiscoverPlugins(const std::vector<std::string>& dirs) {
  std::lock_guard lk(g_mu);
  static std::map<std::vector<std::string>, std::vector<LoadedPlugin>> cache;
  std::vector<LoadedPlugin> all;
  for (auto entry : StaticEntries())
    if (const PluginSpec* spec = entry()) all.push_back(Describe(spec, "(static)"));
  auto it = cache.find(dirs);
  if (it == cache.end()) {
    std::vector<LoadedPlugin> found;
    for (const auto& d : dirs) ScanDir(d, &found);
    it = cache.emplace(dirs, std::move(found)).first;
  }
  for (const auto& lp : it->second) all.push_back(lp);
  // First occurrence of a name wins: static plugins, then directories in order.
  std::vector<LoadedPlugin> unique;
  for (auto& lp : all) {
    bool seen = std::any_of(unique.begin(), unique.end(),
                            [&](const LoadedPlugin& u) { return u.info.name == lp.info.name; });
    if (!seen) unique.push_back(std::move(lp));
  }
  std::sort(unique.begin(), unique.end(),
            [](const LoadedPlugin& a, const LoadedPlugin& b) { return a.info.name < b.info.name; });
  return unique;
}

}  // namespace ferry
