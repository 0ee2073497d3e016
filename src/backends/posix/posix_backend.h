// The POSIX storage backend: DRAM <-> FILE through io_uring, libaio or a thread pool.
#pragma once

#include <memory>
#include <string>

#include "ferry/backend.h"
#include "io_engine.h"
#include "io_scheduler.h"

namespace ferry::posix {

struct PosixOptions {
  std::string engine = "auto";  // auto | uring | aio | threads
  int64_t queue_depth = 256;
  uint64_t max_request_size = 32ull << 20;
  int64_t threads = 8;
  bool registered_buffers = true;
  uint64_t inline_max = 256 << 10;  // see inline_io.h; 0 = never inline
};

class PosixBackend final : public Backend {
 public:
  static Status Create(const PosixOptions& options, std::unique_ptr<Backend>* out);
  ~PosixBackend() override;

  Status RegisterMem(MemKind kind, const MemDesc& desc, void** md) override;
  void DeregisterMem(MemKind kind, void* md) override;
  Status Prepare(XferOp op, MemKind local_kind, MemKind remote_kind,
                 std::span<const IoSegment> segments,
                 std::unique_ptr<BackendRequest>* out) override;
  Status Post(BackendRequest* request, CompletionSink* sink) override;
  void Cancel(BackendRequest* request) override;
  bool Drive(std::chrono::steady_clock::time_point deadline,
             const std::function<bool()>& done) override {
    return engine_->Drive(deadline, done);
  }
  void Kick() override { engine_->Kick(); }
  Status Query(MemKind kind, std::span<const MemDesc> descs,
               std::vector<QueryResult>* out) override;

 private:
  explicit PosixBackend(const PosixOptions& options);

  const PosixOptions options_;
  IoScheduler scheduler_;
  std::unique_ptr<IoEngine> engine_;  // destroyed first: its threads call the scheduler
};

}  // namespace ferry::posix
