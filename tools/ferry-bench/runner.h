// Runner: owns the agent, the backend, the registered DRAM buffer and the data files for
// a whole ferry-bench invocation, and runs one case at a time.
//
// Only the public agent API is used. Per case: files are prepared (untimed), registered
// with the backend, and the FILE and DRAM transfer lists are prepared once with
// Agent::PrepDescList; while timed, each thread keeps queue_depth requests in flight, each
// request being `batch` descriptors picked by index (Agent::MakeTransfer), never a freshly
// built descriptor list.
//
// Thread safety: one thread drives a Runner; RunCase starts and joins its own workers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ferry/agent.h"
#include "options.h"
#include "report.h"

namespace ferry_bench {

class Runner {
 public:
  // Creates the agent and backend, and registers one DRAM buffer large enough for the
  // largest case (filled with random bytes so writes are not trivially compressible).
  static bool Create(const Options& options, const std::vector<Case>& cases,
                     std::unique_ptr<Runner>* out, std::string* error);
  ~Runner();  // deregisters, frees, and removes the data files unless --keep-files

  CaseResult RunCase(const Case& c);

 private:
  struct Geometry {
    uint64_t file_size = 0;        // bytes of each file the case uses
    uint64_t blocks_per_file = 0;  // file_size / block_size
    uint64_t target_count = 0;     // files * blocks_per_file
    uint64_t requests = 0;         // total_bytes / (block_size * batch)
    uint64_t local_count = 0;      // DRAM blocks in the buffer
  };
  Runner() = default;
  bool PrepareFiles(const Case& c, const Geometry& g, std::string* error);
  bool WriteFileData(size_t index, uint64_t size, std::string* error);
  bool PrepareFileTargets(const Case& c, Geometry* g, ferry::RegHandle* reg,
                          std::shared_ptr<const ferry::PreppedList>* target, std::string* error);
  // OBJ (objects.cc): registers the case's objects (writing them first for reads) and
  // prepares the target list.
  bool PrepareObjects(const Case& c, Geometry* g, ferry::RegHandle* reg,
                      std::shared_ptr<const ferry::PreppedList>* target, std::string* error);
  void RemoveObjects();

  Options options_;
  std::unique_ptr<ferry::Agent> agent_;
  ferry::BackendId backend_;
  void* buffer_ = nullptr;
  uint64_t buffer_size_ = 0;
  ferry::RegHandle buffer_reg_;
  std::vector<std::string> paths_;
  std::vector<bool> existed_before_;     // found at start: trusted as data if large enough
  std::vector<bool> has_data_;           // written fully by this process
  std::vector<bool> touched_;            // created or written by this process
  std::vector<std::string> objects_;     // OBJ: every key this process wrote
  std::vector<uint64_t> objects_ready_;  // OBJ: block sizes whose objects exist
};

}  // namespace ferry_bench
