// One op through cuFile's synchronous calls: what GDS_MT's threads run.
#include <cerrno>
#include <string>

#include "device_memory.h"
#include "gds_types.h"

namespace ferry::gds {

int64_t RunCufileOp(const IoOp& op, void*) {
  const GpuMem& mem = MemOf(op);
  if (mem.device >= 0) {
    std::string why;
    if (!cuda::MakeCurrent(mem.device, &why)) return -ENODEV;
  }
  void* base = reinterpret_cast<void*>(mem.addr);
  const off_t buf_off = off_t(op.buf + op.done - mem.addr);
  const size_t len = op.len - op.done;
  const off_t file_off = off_t(op.off + op.done);
  const ssize_t n = op.req->write ? cuFileWrite(FileOf(op).handle, base, len, file_off, buf_off)
                                  : cuFileRead(FileOf(op).handle, base, len, file_off, buf_off);
  // -1 with errno: a system call failed; other negatives are cuFile's own numbers.
  if (n == -1) return errno == EINTR ? -EAGAIN : -errno;
  return n;
}

}  // namespace ferry::gds
