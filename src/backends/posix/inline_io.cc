#include "inline_io.h"

#include <sys/uio.h>

#include <cerrno>

#include "op_status.h"

namespace ferry::posix {
namespace {

constexpr int kMaxIov = 64;  // ops per vectored call; a longer run takes several calls

// Moves ops[first, first+count), which are contiguous in one file, in as few calls as the
// kernel allows.
Status MoveRun(const PosixRequest& req, size_t first, int count) {
  iovec iov[kMaxIov];
  for (int k = 0; k < count; ++k) {
    const IoOp& op = req.ops[first + k];
    iov[k] = {reinterpret_cast<void*>(op.buf), op.len};
  }
  const int fd = FileOf(req.ops[first]).fd;
  uint64_t off = req.ops[first].off;
  int k = 0;  // first iovec not yet complete
  while (k < count) {
    const ssize_t n = req.write ? pwritev(fd, iov + k, count - k, off_t(off))
                                : preadv(fd, iov + k, count - k, off_t(off));
    const IoOp& op = req.ops[first + k];
    const uint64_t done = op.len - iov[k].iov_len;
    if (n < 0) {
      if (errno == EINTR) continue;
      return kit::OpErrnoStatus(op, done, errno);
    }
    if (n == 0) return kit::OpNoProgress(op, done);
    off += uint64_t(n);
    for (size_t left = size_t(n); left > 0;) {
      if (left >= iov[k].iov_len) {
        left -= iov[k].iov_len;
        ++k;
      } else {
        iov[k].iov_base = static_cast<char*>(iov[k].iov_base) + left;
        iov[k].iov_len -= left;
        left = 0;
      }
    }
  }
  return Status::Ok();
}

}  // namespace

bool CanRunInline(const PosixRequest& req, uint64_t limit) {
  uint64_t total = 0;
  for (const IoOp& op : req.ops) {
    if (!FileOf(op).memory_backed || op.file->direct) return false;
    total += op.len;
    if (total > limit) return false;
  }
  return true;
}

Status RunInline(const PosixRequest& req) {
  for (size_t i = 0; i < req.ops.size();) {
    const IoOp& head = req.ops[i];
    uint64_t end = head.off + head.len;
    int count = 1;
    while (count < kMaxIov && i + count < req.ops.size()) {
      const IoOp& next = req.ops[i + count];
      if (next.file != head.file || next.off != end) break;
      end += next.len;
      ++count;
    }
    Status s = MoveRun(req, i, count);
    if (!s.ok()) return s;
    i += size_t(count);
  }
  return Status::Ok();
}

}  // namespace ferry::posix
