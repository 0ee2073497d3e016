// FileByPath / ParseFileMeta: the "<flags>:<path>" meta encoding.
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "ferry/memory.h"

namespace ferry {
namespace {

bool SameFlags(const FileOpenFlags& a, const FileOpenFlags& b) {
  return a.write == b.write && a.direct == b.direct && a.sync == b.sync && a.create == b.create &&
         a.owned_only == b.owned_only && a.reserve == b.reserve;
}

FileOpenFlags FlagsFromBits(int bits) {
  FileOpenFlags f;
  f.write = bits & 1;
  f.direct = bits & 2;
  f.sync = bits & 4;
  f.create = bits & 8;
  f.owned_only = bits & 16;
  f.reserve = bits & 32;
  return f;
}

TEST(FileByPathTest, FieldsCarryIdOffsetAndLength) {
  MemDesc d = FileByPath("/data/f", 99, FileOpenFlags{}, 512, 1024);
  EXPECT_EQ(d.dev_id, 99u);
  EXPECT_EQ(d.addr, 512u);
  EXPECT_EQ(d.len, 1024u);
  EXPECT_FALSE(d.meta.empty());
}

TEST(FileByPathTest, DefaultsToWholeFile) {
  MemDesc d = FileByPath("/data/f", 5, FileOpenFlags{});
  EXPECT_EQ(d.addr, 0u);
  EXPECT_EQ(d.len, 0u);
}

TEST(FileByPathTest, ReadOnlyMetaHasEmptyFlags) {
  MemDesc d = FileByPath("/data/f", 1, FileOpenFlags{});
  EXPECT_EQ(d.meta, ":/data/f");
}

TEST(FileByPathTest, EveryFlagCombinationRoundTrips) {
  for (int bits = 0; bits < 64; ++bits) {
    FileOpenFlags in = FlagsFromBits(bits);
    MemDesc d = FileByPath("/var/tmp/ferry file", 3, in);
    std::string path;
    FileOpenFlags out;
    ASSERT_TRUE(ParseFileMeta(d.meta, &path, &out)) << "meta '" << d.meta << "'";
    EXPECT_EQ(path, "/var/tmp/ferry file") << bits;
    EXPECT_TRUE(SameFlags(in, out)) << "bits " << bits << " meta '" << d.meta << "'";
  }
}

TEST(FileByPathTest, PathWithColonsRoundTrips) {
  FileOpenFlags in;
  in.write = true;
  MemDesc d = FileByPath("/a:b/c:d", 3, in);
  std::string path;
  FileOpenFlags out;
  ASSERT_TRUE(ParseFileMeta(d.meta, &path, &out));
  EXPECT_EQ(path, "/a:b/c:d");
  EXPECT_TRUE(out.write);
}

TEST(ParseFileMetaTest, HandWrittenMeta) {
  std::string path;
  FileOpenFlags f;
  ASSERT_TRUE(ParseFileMeta("wd:/data/f", &path, &f));
  EXPECT_EQ(path, "/data/f");
  EXPECT_TRUE(f.write);
  EXPECT_TRUE(f.direct);
  EXPECT_FALSE(f.sync);
  EXPECT_FALSE(f.create);
}

TEST(ParseFileMetaTest, FlagOrderDoesNotMatter) {
  std::string path;
  FileOpenFlags f;
  ASSERT_TRUE(ParseFileMeta("cswd:/x", &path, &f));
  EXPECT_EQ(path, "/x");
  EXPECT_TRUE(f.write && f.direct && f.sync && f.create);
}

TEST(ParseFileMetaTest, ReadOnlyMeta) {
  std::string path;
  FileOpenFlags f;
  f.write = f.direct = f.sync = f.create = true;  // must be overwritten
  ASSERT_TRUE(ParseFileMeta(":/ro/file", &path, &f));
  EXPECT_EQ(path, "/ro/file");
  EXPECT_TRUE(SameFlags(f, FileOpenFlags{}));
}

TEST(ParseFileMetaTest, RejectsMissingPrefix) {
  std::string path;
  FileOpenFlags f;
  EXPECT_FALSE(ParseFileMeta("/data/f", &path, &f));
  EXPECT_FALSE(ParseFileMeta("", &path, &f));
  EXPECT_FALSE(ParseFileMeta("wd", &path, &f));
}

TEST(ParseFileMetaTest, RejectsUnknownFlagLetter) {
  std::string path;
  FileOpenFlags f;
  EXPECT_FALSE(ParseFileMeta("wx:/data/f", &path, &f));
  EXPECT_FALSE(ParseFileMeta("W:/data/f", &path, &f));
  EXPECT_FALSE(ParseFileMeta("r:/data/f", &path, &f));
  EXPECT_FALSE(ParseFileMeta("wx:/data/f", &path, &f));
  EXPECT_FALSE(ParseFileMeta(" :/data/f", &path, &f));
}

}  // namespace
}  // namespace ferry
