// Agent::CreateBackend: success per engine, unknown plugin, unknown and ill-typed keys.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/test_util.h"

namespace ferry {
namespace {

using test::kPosix;
using ::testing::HasSubstr;

class CreateBackendTest : public ::testing::Test {
 protected:
  void SetUp() override { FERRY_ASSERT_OK(test::MakeAgent(&agent_)); }
  std::unique_ptr<Agent> agent_;
};

TEST_F(CreateBackendTest, DefaultsWork) {
  BackendId id;
  FERRY_ASSERT_OK(agent_->CreateBackend(kPosix, {}, &id));
  EXPECT_TRUE(id.valid());
}

TEST_F(CreateBackendTest, EachEngine) {
  for (const std::string& engine : test::kEngines) {
    if (engine == "uring" && !test::KernelHasIoUring()) continue;
    BackendId id;
    Status s = agent_->CreateBackend(kPosix, test::EngineParams(engine), &id);
    EXPECT_TRUE(s.ok()) << engine << ": " << s.ToString();
    EXPECT_TRUE(id.valid()) << engine;
  }
}

TEST_F(CreateBackendTest, NixlAliases) {
  BackendId id;
  FERRY_EXPECT_OK(agent_->CreateBackend(kPosix, {{"use_aio", "true"}}, &id));
  if (test::KernelHasIoUring()) {
    FERRY_EXPECT_OK(agent_->CreateBackend(kPosix, {{"use_uring", "true"}}, &id));
  }
  FERRY_EXPECT_OK(agent_->CreateBackend(kPosix, {{"kernel_queue_size", "32"}}, &id));
}

TEST_F(CreateBackendTest, TwoBackendsGetDistinctIds) {
  BackendId a, b;
  FERRY_ASSERT_OK(agent_->CreateBackend(kPosix, {}, &a));
  FERRY_ASSERT_OK(agent_->CreateBackend(kPosix, {}, &b));
  EXPECT_FALSE(a == b);
}

TEST_F(CreateBackendTest, UnknownPluginIsNamed) {
  BackendId id;
  Status s = agent_->CreateBackend("NO_SUCH_PLUGIN", {}, &id);
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("NO_SUCH_PLUGIN"));
  EXPECT_FALSE(id.valid());
}

TEST_F(CreateBackendTest, EmptyPluginName) {
  BackendId id;
  Status s = agent_->CreateBackend("", {}, &id);
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
}

TEST_F(CreateBackendTest, UnknownKeyIsNamed) {
  BackendId id;
  Status s = agent_->CreateBackend(kPosix, {{"use_urign", "true"}}, &id);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("use_urign"));
  EXPECT_FALSE(id.valid());
}

TEST_F(CreateBackendTest, IllTypedValueIsNamed) {
  struct Case {
    const char* key;
    const char* value;
  } cases[] = {{test::kQueueDepthKey, "deep"},
               {test::kMaxRequestKey, "big"},
               {test::kEngineKey, "spdk"},
               {"use_aio", "sometimes"},
               {"kernel_queue_size", "-"}};
  for (const Case& c : cases) {
    BackendId id;
    Status s = agent_->CreateBackend(kPosix, {{c.key, c.value}}, &id);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << c.key << ": " << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(c.key));
  }
}

TEST_F(CreateBackendTest, ConflictingAliasAndParam) {
  BackendId id;
  Status s =
      agent_->CreateBackend(kPosix, {{"use_aio", "true"}, {test::kEngineKey, "threads"}}, &id);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
}

// Values of the right type but meaningless for the backend must fail at creation,
// naming the key, rather than fail (or hang) at the first transfer.
TEST_F(CreateBackendTest, NonsenseQueueDepthOrRequestSize) {
  for (const char* depth : {"0", "-1"}) {
    BackendId id;
    Status s = agent_->CreateBackend(kPosix, {{test::kQueueDepthKey, depth}}, &id);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << depth << ": " << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(test::kQueueDepthKey));
  }
  BackendId id;
  Status s = agent_->CreateBackend(kPosix, {{test::kMaxRequestKey, "0"}}, &id);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(test::kMaxRequestKey));
}

}  // namespace
}  // namespace ferry
