// Agent::Create and Agent::ListPlugins.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using test::MakeAgent;
using ::testing::Contains;
using ::testing::HasSubstr;

const PluginInfo* FindPlugin(const std::vector<PluginInfo>& plugins, std::string_view name) {
  for (const PluginInfo& p : plugins) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const ParamSpec* FindParam(const PluginInfo& p, std::string_view name) {
  for (const ParamSpec& s : p.params) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

bool HasAlias(const ParamSpec& s, std::string_view alias, std::string_view value) {
  return std::any_of(s.aliases.begin(), s.aliases.end(),
                     [&](const ParamAlias& a) { return a.name == alias && a.value == value; });
}

TEST(AgentCreateTest, EmptyNameFails) {
  std::unique_ptr<Agent> agent;
  Status s = Agent::Create("", AgentConfig{}, &agent);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(s.message().empty());
  EXPECT_EQ(agent, nullptr);
}

TEST(AgentCreateTest, KeepsItsName) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(MakeAgent(&agent, "prefill-0"));
  ASSERT_NE(agent, nullptr);
  EXPECT_EQ(agent->name(), "prefill-0");
}

TEST(AgentCreateTest, ManyAgentsInOneProcess) {
  std::unique_ptr<Agent> a, b;
  FERRY_ASSERT_OK(MakeAgent(&a, "a"));
  FERRY_ASSERT_OK(MakeAgent(&b, "b"));
  EXPECT_EQ(a->name(), "a");
  EXPECT_EQ(b->name(), "b");
}

TEST(ListPluginsTest, PosixOffersDramAndFileAndVramWithCuda) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(MakeAgent(&agent));
  std::vector<PluginInfo> plugins = agent->ListPlugins();
  const PluginInfo* posix = FindPlugin(plugins, "POSIX");
  const char* env = std::getenv("FERRY_PLUGIN_DIR");
  ASSERT_NE(posix, nullptr) << "POSIX plugin not found; FERRY_PLUGIN_DIR="
                            << (env != nullptr ? env : "(unset)");
  EXPECT_TRUE(posix->usable) << posix->error;
  EXPECT_FALSE(posix->version.empty());
  EXPECT_FALSE(posix->path.empty());
  // DRAM <-> FILE always; VRAM <-> FILE (staged) when built with CUDA.
#ifdef FERRY_HAVE_CUDA
  ASSERT_EQ(posix->capabilities.size(), 2u);
  EXPECT_EQ(CapabilityName(posix->capabilities[1]), "VRAM->FILE read/write");
#else
  ASSERT_EQ(posix->capabilities.size(), 1u);
  EXPECT_FALSE(AnyNames(posix->capabilities, MemKind::kVram));
#endif
  const Capability& c = posix->capabilities[0];
  EXPECT_EQ(c.local, MemKind::kDram);
  EXPECT_EQ(c.target, MemKind::kFile);
  EXPECT_TRUE(c.read && c.write);
  EXPECT_EQ(CapabilityName(c), "DRAM->FILE read/write");
}

TEST(ListPluginsTest, SortedByName) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(MakeAgent(&agent));
  std::vector<PluginInfo> plugins = agent->ListPlugins();
  EXPECT_TRUE(
      std::is_sorted(plugins.begin(), plugins.end(),
                     [](const PluginInfo& a, const PluginInfo& b) { return a.name < b.name; }));
}

