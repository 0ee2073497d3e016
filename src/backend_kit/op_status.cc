#include "op_status.h"

#include <string>

namespace ferry::kit {
namespace {

std::string Where(const IoOp& op, uint64_t done) {
  return "descriptor " + std::to_string(op.desc_index) + " (" + op.file->name + " offset " +
         std::to_string(op.off + done) + ")";
}

}  // namespace

Status OpErrnoStatus(const IoOp& op, uint64_t done, int err) {
  return ErrnoStatus(err, std::string(op.req->write ? "write " : "read ") + Where(op, done));
}

Status OpEngineError(const IoOp& op, uint64_t done, std::string_view text) {
  return IoError(std::string(op.req->write ? "write " : "read ") + Where(op, done) + ": " +
                 std::string(text));
}

Status OpNoProgress(const IoOp& op, uint64_t done) {
  if (op.req->write) return IoError("write made no progress at " + Where(op, done));
  return OpPastEnd(op, done);
}

Status OpPastEnd(const IoOp& op, uint64_t done) {
  return {Code::kOutOfRange, "read past end of file at " + Where(op, done)};
}

}  // namespace ferry::kit
