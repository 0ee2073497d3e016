#include "file_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace ferry::kit {
namespace {

// O_DIRECT alignment as the filesystem reports it (statx STATX_DIOALIGN, Linux 6.1+);
// 4096 when it does not say, which is safe on every common device.
void DirectAlignment(int fd, OpenFile* md) {
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
Status CheckKind(int fd, OpenFile* md) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return ErrnoStatus(errno, "stat " + md->name);
  if (S_ISDIR(st.st_mode)) return InvalidArgument(md->name + " is a directory, not a file");
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
    return InvalidArgument(md->name + " is neither a regular file nor a block device");
  struct statfs fs {};
  if (S_ISREG(st.st_mode) && fstatfs(fd, &fs) == 0) md->fs_type = int64_t(fs.f_type);
  md->memory_backed =
      md->fs_type == TMPFS_MAGIC || md->fs_type == RAMFS_MAGIC || md->fs_type == HUGETLBFS_MAGIC;
  return Status::Ok();
}

}  // namespace

namespace {

// Opens a by-path registration. With `create` a missing file is created (O_EXCL, so this
// call knows it made it) and removed again if anything after the open fails.
Status OpenByPath(const std::string& path, const FileOpenFlags& f, uint64_t offset, uint64_t len,
                  OpenFile* md) {
  if (path.empty()) return InvalidArgument("FILE meta has an empty path");
  if (f.create && !f.write) return InvalidArgument("'" + path + "': create needs write");
  if (f.reserve && (!f.write || len == 0))
    return InvalidArgument("'" + path + "': reserve needs write and a registered length");
  int flags = O_CLOEXEC | (f.write ? O_RDWR : O_RDONLY);
  if (f.direct) flags |= O_DIRECT;
  if (f.sync) flags |= O_DSYNC;
  if (f.create || f.owned_only) flags |= O_NOFOLLOW;
  md->name = "'" + path + "'";
  bool created = false;
  int fd = open(path.c_str(), flags);
  if (fd < 0 && errno == ENOENT && f.create) {
    fd = open(path.c_str(), flags | O_CREAT | O_EXCL, 0600);
    created = fd >= 0;
    if (fd < 0 && errno == EEXIST) fd = open(path.c_str(), flags);  // lost a race: use it
    // Some filesystems create the file and then refuse O_DIRECT: that file is ours.
    if (fd < 0 && errno == EINVAL && f.direct) {
      unlink(path.c_str());
      errno = EINVAL;
    }
  }
  if (fd < 0) {
    const int err = errno;
    if (err == EINVAL && f.direct)
      return InvalidArgument("open '" + path + "': the filesystem does not support O_DIRECT");
    if (err == ELOOP && (flags & O_NOFOLLOW))
      return {Code::kPermissionDenied,
              "'" + path + "' is a symbolic link; refusing to write through it"};
    return ErrnoStatus(err, "open '" + path + "'");
  }
  md->fd = fd;
  md->owned = true;
  md->created = created;
  md->path = path;
  md->direct = f.direct;
  auto fail = [&](Status s) {
    close(fd);
    md->fd = -1;
    if (created) unlink(path.c_str());
    return s;
  };
  Status s = CheckKind(fd, md);
  if (!s.ok()) return fail(s);
  struct stat st {};
  if (fstat(fd, &st) != 0) return fail(ErrnoStatus(errno, "stat '" + path + "'"));
  if (f.owned_only) {
    if (!S_ISREG(st.st_mode))
      return fail({Code::kPermissionDenied, "'" + path + "' is not a regular file"});
    if (st.st_uid != geteuid())
      return fail({Code::kPermissionDenied, "'" + path + "' belongs to user " +
                                                std::to_string(st.st_uid) +
                                                ", not this process's; refusing to use it"});
    if (st.st_nlink != 1)
      return fail({Code::kPermissionDenied, "'" + path + "' has " + std::to_string(st.st_nlink) +
                                                " hard links; refusing to write through a link"});
  }
  if (f.reserve) {
    if (offset > UINT64_MAX - len || offset + len > uint64_t(INT64_MAX))
      return fail(InvalidArgument("'" + path + "': reserved range overflows"));
    if (uint64_t(st.st_size) < offset + len && fallocate(fd, 0, off_t(offset), off_t(len)) != 0 &&
        errno != EOPNOTSUPP && errno != ENOSYS)
      return fail(
          ErrnoStatus(errno, "reserving " + std::to_string(len) + " bytes for '" + path + "'"));
  }
  return Status::Ok();
}

EntryType TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return EntryType::kRegular;
  if (S_ISDIR(mode)) return EntryType::kDirectory;
  if (S_ISLNK(mode)) return EntryType::kSymlink;
  return EntryType::kOther;
}

