#include "pool_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace ferry::kv {

Status PoolLock::PrepareDir(const std::string& path, bool create, std::string* canonical) {
  if (create) {
    for (size_t pos = path.find('/', 1);; pos = path.find('/', pos + 1)) {
      const std::string cur = path.substr(0, pos);
      if (!cur.empty() && ::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
        return ErrnoStatus(errno, "creating nixl_path directory '" + cur + "'");
      if (pos == std::string::npos) break;
    }
  }
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) return ErrnoStatus(errno, "nixl_path '" + path + "'");
  *canonical = real;
  std::free(real);
  struct stat st {};
  if (::stat(canonical->c_str(), &st) != 0) return ErrnoStatus(errno, "nixl_path '" + path + "'");
  if (!S_ISDIR(st.st_mode)) return InvalidArgument("nixl_path '" + path + "' is not a directory");
  return Status::Ok();
}

Status PoolLock::TryLock(const std::string& dir, const std::string& prefix, bool create,
                         std::unique_ptr<PoolLock>* out) {
  const std::string path = dir + "/" + prefix + ".lock";
  // `ferry-kv clear` removes a lock file while holding it: a lock taken on a file no
  // longer at the path locks nothing, so the inode is compared after the flock and the
  // lock taken again on the new file.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int fd =
        ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (fd < 0) return ErrnoStatus(errno, "opening '" + path + "'");
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK)
        return Status(Code::kBusy, "another engine is using the pool " + prefix + " in " + dir);
      return ErrnoStatus(err, "locking '" + path + "'");
    }
    struct stat held {
    }, named{};
    if (::fstat(fd, &held) == 0 && ::lstat(path.c_str(), &named) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
      out->reset(new PoolLock(fd));
      return Status::Ok();
    }
    ::close(fd);
    if (!create) return NotFound("'" + path + "' was removed while being locked");
  }
  return Status(Code::kBusy, "'" + path + "' keeps being replaced while being locked");
}

PoolLock::~PoolLock() {
  ::close(fd_);  // releases the flock
}

}  // namespace ferry::kv
