// The OBJ backend: DRAM <-> objects of one S3 bucket (any S3-compatible store).
//
// A registered OBJ descriptor names an object key (its meta; the decimal key id when the
// meta is empty). A transfer descriptor's addr is the offset in that object. READ is a
// ranged GET straight into the caller's buffer (large reads in parallel parts); WRITE puts
// the whole object: the target offset must be 0 and the object becomes exactly the
// descriptor's bytes (multipart, parts in parallel, from `multipart_threshold` on). Query is
// HEAD, Remove is DELETE, List is ListObjectsV2 with paging.
#pragma once

#include <memory>
#include <string>

#include "ferry/backend.h"
#include "s3_client.h"

namespace ferry::obj {

struct ObjOptions {
  S3Options s3;
  uint64_t multipart_threshold = 64ull << 20;  // objects this large go multipart / parallel
  uint64_t part_size = 8ull << 20;             // each part (5 MiB..5 GiB, S3's bounds)
  int64_t list_page_size = 1000;               // keys per ListObjectsV2 page (1..1000)
  bool put_crc32c = true;  // single PUTs carry x-amz-checksum-crc32c (body_checksum.h)
};

class ObjBackend final : public Backend, StorageNamespace {
 public:
  static Status Create(const ObjOptions& options, std::unique_ptr<Backend>* out);
  ~ObjBackend() override;

  Status RegisterMem(MemKind kind, const MemDesc& desc, void** md) override;
  void DeregisterMem(MemKind kind, void* md) override;
  Status Prepare(const PrepareSpec& spec, std::span<const IoSegment> segments,
                 std::unique_ptr<BackendRequest>* out) override;
  Status Post(BackendRequest* request, CompletionSink* sink) override;
  void Cancel(BackendRequest* request) override;
  StorageNamespace* storage() override { return this; }

  Status Query(MemKind kind, std::span<const MemDesc> descs,
               std::vector<QueryResult>* out) override;
  Status Remove(MemKind kind, std::span<const MemDesc> descs) override;
  Status List(MemKind kind, std::string_view prefix, std::vector<ListEntry>* out) override;

  struct Request;

 private:
  explicit ObjBackend(const ObjOptions& options) : options_(options) {}
  void StartMultipart(Request* r, size_t piece);
  Status RunAll(std::vector<std::unique_ptr<S3Call>>& calls);

  ObjOptions options_;
  std::unique_ptr<S3Client> client_;
};

}  // namespace ferry::obj
