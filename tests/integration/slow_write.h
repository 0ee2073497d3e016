// A WRITE slow enough to be observed in flight: many 4 KiB O_DIRECT|O_DSYNC blocks at
// queue depth 1 (each block waits for the disk; ~1 s in all on the CI disk).
#pragma once

#include <memory>
#include <string>

#include "integration/test_util.h"

namespace ferry::test {

class SlowWrite {
 public:
  static constexpr size_t kBlocks = 4096;
  static constexpr size_t kBlock = 4096;

  explicit SlowWrite(std::string engine = "threads") : engine_(std::move(engine)) {}

  Status Init() {
    Params p = EngineParams(engine_, {{kQueueDepthKey, "1"}});
    Status s = h_.Init(p);
    if (!s.ok()) return s;
    if (buf_.data() == nullptr) return Internal("out of memory");
    FillRandom(buf_.data(), buf_.size(), 99);
    s = h_.RegisterDram(buf_.data(), buf_.size());
    if (!s.ok()) return s;
    FileOpenFlags f = RwCreate(/*direct=*/true);
    f.sync = true;
    return h_.RegisterFile("slow", 1, f);
  }

  Status Create(std::unique_ptr<Transfer>* out, XferOp op = XferOp::kWrite) {
    XferDescList local, target;
    local.kind = MemKind::kDram;
    target.kind = MemKind::kFile;
    for (size_t i = 0; i < kBlocks; ++i) {
      local.descs.push_back(Dram(buf_.data() + i * kBlock, kBlock));
      target.descs.push_back({i * kBlock, kBlock, 1});
    }
    return h_.agent().CreateTransfer(op, local, target, "", out);
  }

  Agent& agent() { return h_.agent(); }
  AlignedBuffer& buffer() { return buf_; }

 private:
  std::string engine_;
  PosixHarness h_{/*need_direct=*/true};
  AlignedBuffer buf_{kBlocks * kBlock};
};

}  // namespace ferry::test