TEST(ListPluginsTest, PosixSchemaIsComplete) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(MakeAgent(&agent));
  std::vector<PluginInfo> plugins = agent->ListPlugins();
  const PluginInfo* posix = FindPlugin(plugins, "POSIX");
  ASSERT_NE(posix, nullptr);
  ASSERT_FALSE(posix->params.empty());
  for (const ParamSpec& p : posix->params) {
    SCOPED_TRACE(p.name);
    EXPECT_FALSE(p.name.empty());
    EXPECT_FALSE(p.doc.empty());
    EXPECT_EQ(p.doc.find('\n'), std::string::npos) << "doc must be one line";
    EXPECT_FALSE(ParamTypeName(p.type).empty());
    // The default must be a valid value of its own type.
    switch (p.type) {
      case ParamType::kBool: {
        bool b;
        EXPECT_TRUE(ParseBool(p.default_value, &b)) << p.default_value;
        break;
      }
      case ParamType::kInt: {
        int64_t i;
        EXPECT_TRUE(ParseInt(p.default_value, &i)) << p.default_value;
        break;
      }
      case ParamType::kSize: {
        uint64_t u;
        EXPECT_TRUE(ParseSize(p.default_value, &u)) << p.default_value;
        break;
      }
      case ParamType::kEnum:
        EXPECT_FALSE(p.choices.empty());
        EXPECT_THAT(p.choices, Contains(p.default_value));
        break;
      case ParamType::kString:
      case ParamType::kSecret:
        break;
    }
  }
  // Every schema can be built from its own defaults.
  ParamValues values;
  Status s = ParamValues::Build(posix->params, {}, &values);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(ListPluginsTest, PosixSchemaHasEnginesQueueDepthAndNixlAliases) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(MakeAgent(&agent));
  std::vector<PluginInfo> plugins = agent->ListPlugins();
  const PluginInfo* posix = FindPlugin(plugins, "POSIX");
  ASSERT_NE(posix, nullptr);
  const ParamSpec* engine = FindParam(*posix, test::kEngineKey);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->type, ParamType::kEnum);
  for (const std::string& e : test::kEngines) EXPECT_THAT(engine->choices, Contains(e));
  EXPECT_TRUE(HasAlias(*engine, "use_uring", "uring"));
  EXPECT_TRUE(HasAlias(*engine, "use_aio", "aio"));
  const ParamSpec* depth = FindParam(*posix, test::kQueueDepthKey);
  ASSERT_NE(depth, nullptr);
  EXPECT_TRUE(HasAlias(*depth, "kernel_queue_size", ""));
  EXPECT_NE(FindParam(*posix, test::kMaxRequestKey), nullptr);
}

// A plugin directory holding a file that is not a loadable plugin: the agent still starts,
// lists that file as unusable with a reason, and keeps the good plugin.
TEST(ListPluginsTest, BrokenPluginIsListedAsUnusable) {
  const char* real_dir = std::getenv("FERRY_PLUGIN_DIR");
  if (real_dir == nullptr) GTEST_SKIP() << "needs FERRY_PLUGIN_DIR (set by ctest)";
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string posix_file;
  for (const auto& e : std::filesystem::directory_iterator(real_dir)) {
    std::string name = e.path().filename().string();
    if (name.find("posix") != std::string::npos && name.find(".so") != std::string::npos) {
      posix_file = name;
    }
  }
  ASSERT_FALSE(posix_file.empty()) << "no POSIX plugin file in " << real_dir;
  std::filesystem::copy_file(std::string(real_dir) + "/" + posix_file, dir.File(posix_file));
  // Same naming pattern as the real plugin, garbage content.
  std::string broken = posix_file;
  broken.replace(broken.find("posix"), 5, "broken");
  std::ofstream(dir.File(broken)) << "this is not an ELF file\n";

  AgentConfig config;
  config.plugin_dir = dir.path();
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(Agent::Create("a", config, &agent));
  std::vector<PluginInfo> plugins = agent->ListPlugins();
  const PluginInfo* posix = FindPlugin(plugins, "POSIX");
  ASSERT_NE(posix, nullptr);
  EXPECT_TRUE(posix->usable) << posix->error;
  auto bad = std::find_if(plugins.begin(), plugins.end(), [&](const PluginInfo& p) {
    return p.path.find("broken") != std::string::npos;
  });
  ASSERT_NE(bad, plugins.end()) << "the broken file is not listed";
  EXPECT_FALSE(bad->usable);
  EXPECT_FALSE(bad->error.empty());
  EXPECT_EQ(bad->name, "BROKEN") << "named from its file, as CreateBackend would be asked";
  BackendId id;
  Status s = agent->CreateBackend(bad->name, {}, &id);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(id.valid());
}

// The most common deployment failure: the POSIX plugin is there but cannot load (a missing
// liburing, say). CreateBackend("POSIX") must say why, not "no plugin named POSIX".
TEST(ListPluginsTest, UnloadablePluginReportsTheLoaderReasonUnderItsOwnName) {
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::ofstream(dir.File("libferry_plugin_posix.so")) << "truncated download\n";
  AgentConfig config;
  config.plugin_dir = dir.path();
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(Agent::Create("a", config, &agent));
  const std::vector<PluginInfo> plugins = agent->ListPlugins();
  const PluginInfo* posix = FindPlugin(plugins, "POSIX");
  ASSERT_NE(posix, nullptr) << "listed as " << (plugins.empty() ? "nothing" : plugins[0].name);
  EXPECT_FALSE(posix->usable);
  BackendId id;
  Status s = agent->CreateBackend("POSIX", {}, &id);
  EXPECT_EQ(s.code(), Code::kUnsupported) << s.ToString();
  EXPECT_THAT(s.message(), ::testing::HasSubstr("cannot load"));
  EXPECT_THAT(s.message(), ::testing::Not(::testing::HasSubstr("no plugin named")));
}

}  // namespace
}  // namespace ferry
