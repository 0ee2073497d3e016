// The southbound interface under the shared scheduler: something that performs IoOps
// asynchronously (io_uring, libaio, a thread pool, cuFile, 3FS USRBIO) and reports each
// one's result.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "io_types.h"

namespace ferry::kit {

struct IoResult {
  IoOp* op;
  int64_t res;  // bytes moved, or -errno
};

// Receives results; implemented by the scheduler. May be called from engine threads.
class IoSink {
 public:
  virtual void OnResults(std::span<const IoResult> results) = 0;

 protected:
  ~IoSink() = default;
};

class IoEngine {
 public:
  virtual ~IoEngine() = default;
  virtual const char* name() const = 0;
  // Starts each op at (buf+done, off+done, len-done). Never blocks on completion; the
  // caller guarantees at most the engine's queue depth ops in flight. Safe from many
  // threads. An op that cannot be started is reported through the sink with -errno, and
  // may be reported from inside Submit.
  virtual void Submit(std::span<IoOp* const> ops) = 0;

  // Optional fast paths; engines without them keep the defaults.
  virtual int RegisterBuffer(uint64_t addr, uint64_t len) {
    (void)addr, (void)len;
    return -1;
  }
  virtual void UnregisterBuffer(int index) { (void)index; }
  virtual int RegisterFile(int fd) {
    (void)fd;
    return -1;
  }
  virtual void UnregisterFile(int index) { (void)index; }
  // The text of an engine's own error number (cuFile's 5000s, say) that a result carried
  // as -err; "" means "an errno", worded by strerror.
  virtual std::string DescribeError(int err) const {
    (void)err;
    return {};
  }
  // Completion driving, as Backend::Drive and Backend::Kick describe it.
  virtual bool Drive(std::chrono::steady_clock::time_point deadline,
                     const std::function<bool()>& done) {
    (void)deadline, (void)done;
    return false;
  }
  virtual void Kick() {}
  // Backend::Poll: delivers what has already completed, without blocking.
  virtual void Poll() {}
};

}  // namespace ferry::kit
