// The OBJ backend's transfers and namespace operations, each a set of S3 calls in flight.
#include "obj_backend.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <unordered_set>

#include "body_checksum.h"
#include "s3_xml.h"

namespace ferry::obj {
namespace {

// S3 allows keys of up to 1024 bytes.
constexpr size_t kMaxKeyBytes = 1024;

struct ObjMd {
  std::string key;
};

struct Piece {
  uint8_t* local;
  const std::string* key;
  uint64_t offset;
  uint64_t len;
  uint32_t desc;
};

std::string DescName(const Piece& p) {
  return "descriptor " + std::to_string(p.desc) + " (object '" + *p.key + "')";
}

}  // namespace

struct ObjBackend::Request final : BackendRequest {
  struct Upload {
    std::string id;
    std::vector<std::string> etags;
    std::atomic<size_t> parts_left{0};
    std::mutex mu;
    Status first;  // mu
  };
  XferOp op = XferOp::kRead;
  std::vector<Piece> pieces;
  HeaderList conditions;  // If-Match / If-None-Match from the transfer's arguments

  std::mutex mu;
  std::vector<std::unique_ptr<S3Call>> calls;    // this post's (mu)
  std::vector<std::unique_ptr<Upload>> uploads;  // per piece, multipart only
  Status first;                                  // mu
  std::atomic<size_t> units{0};
  std::atomic<bool> cancelled{false};
  CompletionSink* sink = nullptr;

