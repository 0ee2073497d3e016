// The engine's only filesystem calls of its own, for what no backend does: making and
// canonicalising the pool directory, and locking a pool against a second engine (flock
// on "<prefix>.lock", a lock file that is never removed, so that a lock taken on it always
// means the same pool). Every other file operation goes through the agent.
//
// Thread safety: a PoolLock is owned by one engine (or one ferry-kv clear); the static
// functions are safe from any thread.
#pragma once

#include <memory>
#include <string>

#include "ferry/status.h"

namespace ferry::kv {

class PoolLock {
 public:
  // mkdir -p (0700 for what it creates) when `create`, then realpath.
  static Status PrepareDir(const std::string& path, bool create, std::string* canonical);
  // Takes the lock of pool `prefix` in `dir` without waiting: kBusy when an engine holds
  // it. With `create` false a missing lock file is kNotFound.
  static Status TryLock(const std::string& dir, const std::string& prefix, bool create,
                        std::unique_ptr<PoolLock>* out);
  ~PoolLock();
  PoolLock(const PoolLock&) = delete;
  PoolLock& operator=(const PoolLock&) = delete;

 private:
  explicit PoolLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace ferry::kv