void Fill(const struct stat& st, QueryResult* out) {
  out->exists = true;
  out->size = uint64_t(st.st_size);
  out->mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  out->type = TypeOf(st.st_mode);
}

// The path a namespace descriptor names: FileByPath's or FileName's meta.
Status NamedPath(const MemDesc& desc, std::string* path) {
  FileOpenFlags f;
  if (!ParseFileMeta(desc.meta, path, &f) || path->empty())
    return InvalidArgument("FILE meta '" + desc.meta + "' is not \"<flags>:<path>\"");
  return Status::Ok();
}

}  // namespace

Status OpenRegisteredFile(const MemDesc& desc, OpenFile* md) {
  if (desc.meta.empty()) {
    // Registered by fd: the caller's descriptor, used as is.
    if (desc.dev_id > uint64_t(INT32_MAX))
      return InvalidArgument("fd " + std::to_string(desc.dev_id) + " is out of range");
    md->fd = int(desc.dev_id);
    md->name = "fd " + std::to_string(md->fd);
    int fl = fcntl(md->fd, F_GETFL);
    if (fl < 0) return ErrnoStatus(errno, md->name + " is not an open file");
    Status s = CheckKind(md->fd, md);
    if (!s.ok()) return s;
    md->direct = (fl & O_DIRECT) != 0;
  } else {
    std::string path;
    FileOpenFlags f;
    if (!ParseFileMeta(desc.meta, &path, &f))
      return InvalidArgument("FILE meta '" + desc.meta +
                             "' is not \"<flags>:<path>\" with flags from \"wdscpa\"");
    Status s = OpenByPath(path, f, desc.addr, desc.len, md);
    if (!s.ok()) return s;
  }
  if (md->direct) DirectAlignment(md->fd, md);
  return Status::Ok();
}

Status CheckDirectAlignment(const IoSegment& s, const OpenFile& file) {
  if (!file.direct) return Status::Ok();
  if (s.local_addr % file.mem_align == 0 && s.target_addr % file.offset_align == 0 &&
      s.len % file.offset_align == 0)
    return Status::Ok();
  return InvalidArgument("descriptor " + std::to_string(s.desc_index) + ": O_DIRECT on " +
                         file.name + " needs buffer address aligned to " +
                         std::to_string(file.mem_align) + " bytes and file offset and length to " +
                         std::to_string(file.offset_align) + " (got address " +
                         std::to_string(s.local_addr) + ", offset " +
                         std::to_string(s.target_addr) + ", length " + std::to_string(s.len) + ")");
}

std::string FilesystemName(int64_t fs_type) {
  switch (fs_type) {
    case TMPFS_MAGIC:
      return "tmpfs";
    case RAMFS_MAGIC:
      return "ramfs";
    case HUGETLBFS_MAGIC:
      return "hugetlbfs";
    case EXT4_SUPER_MAGIC:
      return "ext4";  // also ext2/ext3: one magic
    case XFS_SUPER_MAGIC:
      return "xfs";
    case BTRFS_SUPER_MAGIC:
      return "btrfs";
    case NFS_SUPER_MAGIC:
      return "nfs";
    case OVERLAYFS_SUPER_MAGIC:
      return "overlayfs";
    case FUSE_SUPER_MAGIC:
      return "fuse";
    default:
      return "";
  }
}

