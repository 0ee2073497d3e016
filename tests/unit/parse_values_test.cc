// ParseBool / ParseInt / ParseSize and ParamTypeName.
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "ferry/params.h"

namespace ferry {
namespace {

TEST(ParseBoolTest, AcceptsDocumentedSpellings) {
  const char* truthy[] = {"true", "1", "yes", "on"};
  const char* falsy[] = {"false", "0", "no", "off"};
  for (const char* t : truthy) {
    bool v = false;
    EXPECT_TRUE(ParseBool(t, &v)) << t;
    EXPECT_TRUE(v) << t;
  }
  for (const char* t : falsy) {
    bool v = true;
    EXPECT_TRUE(ParseBool(t, &v)) << t;
    EXPECT_FALSE(v) << t;
  }
}

// Not stated by the contract, but Python clients pass str(True) == "True" (as NIXL users do).
TEST(ParseBoolTest, AcceptsCapitalisedSpellings) {
  bool v = false;
  EXPECT_TRUE(ParseBool("True", &v));
  EXPECT_TRUE(v);
  EXPECT_TRUE(ParseBool("FALSE", &v));
  EXPECT_FALSE(v);
}

TEST(ParseBoolTest, RejectsOther) {
  bool v;
  for (const char* t : {"", "2", "maybe", "tru", "truee", "-1", "y e s", "0x1"}) {
    EXPECT_FALSE(ParseBool(t, &v)) << "'" << t << "'";
  }
}

TEST(ParseIntTest, AcceptsSignedDecimal) {
  int64_t v = 0;
  EXPECT_TRUE(ParseInt("0", &v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(ParseInt("42", &v));
  EXPECT_EQ(v, 42);
  EXPECT_TRUE(ParseInt("-17", &v));
  EXPECT_EQ(v, -17);
  EXPECT_TRUE(ParseInt("9223372036854775807", &v));
  EXPECT_EQ(v, std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(ParseInt("-9223372036854775808", &v));
  EXPECT_EQ(v, std::numeric_limits<int64_t>::min());
}

TEST(ParseIntTest, RejectsMalformed) {
  int64_t v;
  for (const char* t : {"", "-", "abc", "12x", "1.5", "0x10", "1e3", "4K", "1 2"}) {
    EXPECT_FALSE(ParseInt(t, &v)) << "'" << t << "'";
  }
}

TEST(ParseIntTest, RejectsOverflow) {
  int64_t v;
  EXPECT_FALSE(ParseInt("9223372036854775808", &v));
  EXPECT_FALSE(ParseInt("-9223372036854775809", &v));
  EXPECT_FALSE(ParseInt("99999999999999999999999", &v));
}

TEST(ParseSizeTest, PlainBytes) {
  uint64_t v = 1;
  EXPECT_TRUE(ParseSize("0", &v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(ParseSize("4096", &v));
  EXPECT_EQ(v, 4096u);
  EXPECT_TRUE(ParseSize("18446744073709551615", &v));
  EXPECT_EQ(v, std::numeric_limits<uint64_t>::max());
}

TEST(ParseSizeTest, BinarySuffixes) {
  uint64_t v = 0;
  EXPECT_TRUE(ParseSize("4K", &v));
  EXPECT_EQ(v, 4096u);
  EXPECT_TRUE(ParseSize("1M", &v));
  EXPECT_EQ(v, 1048576u);
  EXPECT_TRUE(ParseSize("3G", &v));
  EXPECT_EQ(v, 3ull << 30);
  EXPECT_TRUE(ParseSize("2T", &v));
  EXPECT_EQ(v, 2ull << 40);
  EXPECT_TRUE(ParseSize("0K", &v));
  EXPECT_EQ(v, 0u);
}

TEST(ParseSizeTest, RejectsMalformed) {
  uint64_t v;
  for (const char* t : {"", "K", "-1", "-4K", "4Q", "4KK", "1.5M", "abc", "0x10", "4KX"}) {
    EXPECT_FALSE(ParseSize(t, &v)) << "'" << t << "'";
  }
}

TEST(ParseSizeTest, RejectsOverflow) {
  uint64_t v;
  EXPECT_FALSE(ParseSize("18446744073709551616", &v));
  EXPECT_FALSE(ParseSize("16777216T", &v));     // 2^24 * 2^40 = 2^64
  EXPECT_FALSE(ParseSize("17179869184G", &v));  // 2^34 * 2^30 = 2^64
}

TEST(ParamTypeNameTest, EveryTypeHasADistinctName) {
  std::string names[] = {
      std::string(ParamTypeName(ParamType::kBool)), std::string(ParamTypeName(ParamType::kInt)),
      std::string(ParamTypeName(ParamType::kSize)), std::string(ParamTypeName(ParamType::kString)),
      std::string(ParamTypeName(ParamType::kEnum))};
  for (size_t i = 0; i < std::size(names); ++i) {
    EXPECT_FALSE(names[i].empty()) << i;
    for (size_t j = i + 1; j < std::size(names); ++j) EXPECT_NE(names[i], names[j]);
  }
}

}  // namespace
}  // namespace ferry
