#include "obj_io.h"

namespace ferry::kv {

Status MoveObject(Agent* agent, BackendId backend, XferOp op, const std::string& key, uint8_t* buf,
                  uint64_t len, const Params& args, bool buf_registered) {
  constexpr uint64_t kId = 1;
  RegOptions reg;
  reg.backends = {backend};
  RegHandle local, remote;
  Status s;
  if (!buf_registered) s = agent->RegisterMem({MemKind::kDram, {DramDesc(buf, len)}}, &local, reg);
  if (s.ok()) s = agent->RegisterMem({MemKind::kObj, {MemDesc{0, 0, kId, key}}}, &remote, reg);
  if (s.ok()) {
    XferOptions xo;
    xo.backend = backend;
    xo.args.params = args;
    std::unique_ptr<Transfer> x;
    s = agent->CreateTransfer(op, {MemKind::kDram, {{reinterpret_cast<uint64_t>(buf), len, 0}}},
                              {MemKind::kObj, {{0, len, kId}}}, "", &x, xo);
    if (s.ok()) s = x->Post();
    if (s.ok()) s = x->Wait(std::chrono::seconds(120));
  }
  if (remote.valid()) (void)agent->DeregisterMem(remote);
  if (local.valid()) (void)agent->DeregisterMem(local);
  return s;
}

}  // namespace ferry::kv
