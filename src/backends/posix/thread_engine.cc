// Thread-pool engine: workers run pread/pwrite. The portable fallback where io_uring and
// libaio are unavailable, and often the fastest for buffered I/O that hits the page cache.
#include <unistd.h>

#include <cerrno>

#include "posix_engines.h"
#include "thread_pool_engine.h"

namespace ferry::posix {
namespace {

int64_t RunPositional(const IoOp& op, void*) {
  void* buf = reinterpret_cast<void*>(op.buf + op.done);
  const size_t len = op.len - op.done;
  const off_t off = static_cast<off_t>(op.off + op.done);
  const ssize_t n =
      op.req->write ? pwrite(FileOf(op).fd, buf, len, off) : pread(FileOf(op).fd, buf, len, off);
  return n < 0 ? -errno : n;
}

}  // namespace

std::unique_ptr<IoEngine> MakeThreadEngine(IoSink* sink, unsigned threads, std::string* error) {
  return kit::MakeThreadPoolEngine(sink, threads, {&RunPositional, nullptr}, "threads", error);
}

}  // namespace ferry::posix
