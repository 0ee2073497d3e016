// ParamValues::Build aliases: plain aliases, value-aliases and conflicts.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/params.h"
#include "unit/param_schema_fixture.h"

namespace ferry {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using testing_schema::PosixLikeSchema;

Status BuildWith(const Params& p, ParamValues* v) {
  return ParamValues::Build(PosixLikeSchema(), p, v);
}

TEST(ParamAliasTest, PlainAliasTakesItsValue) {
  ParamValues v;
  Status s = BuildWith({{"kernel_queue_size", "8"}}, &v);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(v.GetInt("queue_depth"), 8);
  EXPECT_TRUE(v.IsSet("queue_depth"));
}

TEST(ParamAliasTest, ValueAliasTrueSetsTheValue) {
  ParamValues v;
  Status s = BuildWith({{"use_uring", "true"}}, &v);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(v.GetString("engine"), "uring");
  EXPECT_TRUE(v.IsSet("engine"));

  s = BuildWith({{"use_aio", "1"}}, &v);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(v.GetString("engine"), "aio");
}

TEST(ParamAliasTest, ValueAliasFalseMeansNothing) {
  ParamValues v;
  Status s = BuildWith({{"use_uring", "false"}}, &v);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(v.GetString("engine"), "threads");
  EXPECT_FALSE(v.IsSet("engine"));
}

TEST(ParamAliasTest, ValueAliasFalseDoesNotConflictWithParam) {
  ParamValues v;
  Status s = BuildWith({{"use_uring", "false"}, {"engine", "aio"}}, &v);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(v.GetString("engine"), "aio");
}

TEST(ParamAliasTest, OneTrueOneFalseValueAlias) {
  // NIXL users write {use_uring: false, use_aio: true}.
  ParamValues v;
  Status s = BuildWith({{"use_uring", "false"}, {"use_aio", "true"}}, &v);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(v.GetString("engine"), "aio");
}

TEST(ParamAliasTest, AliasAgreeingWithParamIsFine) {
  ParamValues v;
  Status s = BuildWith({{"use_uring", "true"}, {"engine", "uring"}}, &v);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(v.GetString("engine"), "uring");

  s = BuildWith({{"kernel_queue_size", "16"}, {"queue_depth", "16"}}, &v);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(v.GetInt("queue_depth"), 16);
}

TEST(ParamAliasTest, ValueAliasConflictingWithParamFails) {
  ParamValues v;
  Status s = BuildWith({{"use_uring", "true"}, {"engine", "aio"}}, &v);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), AnyOf(HasSubstr("use_uring"), HasSubstr("engine")));
}

TEST(ParamAliasTest, PlainAliasConflictingWithParamFails) {
  ParamValues v;
  Status s = BuildWith({{"kernel_queue_size", "8"}, {"queue_depth", "16"}}, &v);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), AnyOf(HasSubstr("kernel_queue_size"), HasSubstr("queue_depth")));
}

TEST(ParamAliasTest, TwoValueAliasesConflict) {
  ParamValues v;
  Status s = BuildWith({{"use_uring", "true"}, {"use_aio", "true"}}, &v);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), AnyOf(HasSubstr("use_uring"), HasSubstr("use_aio")));
}

TEST(ParamAliasTest, PlainAliasIsTypeChecked) {
  ParamValues v;
  Status s = BuildWith({{"kernel_queue_size", "lots"}}, &v);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("kernel_queue_size"));
}

TEST(ParamAliasTest, ValueAliasMustBeABool) {
  ParamValues v;
  Status s = BuildWith({{"use_uring", "uring"}}, &v);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("use_uring"));
}

}  // namespace
}  // namespace ferry
