#include "ferry/status.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace ferry {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kInProgress:
      return "IN_PROGRESS";
    case Code::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case Code::kNotFound:
      return "NOT_FOUND";
    case Code::kNotRegistered:
      return "NOT_REGISTERED";
    case Code::kAlreadyExists:
      return "ALREADY_EXISTS";
    case Code::kUnsupported:
      return "UNSUPPORTED";
    case Code::kPermissionDenied:
      return "PERMISSION_DENIED";
    case Code::kIoError:
      return "IO_ERROR";
    case Code::kOutOfRange:
      return "OUT_OF_RANGE";
    case Code::kCancelled:
      return "CANCELLED";
    case Code::kTimedOut:
      return "TIMED_OUT";
    case Code::kBusy:
      return "BUSY";
    case Code::kReleased:
      return "RELEASED";
    case Code::kCorrupt:
      return "CORRUPT";
    case Code::kNoSpace:
      return "NO_SPACE";
    case Code::kInternal:
      return "INTERNAL";
    case Code::kTryAgain:
      return "TRY_AGAIN";
    case Code::kDisconnected:
      return "DISCONNECTED";
    case Code::kShutdown:
      return "SHUTDOWN";
  }
  return "UNKNOWN";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(code_);
  if (!message_.empty()) {
    s += ": ";
    s += message_;
  }
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

Status ErrnoStatus(int err, std::string_view what) {
  Code code = Code::kIoError;
  switch (err) {
    case ENOENT:
      code = Code::kNotFound;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = Code::kPermissionDenied;
      break;
    case ENOSPC:
    case EDQUOT:
      code = Code::kNoSpace;
      break;
    case EINVAL:
      code = Code::kInvalidArgument;
      break;
    case ECANCELED:
      code = Code::kCancelled;
      break;
    case EAGAIN:
    case EINTR:
      code = Code::kTryAgain;
      break;
    case ECONNRESET:
    case ECONNREFUSED:
    case ENOTCONN:
    case EPIPE:
    case EHOSTUNREACH:
      code = Code::kDisconnected;
      break;
    default:
      break;
  }
  std::string m(what);
  m += ": ";
  m += std::strerror(err);
  return Status(code, std::move(m));
}

}  // namespace ferry
