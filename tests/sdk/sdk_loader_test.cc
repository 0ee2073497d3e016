// The plugin loader and SDK v3's entry symbol.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

TEST(SdkLoaderTest, APluginOfTheOldApiIsListedAsUnusableWithWhatToDo) {
  AgentConfig config;
  config.plugin_dir = FERRY_OLD_PLUGIN_DIR;
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(Agent::Create("a", config, &agent));
  const std::vector<PluginInfo> plugins = agent->ListPlugins();
  ASSERT_EQ(plugins.size(), 1u);
  EXPECT_EQ(plugins[0].name, "OLDAPI");
  EXPECT_FALSE(plugins[0].usable);
  EXPECT_THAT(plugins[0].error, ::testing::HasSubstr("rebuild"));
  BackendId id;
  Status s = agent->CreateBackend("OLDAPI", {}, &id);
  EXPECT_EQ(s.code(), Code::kUnsupported);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("ferry_plugin_entry_v1"));
}

TEST(SdkLoaderTest, SecretDefaultsAndValuesAreNeverShown) {
  std::unique_ptr<Agent> agent;
  FERRY_ASSERT_OK(test::MakeAgent(&agent));
  BackendId id;
  Status s = agent->CreateBackend("TESTDOUBLE", {{"token", "hunter2"}, {"tokn", "x"}}, &id);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("tokn"));
  EXPECT_THAT(s.message(), ::testing::Not(::testing::HasSubstr("hunter2")));
  FERRY_EXPECT_OK(agent->CreateBackend("TESTDOUBLE", {{"token", "hunter2"}}, &id));
}

}  // namespace
}  // namespace ferry