  S3Call* NewCall() {
    std::lock_guard lk(mu);
    calls.push_back(std::make_unique<S3Call>());
    return calls.back().get();
  }
  void Fail(const Status& s) {
    std::lock_guard lk(mu);
    if (first.ok()) first = s;
  }
  // One unit (a call, or a whole multipart upload) is over.
  void UnitDone(const Status& s) {
    if (!s.ok()) Fail(s);
    if (units.fetch_sub(1) != 1) return;
    Status out;
    {
      std::lock_guard lk(mu);
      out = first;
    }
    sink->Complete(std::move(out));  // the request may be reposted or destroyed from here on
  }
};

Status ObjBackend::Create(const ObjOptions& o, std::unique_ptr<Backend>* out) {
  std::unique_ptr<ObjBackend> b(new ObjBackend(o));
  Status s = S3Client::Create(o.s3, &b->client_);
  if (!s.ok()) return s;
  *out = std::move(b);
  return Status::Ok();
}

ObjBackend::~ObjBackend() = default;

Status ObjBackend::RegisterMem(MemKind kind, const MemDesc& desc, void** md) {
  if (kind == MemKind::kDram) {
    // curl reads and writes the caller's memory directly: nothing to keep but a non-null
    // handle (null means "not registered here" to the core).
    static char dram_md;
    *md = &dram_md;
    return Status::Ok();
  }
  if (kind != MemKind::kObj)
    return Unsupported("OBJ moves DRAM <-> OBJ, not " + std::string(MemKindName(kind)));
  std::string key = desc.meta.empty() ? std::to_string(desc.dev_id) : desc.meta;
  if (key.size() > kMaxKeyBytes)
    return InvalidArgument("object key of " + std::to_string(key.size()) +
                           " bytes: S3 keys are at most 1024 bytes");
  *md = new ObjMd{std::move(key)};
  return Status::Ok();
}

void ObjBackend::DeregisterMem(MemKind kind, void* md) {
  if (kind == MemKind::kObj) delete static_cast<ObjMd*>(md);
}

Status ObjBackend::Prepare(const PrepareSpec& spec, std::span<const IoSegment> segments,
                           std::unique_ptr<BackendRequest>* out) {
  if (spec.local_kind != MemKind::kDram || spec.target_kind != MemKind::kObj)
    return Unsupported("OBJ moves DRAM <-> OBJ, not " + std::string(MemKindName(spec.local_kind)) +
                       " <-> " + std::string(MemKindName(spec.target_kind)));
  auto r = std::make_unique<Request>();
  r->op = spec.op;
  for (const auto& [k, v] : spec.args.params) {
    if (k == "if_match") {
      r->conditions.emplace_back("If-Match", v);
    } else if (k == "if_none_match") {
      if (v != "*")
        return InvalidArgument("transfer argument 'if_none_match' must be '*', got '" + v + "'");
      r->conditions.emplace_back("If-None-Match", v);
    } else {
      // Not necessarily the caller's mistake: the argument may be for another backend.
      return Unsupported("OBJ takes the transfer arguments if_match and if_none_match, not '" + k +
                         "'");
    }
  }
  std::unordered_set<const ObjMd*> written;
  r->pieces.reserve(segments.size());
  for (const IoSegment& s : segments) {
    const auto* md = static_cast<const ObjMd*>(s.target_md);
    Piece p{reinterpret_cast<uint8_t*>(s.local_addr), &md->key, s.target_addr, s.len, s.desc_index};
    if (spec.op == XferOp::kWrite) {
      if (s.target_addr != 0) {
        return InvalidArgument(DescName(p) +
                               ": OBJ writes put whole objects, so the target offset must be 0, "
                               "got " +
                               std::to_string(s.target_addr));
      }
      if (!written.insert(md).second)
        return InvalidArgument(DescName(p) + ": the object is written twice in one transfer");
      if (s.len > options_.part_size * 10000)
        return InvalidArgument(DescName(p) + ": " + std::to_string(s.len) +
                               " bytes need more than S3's 10000 parts: raise part_size");
    }
    r->pieces.push_back(p);
  }
  *out = std::move(r);
  return Status::Ok();
}

Status ObjBackend::Post(BackendRequest* request, CompletionSink* sink) {
  auto* r = static_cast<Request*>(request);
  r->sink = sink;
  r->first = Status::Ok();
  r->cancelled.store(false);
  r->calls.clear();
  r->uploads.clear();
  const uint64_t big = options_.multipart_threshold;
  const uint64_t part = options_.part_size;
  size_t units = 0;
  for (const Piece& p : r->pieces) {
    if (r->op == XferOp::kWrite) {
      units += 1;
    } else {
      units += p.len >= big ? (p.len + part - 1) / part : 1;
    }
  }
  if (units == 0) {
    sink->Complete(Status::Ok());
    return Status::Ok();
  }
  r->units.store(units);
  std::vector<S3Call*> ready;
  std::vector<size_t> multipart;
  for (size_t i = 0; i < r->pieces.size(); ++i) {
    const Piece& p = r->pieces[i];
    if (r->op == XferOp::kWrite && p.len >= big) {
      multipart.push_back(i);
      continue;
    }
    const uint64_t step =
        r->op == XferOp::kRead && p.len >= big ? part : std::max<uint64_t>(p.len, 1);
    for (uint64_t off = 0; off < std::max<uint64_t>(p.len, 1); off += step) {
      const uint64_t n = std::min(step, p.len - off);
      S3Call* c = r->NewCall();
      c->key = *p.key;
      c->headers = r->conditions;
      if (r->op == XferOp::kWrite) {
        c->method = "PUT";
        c->body = p.local;
        c->body_len = p.len;
        // On the posting thread, once for every attempt: the server then stores this body
        // whole or refuses it. Parts need none: a torn part fails its call and the upload
        // is aborted, never completed.
        if (options_.put_crc32c)
          c->headers.emplace_back(kCrc32cHeader, Crc32cBase64(p.local, p.len));
      } else {
        c->method = "GET";
        c->sink = p.local + off;
        c->sink_len = n;
        const uint64_t first = p.offset + off;
        c->headers.emplace_back(
            "Range", "bytes=" + std::to_string(first) + "-" + std::to_string(first + n - 1));
      }
      const Piece* pp = &r->pieces[i];
      c->done = [r, pp, first = p.offset + off](S3Call* call, Status s) {
        if (s.ok() && call->method == "GET" && call->received != call->sink_len) {
          s = Status(Code::kOutOfRange, DescName(*pp) + ": the object ends before byte " +
                                            std::to_string(first + call->sink_len) + " (got " +
                                            std::to_string(call->received) + " of " +
                                            std::to_string(call->sink_len) + " bytes at offset " +
                                            std::to_string(first) + ")");
        } else if (!s.ok()) {
          s = s.WithContext(DescName(*pp));
        }
        r->UnitDone(s);
      };
      ready.push_back(c);
    }
  }
  for (S3Call* c : ready) client_->Submit(c);
  for (size_t i : multipart) StartMultipart(r, i);
  return Status::Ok();
}

void ObjBackend::StartMultipart(Request* r, size_t index) {
  const Piece* p = &r->pieces[index];
  auto* up = [&] {
    std::lock_guard lk(r->mu);
    r->uploads.push_back(std::make_unique<Request::Upload>());
    return r->uploads.back().get();
  }();
  const uint64_t part = options_.part_size;
  const size_t parts = (p->len + part - 1) / part;
  up->etags.resize(parts);
  S3Client* client = client_.get();
  // The end of the upload: on error, abort it first so no parts are left behind.
  auto finish = [r, p, up, client](Status s) {
    if (s.ok() || up->id.empty()) {
      r->UnitDone(s.ok() ? s : s.WithContext(DescName(*p)));
      return;
    }
    S3Call* abort = r->NewCall();
    abort->method = "DELETE";
    abort->key = *p->key;
    abort->query = {{"uploadId", up->id}};
    abort->done = [r, p, s](S3Call*, Status) { r->UnitDone(s.WithContext(DescName(*p))); };
    client->Submit(abort);
  };
  S3Call* init = r->NewCall();
  init->method = "POST";
  init->key = *p->key;
  init->query = {{"uploads", ""}};
  init->done = [r, p, up, parts, part, client, finish](S3Call* call, Status s) {
    if (s.ok() && !ParseUploadId(call->text, &up->id))
      s = IoError("CreateMultipartUpload answered without an UploadId");
    if (s.ok() && r->cancelled.load()) s = Status(Code::kCancelled, "cancelled");
    if (!s.ok()) {
      finish(s);
      return;
    }
    up->parts_left.store(parts);
    std::vector<S3Call*> calls;
    for (size_t i = 0; i < parts; ++i) {
      S3Call* c = r->NewCall();
      c->method = "PUT";
      c->key = *p->key;
      c->query = {{"partNumber", std::to_string(i + 1)}, {"uploadId", up->id}};
      c->body = p->local + i * part;
      c->body_len = std::min<uint64_t>(part, p->len - i * part);
      c->done = [r, p, up, i, client, finish](S3Call* pc, Status ps) {
        if (ps.ok() && pc->etag.empty()) ps = IoError("UploadPart answered without an ETag");
        {
          std::lock_guard lk(up->mu);
          if (ps.ok()) up->etags[i] = pc->etag;
          if (up->first.ok() && !ps.ok()) up->first = ps;
        }
        if (up->parts_left.fetch_sub(1) != 1) return;
        Status first;
        {
          std::lock_guard lk(up->mu);
          first = up->first;
        }
        if (first.ok() && r->cancelled.load()) first = Status(Code::kCancelled, "cancelled");
        if (!first.ok()) {
          finish(first);
          return;
        }
        S3Call* done = r->NewCall();
        done->method = "POST";
        done->key = *p->key;
        done->query = {{"uploadId", up->id}};
        done->headers = r->conditions;
        // The body outlives the call: the completion below holds it.
        auto body = std::make_shared<std::string>(CompleteMultipartXml(up->etags));
        done->body = reinterpret_cast<const uint8_t*>(body->data());
        done->body_len = body->size();
        done->done = [finish, body](S3Call* cc, Status cs) {
          std::string code, message;
          // CompleteMultipartUpload may fail after a 200, with an error document.
          if (cs.ok() && ParseS3Error(cc->text, &code, &message))
            cs = IoError("CompleteMultipartUpload: " + code + ": " + message);
          finish(cs);
        };
        client->Submit(done);
      };
      calls.push_back(c);
    }
    for (S3Call* c : calls) client->Submit(c);
  };
  client_->Submit(init);
}

void ObjBackend::Cancel(BackendRequest* request) {
  auto* r = static_cast<Request*>(request);
  r->cancelled.store(true);
  std::lock_guard lk(r->mu);
  for (auto& c : r->calls) client_->Cancel(c.get());
}

// Submits every call and waits for all of them.
Status ObjBackend::RunAll(std::vector<std::unique_ptr<S3Call>>& calls) {
  std::mutex mu;
  std::condition_variable cv;
  size_t left = calls.size();
  std::vector<Status> results(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    calls[i]->done = [&, i](S3Call*, Status s) {
      std::lock_guard lk(mu);
      results[i] = std::move(s);
      if (--left == 0) cv.notify_all();
    };
  }
  for (auto& c : calls) client_->Submit(c.get());
  std::unique_lock lk(mu);
  cv.wait(lk, [&] { return left == 0; });
  for (size_t i = 0; i < calls.size(); ++i) {
    const Status& s = results[i];
    if (!s.ok() && !(s.code() == Code::kNotFound && calls[i]->method != "GET")) return s;
  }
  return Status::Ok();
}

Status ObjBackend::Query(MemKind kind, std::span<const MemDesc> descs,
                         std::vector<QueryResult>* out) {
  if (kind != MemKind::kObj) return Unsupported("OBJ queries objects, not files");
  std::vector<std::unique_ptr<S3Call>> calls;
  for (const MemDesc& d : descs) {
    calls.push_back(std::make_unique<S3Call>());
    calls.back()->method = "HEAD";
    calls.back()->key = d.meta.empty() ? std::to_string(d.dev_id) : d.meta;
  }
  Status s = RunAll(calls);
  if (!s.ok()) return s;
  out->assign(descs.size(), QueryResult{});
  for (size_t i = 0; i < calls.size(); ++i) {
    const S3Call& c = *calls[i];
    QueryResult& q = (*out)[i];
    q.exists = c.http_status >= 200 && c.http_status < 300;
    if (!q.exists) continue;
    q.size = c.content_length;
    q.etag = c.etag;
    q.mtime_ns = c.mtime_ns;
  }
  return Status::Ok();
}

Status ObjBackend::Remove(MemKind kind, std::span<const MemDesc> descs) {
  if (kind != MemKind::kObj) return Unsupported("OBJ removes objects, not files");
  std::vector<std::unique_ptr<S3Call>> calls;
  for (const MemDesc& d : descs) {
    calls.push_back(std::make_unique<S3Call>());
    calls.back()->method = "DELETE";
    calls.back()->key = d.meta.empty() ? std::to_string(d.dev_id) : d.meta;
  }
  return RunAll(calls);
}

Status ObjBackend::List(MemKind kind, std::string_view prefix, std::vector<ListEntry>* out) {
  if (kind != MemKind::kObj) return Unsupported("OBJ lists objects, not files");
  out->clear();
  std::string token;
  do {
    S3Call c;
    c.method = "GET";
    c.query = {{"list-type", "2"},
               {"prefix", std::string(prefix)},
               {"max-keys", std::to_string(options_.list_page_size)}};
    if (!token.empty()) c.query.emplace_back("continuation-token", token);
    Status s = client_->Run(&c);
    if (!s.ok()) return s.WithContext("listing '" + std::string(prefix) + "'");
    std::string why;
    if (!ParseListPage(c.text, out, &token, &why)) return IoError(why);
  } while (!token.empty());
  std::sort(out->begin(), out->end(),
            [](const ListEntry& a, const ListEntry& b) { return a.name < b.name; });
  return Status::Ok();
}

}  // namespace ferry::obj
