// ParamValues::Build: defaults, typed values, unknown keys, ill-typed values.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/params.h"
#include "unit/param_schema_fixture.h"

namespace ferry {
namespace {

using ::testing::HasSubstr;
using testing_schema::PosixLikeSchema;

TEST(ParamValuesTest, EmptyGivenFillsDefaults) {
  ParamValues v;
  Status s = ParamValues::Build(PosixLikeSchema(), {}, &v);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(v.GetString("engine"), "threads");
  EXPECT_EQ(v.GetInt("queue_depth"), 64);
  EXPECT_EQ(v.GetSize("max_request_size"), 1u << 20);
  EXPECT_FALSE(v.GetBool("poll"));
  EXPECT_EQ(v.GetString("label"), "default-label");
  for (const char* k : {"engine", "queue_depth", "max_request_size", "poll", "label"}) {
    EXPECT_FALSE(v.IsSet(k)) << k;
  }
}

TEST(ParamValuesTest, GivenValuesOverrideDefaultsAndAreMarkedSet) {
  ParamValues v;
  Params p{{"engine", "aio"},
           {"queue_depth", "-3"},
           {"max_request_size", "4K"},
           {"poll", "yes"},
           {"label", ""}};
  Status s = ParamValues::Build(PosixLikeSchema(), p, &v);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(v.GetString("engine"), "aio");
  EXPECT_EQ(v.GetInt("queue_depth"), -3);
  EXPECT_EQ(v.GetSize("max_request_size"), 4096u);
  EXPECT_TRUE(v.GetBool("poll"));
  EXPECT_EQ(v.GetString("label"), "");
  for (const char* k : {"engine", "queue_depth", "max_request_size", "poll", "label"}) {
    EXPECT_TRUE(v.IsSet(k)) << k;
  }
}

TEST(ParamValuesTest, SizeSuffixes) {
  struct Case {
    const char* text;
    uint64_t want;
  } cases[] = {
      {"512", 512}, {"8K", 8192}, {"2M", 2u << 20}, {"1G", 1ull << 30}, {"1T", 1ull << 40}};
  for (const Case& c : cases) {
    ParamValues v;
    Status s = ParamValues::Build(PosixLikeSchema(), {{"max_request_size", c.text}}, &v);
    ASSERT_TRUE(s.ok()) << c.text << ": " << s.ToString();
    EXPECT_EQ(v.GetSize("max_request_size"), c.want) << c.text;
  }
}

TEST(ParamValuesTest, EmptySchemaAcceptsNothingButEmpty) {
  ParamValues v;
  EXPECT_TRUE(ParamValues::Build({}, {}, &v).ok());
  Status s = ParamValues::Build({}, {{"anything", "1"}}, &v);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("anything"));
}

TEST(ParamValuesTest, UnknownKeyIsNamed) {
  ParamValues v;
  Status s = ParamValues::Build(PosixLikeSchema(), {{"queue_dept", "8"}}, &v);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("queue_dept"));
}

TEST(ParamValuesTest, KeysAreCaseSensitive) {
  ParamValues v;
  Status s = ParamValues::Build(PosixLikeSchema(), {{"ENGINE", "aio"}}, &v);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("ENGINE"));
}

struct BadValue {
  const char* key;
  const char* value;
};

class IllTypedTest : public ::testing::TestWithParam<BadValue> {};

TEST_P(IllTypedTest, FailsNamingTheKey) {
  ParamValues v;
  Params p{{GetParam().key, GetParam().value}};
  Status s = ParamValues::Build(PosixLikeSchema(), p, &v);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(GetParam().key));
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, IllTypedTest,
    ::testing::Values(BadValue{"queue_depth", "eight"}, BadValue{"queue_depth", "8.5"},
                      BadValue{"queue_depth", ""}, BadValue{"queue_depth", "99999999999999999999"},
                      BadValue{"max_request_size", "4Q"}, BadValue{"max_request_size", "-1"},
                      BadValue{"max_request_size", ""}, BadValue{"poll", "maybe"},
                      BadValue{"poll", ""}, BadValue{"engine", "posix_aio"}, BadValue{"engine", ""},
                      BadValue{"kernel_queue_size", "deep"}, BadValue{"use_uring", "perhaps"}));

TEST(ParamValuesTest, EnumChoicesAreExact) {
  ParamValues v;
  for (const char* e : {"uring", "aio", "threads"}) {
    Status s = ParamValues::Build(PosixLikeSchema(), {{"engine", e}}, &v);
    ASSERT_TRUE(s.ok()) << e << ": " << s.ToString();
    EXPECT_EQ(v.GetString("engine"), e);
  }
}

TEST(ParamValuesTest, FirstErrorStillNamesAKey) {
  ParamValues v;
  Params p{{"bogus_one", "1"}, {"queue_depth", "x"}};
  Status s = ParamValues::Build(PosixLikeSchema(), p, &v);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.message().find("bogus_one") != std::string::npos ||
              s.message().find("queue_depth") != std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

std::vector<ParamSpec> SecretSchema() {
  return {{"access_key", ParamType::kString, "", "key id", {}, {}},
          {"secret_key",
           ParamType::kSecret,
           "",
           "the credential",
           {},
           {{"aws_secret_access_key", ""}}}};
}

TEST(ParamSecretTest, SecretIsAcceptedAndReadAsString) {
  ParamValues v;
  Status s = ParamValues::Build(SecretSchema(), {{"secret_key", "hunter2"}}, &v);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(v.GetString("secret_key"), "hunter2");
  EXPECT_TRUE(v.IsSet("secret_key"));
}

TEST(ParamSecretTest, ConflictingAliasesNeverEchoTheSecret) {
  ParamValues v;
  Status s = ParamValues::Build(
      SecretSchema(), {{"secret_key", "hunter2"}, {"aws_secret_access_key", "swordfish"}}, &v);
  ASSERT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("secret_key"));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("hunter2")));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("swordfish")));
}

TEST(ParamSecretTest, ShownValueHidesSecretsOnly) {
  const auto schema = SecretSchema();
  EXPECT_EQ(ShownValue(schema[0], "AKIA1"), "AKIA1");
  EXPECT_EQ(ShownValue(schema[1], "hunter2"), "(secret)");
  EXPECT_EQ(ShownValue(schema[1], ""), "(unset)");
  EXPECT_EQ(ParamTypeName(ParamType::kSecret), "secret");
}

}  // namespace
}  // namespace ferry
