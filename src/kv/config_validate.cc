// Validation rules of the configuration; each message names the key and what is allowed.
#include <algorithm>
#include <string>

#include "ferry/kv/config.h"
#include "slot_format.h"

namespace ferry::kv {

Status ValidateConfig(const Config& c, uint64_t chunk_bytes) {
  if (c.chunk_size <= 0 || c.chunk_size > kMaxChunkSize) {
    return InvalidArgument("chunk_size must be 1.." + std::to_string(kMaxChunkSize) +
                           " tokens, got " + std::to_string(c.chunk_size));
  }
  if (c.nixl_buffer_device != "cpu" && c.nixl_buffer_device != "cuda") {
    return InvalidArgument("nixl_buffer_device must be one of cpu, cuda; got '" +
                           c.nixl_buffer_device + "'");
  }
  const bool known = std::any_of(std::begin(kKnownBackends), std::end(kKnownBackends),
                                 [&](const char* b) { return c.nixl_backend == b; });
  if (!known) {
    return InvalidArgument(
        "extra_config.nixl_backend must be one of GDS, GDS_MT, POSIX, HF3FS, "
        "OBJ; got '" +
        c.nixl_backend + "'");
  }
  // cuda: GDS and GDS_MT move GPU pages with cuFile, POSIX (built with CUDA) through its
  // pinned bounce buffers; the others have no GPU path yet.
  const bool gpu_backend =
      c.nixl_backend == "GDS" || c.nixl_backend == "GDS_MT" || c.nixl_backend == "POSIX";
  if (c.nixl_buffer_device == "cuda" && !gpu_backend) {
    return InvalidArgument(
        "nixl_buffer_device 'cuda' is allowed with nixl_backend GDS, GDS_MT or POSIX; "
        "nixl_backend " +
        c.nixl_backend + " needs 'cpu'");
  }
  if (c.IsFileBackend() && c.nixl_path.empty()) {
    return InvalidArgument("extra_config.nixl_path is required for nixl_backend " + c.nixl_backend +
                           ": the directory that holds the storage files");
  }
  if (c.nixl_pool_size < 0 || c.nixl_pool_size > kMaxPoolSize) {
    return InvalidArgument("extra_config.nixl_pool_size must be 0.." +
                           std::to_string(kMaxPoolSize) + " (0 = one file per chunk), got " +
                           std::to_string(c.nixl_pool_size));
  }
  if (c.nixl_buffer_size == 0) {
    return InvalidArgument("nixl_buffer_size must be at least one chunk, got 0");
  }
  if (chunk_bytes > kMaxChunkBytes) {
    return InvalidArgument("a chunk of chunk_size " + std::to_string(c.chunk_size) +
                           " tokens of this model is " + std::to_string(chunk_bytes) +
                           " bytes; at most " + std::to_string(kMaxChunkBytes) +
                           " are supported: lower chunk_size");
  }
  if (chunk_bytes > 0) {
    // A page is a 4 KiB header plus the chunk rounded up to 4 KiB (O_DIRECT granularity).
    const uint64_t page = StoredBytes(chunk_bytes);
    if (c.nixl_buffer_size / page > kMaxPages) {
      return InvalidArgument("nixl_buffer_size (" + std::to_string(c.nixl_buffer_size) +
                             " bytes) holds more than " + std::to_string(kMaxPages) +
                             " chunks of " + std::to_string(page) + " bytes; lower it");
    }
    if (c.nixl_max_storage_size > 0 && c.nixl_max_storage_size < page) {
      return InvalidArgument("extra_config.nixl_max_storage_size (" +
                             std::to_string(c.nixl_max_storage_size) +
                             " bytes) must hold at least one chunk (" + std::to_string(page) +
                             " bytes), or be 0 for no limit");
    }
    if (c.nixl_buffer_size < page) {
      return InvalidArgument("nixl_buffer_size (" + std::to_string(c.nixl_buffer_size) +
                             " bytes) must hold at least one chunk: " + std::to_string(page) +
                             " bytes for chunk_size " + std::to_string(c.chunk_size) +
                             " of this model (payload " + std::to_string(chunk_bytes) +
                             " + 4096 header)");
    }
  }
  return Status::Ok();
}

}  // namespace ferry::kv
