// An asynchronous S3 client over libcurl's multi interface: a few event-loop threads, each
// with its own multi handle, keep many requests in flight on reused keep-alive connections.
// Every attempt is signed afresh (SigV4); transient failures (connection errors, timeouts,
// 5xx, 429, 503 SlowDown) are retried with bounded, jittered exponential backoff.
//
// Ownership: the caller owns each S3Call and keeps it (and its body/sink memory) alive until
// `done` has run. Thread safety: Submit and Cancel from any thread; `done` runs on a loop
// thread and must not block (it may Submit further calls).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ferry/status.h"
#include "sigv4.h"

namespace ferry::obj {

struct S3Options {
  std::string endpoint;  // "http://127.0.0.1:9000" or "host:port" (then `scheme`); empty = AWS
  std::string scheme = "https";
  std::string region = "us-east-1";
  std::string bucket;
  bool virtual_addressing = false;  // bucket.host/key instead of host/bucket/key
  std::string ca_bundle;            // PEM file for TLS verification; empty = system store
  Credentials credentials;
  int threads = 2;           // event loops
  int max_connections = 64;  // per loop, to the endpoint
  int connect_timeout_ms = 3000;
  int stall_timeout_s = 30;   // a request moving no byte for this long fails
  int max_retries = 4;        // attempts after the first, for transient failures
  int retry_base_ms = 50;     // first backoff; doubles, capped at 2 s, full jitter
  bool sign_payload = false;  // SHA-256 of PUT bodies; else UNSIGNED-PAYLOAD
};

struct S3Call {
  // --- request ---
  std::string method = "GET";
  std::string key;   // object key (unencoded); empty = the bucket itself
  HeaderList query;  // raw names and values
  HeaderList headers;
  const uint8_t* body = nullptr;  // PUT/POST body
  uint64_t body_len = 0;
  uint8_t* sink = nullptr;  // 2xx GET bodies land here; else (and for XML) in `text`
  uint64_t sink_len = 0;
  std::function<void(S3Call*, Status)> done;

  // --- response (valid in `done`) ---
  long http_status = 0;
  std::string text;  // body when no sink (XML), or the error document
  std::string etag;
  uint64_t content_length = 0;
  int64_t mtime_ns = 0;
  uint64_t received = 0;  // bytes written to `sink`
  int attempts = 0;

  // --- client state ---
  std::atomic<bool> cancelled{false};
  uint64_t sent = 0;
  bool overflow = false;
  void* attempt = nullptr;  // the attempt in curl, while there
};

class S3Client {
 public:
  static Status Create(const S3Options& options, std::unique_ptr<S3Client>* out);
  ~S3Client();  // fails what is in flight with kShutdown and joins the loops

  void Submit(S3Call* call);
  void Cancel(S3Call* call);
  // Submit and wait.
  Status Run(S3Call* call);

  struct Impl;

 private:
  explicit S3Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::obj