void CloseRegisteredFile(OpenFile* md) {
  if (md->owned && md->fd >= 0) close(md->fd);
  md->fd = -1;
}

Status StatFile(const MemDesc& desc, QueryResult* out) {
  *out = QueryResult{};
  struct stat st {};
  int rc;
  std::string name;
  struct statvfs vfs {};
  bool have_vfs = false;
  if (desc.meta.empty()) {
    name = "fd " + std::to_string(desc.dev_id);
    if (desc.dev_id > uint64_t(INT32_MAX)) return Status::Ok();  // no such fd
    rc = fstat(int(desc.dev_id), &st);
    have_vfs = rc == 0 && fstatvfs(int(desc.dev_id), &vfs) == 0;
  } else {
    Status s = NamedPath(desc, &name);
    if (!s.ok()) return s;
    rc = lstat(name.c_str(), &st);
    have_vfs = rc == 0 && statvfs(name.c_str(), &vfs) == 0;
  }
  if (rc != 0) {
    if (errno == ENOENT || errno == EBADF || errno == ENOTDIR) return Status::Ok();
    return ErrnoStatus(errno, "stat " + name);
  }
  Fill(st, out);
  if (have_vfs) out->available = uint64_t(vfs.f_bavail) * vfs.f_frsize;
  return Status::Ok();
}

Status RemoveFile(const MemDesc& desc) {
  std::string path;
  Status s = NamedPath(desc, &path);
  if (!s.ok()) return s;
  // unlink never follows a link: a symbolic link at the name is removed, not its target.
  if (unlink(path.c_str()) == 0 || errno == ENOENT) return Status::Ok();
  const int err = errno;
  if (err == EISDIR || err == EPERM) {
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      return InvalidArgument("'" + path + "' is a directory; only files are removed");
  }
  return ErrnoStatus(err, "removing '" + path + "'");
}

Status QueryFiles(std::span<const MemDesc> descs, std::vector<QueryResult>* out) {
  out->assign(descs.size(), QueryResult{});
  for (size_t i = 0; i < descs.size(); ++i) {
    Status s = StatFile(descs[i], &(*out)[i]);
    if (!s.ok()) return s.WithContext("descriptor " + std::to_string(i));
  }
  return Status::Ok();
}

Status RemoveFiles(std::span<const MemDesc> descs) {
  Status first;
  for (size_t i = 0; i < descs.size(); ++i) {
    Status s = RemoveFile(descs[i]);
    if (!s.ok() && first.ok()) first = s.WithContext("descriptor " + std::to_string(i));
  }
  return first;
}

Status ListFiles(std::string_view prefix, std::vector<ListEntry>* out) {
  const size_t slash = prefix.rfind('/');
  const std::string dir = slash == std::string_view::npos ? "."
                          : slash == 0                    ? "/"
                                                          : std::string(prefix.substr(0, slash));
  const std::string_view name_prefix =
      slash == std::string_view::npos ? prefix : prefix.substr(slash + 1);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, "listing '" + dir + "'");
  const int dfd = dirfd(d);
  std::string base =
      slash == std::string_view::npos ? "" : std::string(prefix.substr(0, slash + 1));
  int err = 0;
  for (;;) {
    errno = 0;  // readdir returns null at the end and on error; only errno tells them apart
    dirent* e = readdir(d);
    if (e == nullptr) {
      err = errno;
      break;
    }
    std::string_view name(e->d_name);
    if (name == "." || name == ".." || !name.starts_with(name_prefix)) continue;
    struct stat st {};
    if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    ListEntry entry;
    entry.name = base + std::string(name);
    Fill(st, &entry.info);
    out->push_back(std::move(entry));
  }
  closedir(d);
  if (err != 0) return ErrnoStatus(err, "listing '" + dir + "'");
  std::sort(out->begin(), out->end(),
            [](const ListEntry& a, const ListEntry& b) { return a.name < b.name; });
  return Status::Ok();
}

}  // namespace ferry::kit
