// Status: the outcome of every Ferry call — a code plus a message a user can act on.
//
// Ownership: a value type; copy freely. Thread safety: immutable once built.
// Errors: Ferry never throws across its API; a call that can fail returns Status
// (or fills an out-parameter and returns Status). The message names what is wrong
// (the key, the descriptor index, the path) so it can be shown to a user as is.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace ferry {

enum class Code : int {
  kOk = 0,
  kInProgress,       // a transfer was posted and has not finished yet
  kInvalidArgument,  // malformed input: mismatched lists, bad parameter, misaligned O_DIRECT I/O
  kNotFound,         // unknown plugin, agent, file, key
  kNotRegistered,    // memory used in a transfer is not inside any registration
  kAlreadyExists,    // overlapping registration, duplicate name
  kUnsupported,      // a backend cannot handle this memory kind or operation
  kPermissionDenied,
  kIoError,     // the OS or a device reported an error; message carries errno text
  kOutOfRange,  // read past end of file, descriptor beyond its registration
  kCancelled,
  kTimedOut,
  kBusy,      // the object is in a state that forbids the call (e.g. repost while in flight)
  kReleased,  // the handle was released or deregistered before this call
  kCorrupt,   // stored data failed a check (header, checksum)
  kNoSpace,   // storage or pool full and nothing could be evicted
  kInternal,
  kTryAgain,  // a transient failure (throttling, a busy server): the same call may succeed later
  kDisconnected,  // the peer or server went away; transfers to it fail until it is reached again
  kShutdown,      // the agent or backend is shutting down and takes no new work
};

// Stable upper-case name of a code, e.g. "INVALID_ARGUMENT".
const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InProgress() { return {Code::kInProgress, "in progress"}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CODE: message", or "OK".
  std::string ToString() const;

  // Prefixes the message with context ("registering descriptor 3: ..."); keeps the code.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Shorthand constructors: InvalidArgument("nixl_pool_size must be >= 0, got -1").
inline Status InvalidArgument(std::string m) {
  return {Code::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) {
  return {Code::kNotFound, std::move(m)};
}
inline Status Unsupported(std::string m) {
  return {Code::kUnsupported, std::move(m)};
}
inline Status IoError(std::string m) {
  return {Code::kIoError, std::move(m)};
}
inline Status Internal(std::string m) {
  return {Code::kInternal, std::move(m)};
}
inline Status TryAgain(std::string m) {
  return {Code::kTryAgain, std::move(m)};
}

// True for the codes a caller may retry unchanged: kTryAgain, kBusy and kTimedOut.
inline bool IsRetryable(Code code) {
  return code == Code::kTryAgain || code == Code::kBusy || code == Code::kTimedOut;
}

// Builds an error from errno: "open '/x': No such file or directory" with a code chosen
// from the errno (ENOENT -> kNotFound, EACCES/EPERM/EROFS -> kPermissionDenied,
// ENOSPC/EDQUOT -> kNoSpace, EINVAL -> kInvalidArgument, ECANCELED -> kCancelled, else
// kIoError).
Status ErrnoStatus(int err, std::string_view what);

}  // namespace ferry
