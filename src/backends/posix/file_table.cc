#include "file_table.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace ferry::posix {
namespace {

// O_DIRECT alignment as the filesystem reports it (statx STATX_DIOALIGN, Linux 6.1+);
// 4096 when it does not say, which is safe on every common device.
void DirectAlignment(int fd, FileMd* md) {
  md->mem_align = 4096;
  md->offset_align = 4096;
#ifdef STATX_DIOALIGN
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 && (stx.stx_mask & STATX_DIOALIGN) &&
      stx.stx_dio_offset_align != 0) {
    md->mem_align = stx.stx_dio_mem_align;
    md->offset_align = stx.stx_dio_offset_align;
  }
#endif
}

// Refuses anything but a regular file or a block device, and notes whether the file's
// pages are memory only, with no device behind them (see inline_io.h). A block device
// node never is: its own filesystem (devtmpfs) says nothing about the device.
Status CheckKind(int fd, FileMd* md) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return ErrnoStatus(errno, "stat " + md->name);
  if (S_ISDIR(st.st_mode)) return InvalidArgument(md->name + " is a directory, not a file");
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
    return InvalidArgument(md->name + " is neither a regular file nor a block device");
  struct statfs fs {};
  md->memory_backed =
      S_ISREG(st.st_mode) && fstatfs(fd, &fs) == 0 &&
      (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC || fs.f_type == HUGETLBFS_MAGIC);
  return Status::Ok();
}

}  // namespace

Status OpenRegisteredFile(const MemDesc& desc, std::unique_ptr<FileMd>* out) {
  auto md = std::make_unique<FileMd>();
  if (desc.meta.empty()) {
    // Registered by fd: the caller's descriptor, used as is.
    if (desc.dev_id > uint64_t(INT32_MAX))
      return InvalidArgument("fd " + std::to_string(desc.dev_id) + " is out of range");
    md->fd = int(desc.dev_id);
    md->name = "fd " + std::to_string(md->fd);
    int fl = fcntl(md->fd, F_GETFL);
    if (fl < 0) return ErrnoStatus(errno, md->name + " is not an open file");
    Status s = CheckKind(md->fd, md.get());
    if (!s.ok()) return s;
    md->direct = (fl & O_DIRECT) != 0;
  } else {
    std::string path;
    FileOpenFlags f;
    if (!ParseFileMeta(desc.meta, &path, &f))
      return InvalidArgument("FILE meta '" + desc.meta +
                             "' is not \"<flags>:<path>\" with flags from \"wdsc\"");
    if (path.empty()) return InvalidArgument("FILE meta has an empty path");
    if (f.create && !f.write) return InvalidArgument("'" + path + "': create needs write");
    int flags = O_CLOEXEC | (f.write ? O_RDWR : O_RDONLY);
    if (f.direct) flags |= O_DIRECT;
    if (f.sync) flags |= O_DSYNC;
    if (f.create) flags |= O_CREAT;
    int fd = open(path.c_str(), flags, 0600);
    if (fd < 0) {
      if (errno == EINVAL && f.direct)
        return InvalidArgument("open '" + path + "': the filesystem does not support O_DIRECT");
      return ErrnoStatus(errno, "open '" + path + "'");
    }
    md->fd = fd;
    md->owned = true;
    md->direct = f.direct;
    md->name = "'" + path + "'";
    Status s = CheckKind(fd, md.get());
    if (!s.ok()) {
      close(fd);
      return s;
    }
  }
  if (md->direct) DirectAlignment(md->fd, md.get());
  *out = std::move(md);
  return Status::Ok();
}

void CloseRegisteredFile(FileMd* md) {
  if (md->owned && md->fd >= 0) close(md->fd);
  md->fd = -1;
}

Status StatFile(const MemDesc& desc, QueryResult* out) {
  struct stat st {};
  int rc;
  std::string name;
  if (desc.meta.empty()) {
    name = "fd " + std::to_string(desc.dev_id);
    rc = fstat(int(desc.dev_id), &st);
  } else {
    FileOpenFlags f;
    if (!ParseFileMeta(desc.meta, &name, &f))
      return InvalidArgument("FILE meta '" + desc.meta + "' is not \"<flags>:<path>\"");
    rc = stat(name.c_str(), &st);
  }
  if (rc != 0) {
    if (errno == ENOENT || errno == EBADF) {
      *out = QueryResult{false, 0};
      return Status::Ok();
    }
    return ErrnoStatus(errno, "stat " + name);
  }
  *out = QueryResult{true, uint64_t(st.st_size)};
  return Status::Ok();
}

}  // namespace ferry::posix
