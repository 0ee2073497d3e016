// The southbound interface inside the POSIX backend: something that performs IoOps
// asynchronously (io_uring, libaio, or a thread pool) and reports each one's result.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "posix_types.h"

namespace ferry::posix {

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
  // threads. An op that cannot be started is reported through the sink with -errno.
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
  // Completion driving, as Backend::Drive and Backend::Kick describe it.
  virtual bool Drive(std::chrono::steady_clock::time_point deadline,
                     const std::function<bool()>& done) {
    (void)deadline, (void)done;
    return false;
  }
  virtual void Kick() {}
};

// Factories. On failure they return nullptr and set *error.
std::unique_ptr<IoEngine> MakeUringEngine(IoSink* sink, unsigned queue_depth, bool register_buffers,
                                          std::string* error);
std::unique_ptr<IoEngine> MakeAioEngine(IoSink* sink, unsigned queue_depth, std::string* error);
std::unique_ptr<IoEngine> MakeThreadEngine(IoSink* sink, unsigned threads, std::string* error);

}  // namespace ferry::posix
