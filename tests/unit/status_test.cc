// Status, CodeName and ErrnoStatus.
#include <cerrno>
#include <cstring>
#include <ostream>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ferry/status.h"

namespace ferry {

// gtest prints codes by name.
void PrintTo(Code code, std::ostream* os) {
  *os << CodeName(code);
}

namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

constexpr Code kAllCodes[] = {
    Code::kOk,           Code::kInProgress,       Code::kInvalidArgument,
    Code::kNotFound,     Code::kNotRegistered,    Code::kAlreadyExists,
    Code::kUnsupported,  Code::kPermissionDenied, Code::kIoError,
    Code::kOutOfRange,   Code::kCancelled,        Code::kTimedOut,
    Code::kBusy,         Code::kReleased,         Code::kCorrupt,
    Code::kNoSpace,      Code::kInternal,         Code::kTryAgain,
    Code::kDisconnected, Code::kShutdown,
};

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, InProgressIsNotOk) {
  Status s = Status::InProgress();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInProgress);
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s(Code::kNotFound, "no plugin 'FOO'");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(), "no plugin 'FOO'");
  EXPECT_EQ(s.ToString(), "NOT_FOUND: no plugin 'FOO'");
}

TEST(StatusTest, ShorthandConstructorsPickTheirCode) {
  EXPECT_EQ(InvalidArgument("a").code(), Code::kInvalidArgument);
  EXPECT_EQ(NotFound("b").code(), Code::kNotFound);
  EXPECT_EQ(Unsupported("c").code(), Code::kUnsupported);
  EXPECT_EQ(IoError("d").code(), Code::kIoError);
  EXPECT_EQ(Internal("e").code(), Code::kInternal);
  EXPECT_EQ(InvalidArgument("bad key").message(), "bad key");
}

TEST(StatusTest, WithContextPrefixesMessageAndKeepsCode) {
  Status s = IoError("short write").WithContext("registering descriptor 3");
  EXPECT_EQ(s.code(), Code::kIoError);
  EXPECT_THAT(s.message(), StartsWith("registering descriptor 3"));
  EXPECT_THAT(s.message(), HasSubstr("short write"));
}

TEST(StatusTest, WithContextOnOkStaysOk) {
  EXPECT_TRUE(Status::Ok().WithContext("anything").ok());
}

TEST(CodeNameTest, DocumentedExample) {
  EXPECT_STREQ(CodeName(Code::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_STREQ(CodeName(Code::kOk), "OK");
}

TEST(CodeNameTest, EveryCodeHasADistinctUpperCaseName) {
  std::set<std::string> seen;
  for (Code c : kAllCodes) {
    const char* name = CodeName(c);
    ASSERT_NE(name, nullptr) << static_cast<int>(c);
    EXPECT_THAT(name, MatchesRegex("[A-Z][A-Z_]*")) << static_cast<int>(c);
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
  }
}

// The names follow the enumerators (kFooBar -> FOO_BAR); users grep logs for them.
TEST(CodeNameTest, NamesFollowEnumerators) {
  EXPECT_STREQ(CodeName(Code::kInProgress), "IN_PROGRESS");
  EXPECT_STREQ(CodeName(Code::kNotFound), "NOT_FOUND");
  EXPECT_STREQ(CodeName(Code::kNotRegistered), "NOT_REGISTERED");
  EXPECT_STREQ(CodeName(Code::kAlreadyExists), "ALREADY_EXISTS");
  EXPECT_STREQ(CodeName(Code::kUnsupported), "UNSUPPORTED");
  EXPECT_STREQ(CodeName(Code::kPermissionDenied), "PERMISSION_DENIED");
  EXPECT_STREQ(CodeName(Code::kIoError), "IO_ERROR");
  EXPECT_STREQ(CodeName(Code::kOutOfRange), "OUT_OF_RANGE");
  EXPECT_STREQ(CodeName(Code::kCancelled), "CANCELLED");
  EXPECT_STREQ(CodeName(Code::kTimedOut), "TIMED_OUT");
  EXPECT_STREQ(CodeName(Code::kBusy), "BUSY");
  EXPECT_STREQ(CodeName(Code::kReleased), "RELEASED");
  EXPECT_STREQ(CodeName(Code::kCorrupt), "CORRUPT");
  EXPECT_STREQ(CodeName(Code::kNoSpace), "NO_SPACE");
  EXPECT_STREQ(CodeName(Code::kInternal), "INTERNAL");
  EXPECT_STREQ(CodeName(Code::kTryAgain), "TRY_AGAIN");
  EXPECT_STREQ(CodeName(Code::kDisconnected), "DISCONNECTED");
  EXPECT_STREQ(CodeName(Code::kShutdown), "SHUTDOWN");
}

TEST(StatusTest, OnlyTransientCodesAreRetryable) {
  EXPECT_TRUE(IsRetryable(Code::kTryAgain));
  EXPECT_TRUE(IsRetryable(Code::kBusy));
  EXPECT_TRUE(IsRetryable(Code::kTimedOut));
  for (Code c : {Code::kOk, Code::kIoError, Code::kCorrupt, Code::kDisconnected, Code::kShutdown,
                 Code::kInvalidArgument, Code::kNoSpace})
    EXPECT_FALSE(IsRetryable(c)) << CodeName(c);
}

TEST(CodeNameTest, OutOfRangeValueDoesNotCrash) {
  const char* name = CodeName(static_cast<Code>(999));
  ASSERT_NE(name, nullptr);
  EXPECT_GT(std::strlen(name), 0u);
}

struct ErrnoCase {
  int err;
  Code code;
  friend void PrintTo(const ErrnoCase& c, std::ostream* os) {
    *os << "errno " << c.err << " -> " << CodeName(c.code);
  }
};

class ErrnoStatusTest : public ::testing::TestWithParam<ErrnoCase> {};

TEST_P(ErrnoStatusTest, MapsErrnoToCodeAndNamesWhatAndWhy) {
  const ErrnoCase& c = GetParam();
  Status s = ErrnoStatus(c.err, "open '/x/y'");
  EXPECT_EQ(s.code(), c.code) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("open '/x/y'"));
  EXPECT_THAT(s.message(), HasSubstr(std::strerror(c.err)));
}

INSTANTIATE_TEST_SUITE_P(
    Mapping, ErrnoStatusTest,
    ::testing::Values(ErrnoCase{ENOENT, Code::kNotFound},
                      ErrnoCase{EACCES, Code::kPermissionDenied},
                      ErrnoCase{EPERM, Code::kPermissionDenied}, ErrnoCase{ENOSPC, Code::kNoSpace},
                      ErrnoCase{EDQUOT, Code::kNoSpace}, ErrnoCase{EINVAL, Code::kInvalidArgument},
                      ErrnoCase{EIO, Code::kIoError}, ErrnoCase{EBADF, Code::kIoError},
                      ErrnoCase{EISDIR, Code::kIoError}, ErrnoCase{EAGAIN, Code::kTryAgain},
                      ErrnoCase{ECONNRESET, Code::kDisconnected},
                      ErrnoCase{ECONNREFUSED, Code::kDisconnected}));

TEST(ErrnoStatusTest, ZeroErrnoIsStillAnError) {
  // Callers use ErrnoStatus on failure paths; errno 0 must not turn an error into OK.
  Status s = ErrnoStatus(0, "read");
  EXPECT_FALSE(s.ok()) << s.ToString();
}

}  // namespace
}  // namespace ferry
