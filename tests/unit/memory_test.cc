// MemKind names and parsing; descriptor helpers for DRAM and FILE-by-fd.
#include <cstdint>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "ferry/memory.h"

namespace ferry {
namespace {

constexpr MemKind kAllKinds[] = {MemKind::kDram, MemKind::kVram, MemKind::kFile, MemKind::kObj,
                                 MemKind::kBlk};

TEST(MemKindTest, Names) {
  EXPECT_EQ(MemKindName(MemKind::kDram), "DRAM");
  EXPECT_EQ(MemKindName(MemKind::kVram), "VRAM");
  EXPECT_EQ(MemKindName(MemKind::kFile), "FILE");
  EXPECT_EQ(MemKindName(MemKind::kObj), "OBJ");
  EXPECT_EQ(MemKindName(MemKind::kBlk), "BLK");
}

TEST(MemKindTest, CountMatchesEnum) {
  EXPECT_EQ(kNumMemKinds, static_cast<int>(std::size(kAllKinds)));
}

TEST(MemKindTest, ParseRoundTripsEveryName) {
  for (MemKind k : kAllKinds) {
    std::optional<MemKind> parsed = ParseMemKind(MemKindName(k));
    ASSERT_TRUE(parsed.has_value()) << MemKindName(k);
    EXPECT_EQ(*parsed, k);
  }
}

TEST(MemKindTest, ParseIgnoresCase) {
  EXPECT_EQ(ParseMemKind("dram"), MemKind::kDram);
  EXPECT_EQ(ParseMemKind("Vram"), MemKind::kVram);
  EXPECT_EQ(ParseMemKind("file"), MemKind::kFile);
  EXPECT_EQ(ParseMemKind("oBj"), MemKind::kObj);
  EXPECT_EQ(ParseMemKind("blk"), MemKind::kBlk);
}

TEST(MemKindTest, ParseRejectsUnknown) {
  EXPECT_FALSE(ParseMemKind("").has_value());
  EXPECT_FALSE(ParseMemKind("GPU").has_value());
  EXPECT_FALSE(ParseMemKind("DRAMX").has_value());
  EXPECT_FALSE(ParseMemKind("DRA").has_value());
  EXPECT_FALSE(ParseMemKind(" DRAM").has_value());
  EXPECT_FALSE(ParseMemKind(std::string_view("DRAM\0", 5)).has_value());
}

TEST(DescHelperTest, DramDescIsPointerAndLength) {
  char buf[64] = {};
  MemDesc d = DramDesc(buf + 3, 17);
  EXPECT_EQ(d.addr, reinterpret_cast<uint64_t>(buf + 3));
  EXPECT_EQ(d.len, 17u);
  EXPECT_EQ(d.dev_id, 0u);
  EXPECT_TRUE(d.meta.empty());
}

TEST(DescHelperTest, FileByFdUsesFdAsDevIdAndNoMeta) {
  MemDesc d = FileByFd(42, 4096, 8192);
  EXPECT_EQ(d.dev_id, 42u);
  EXPECT_EQ(d.addr, 4096u);
  EXPECT_EQ(d.len, 8192u);
  EXPECT_TRUE(d.meta.empty());
}

TEST(DescHelperTest, FileByFdDefaultsToWholeFile) {
  MemDesc d = FileByFd(7);
  EXPECT_EQ(d.dev_id, 7u);
  EXPECT_EQ(d.addr, 0u);
  EXPECT_EQ(d.len, 0u);
}

TEST(DescHelperTest, XferDescIsSmall) {
  // Documented: 24 bytes so that lists of millions stay cheap.
  EXPECT_EQ(sizeof(XferDesc), 24u);
}

}  // namespace
}  // namespace ferry
