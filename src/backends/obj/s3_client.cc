// The S3 client's event loops: curl multi handles driven by one thread each.
#include "s3_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <queue>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

#include "s3_xml.h"

namespace ferry::obj {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kMaxErrorBody = 64 << 10;

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' '))
    s.remove_suffix(1);
  return std::string(s);
}

bool HeaderIs(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  return strncasecmp(line.data(), name.data(), name.size()) == 0;
}

// The transient failures worth another attempt, and how each one reads when they last.
bool RetryableCurl(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool RetryableHttp(long http) {
  return http == 429 || http == 500 || http == 502 || http == 503 || http == 504;
}

// The status of a finished S3 response, S3's error code and message included.
Status StatusFromHttp(long http, const std::string& body, const std::string& what) {
  if (http >= 200 && http < 300) return Status::Ok();
  std::string code, message;
  std::string detail;
  if (ParseS3Error(body, &code, &message)) {
    detail = code + (message.empty() ? "" : ": " + message);
  } else {
    detail = "no S3 error document";
  }
  const std::string m = what + ": HTTP " + std::to_string(http) + " " + detail;
  if (http == 403 || http == 401) return {Code::kPermissionDenied, m};
  if (http == 404) return {Code::kNotFound, m};
  if (http == 412 || http == 409) return {Code::kAlreadyExists, m};
  if (http == 416) return {Code::kOutOfRange, m};
  if (RetryableHttp(http)) return {Code::kTryAgain, m};
  if (http >= 400 && http < 500) return {Code::kInvalidArgument, m};
  return {Code::kIoError, m};
}

}  // namespace

struct Loop {
  CURLM* multi = nullptr;
  std::thread thread;
  std::mutex mu;
  std::deque<S3Call*> incoming;  // new and cancelled calls (mu)
  bool stop = false;             // mu
  std::unordered_set<S3Call*> active;
  struct Delayed {
    Clock::time_point due;
    S3Call* call;
    bool operator>(const Delayed& o) const { return due > o.due; }
  };
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<Delayed>> delayed;
  std::vector<CURL*> idle;  // easy handles kept for reuse
  std::mt19937_64 rng{std::random_device{}()};
};

// What one attempt needs beyond the call: the easy handle and header list.
struct Attempt {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  S3Call* call = nullptr;
  char error[CURL_ERROR_SIZE] = {0};
};

struct S3Client::Impl {
  S3Options o;
  std::string host;    // Host header
  std::string origin;  // scheme://host
  std::vector<std::unique_ptr<Loop>> loops;
  std::atomic<uint32_t> next{0};

  std::string PathOf(const S3Call& c) const {
    std::string p = "/";
    if (!o.virtual_addressing) p += UriEncode(o.bucket, false) + (c.key.empty() ? "" : "/");
    return p + UriEncode(c.key, true);
  }

  void Run(Loop* l);
  void Start(Loop* l, S3Call* c);
  void Finish(Loop* l, Attempt* a, CURLcode rc);
  void Complete(Loop* l, S3Call* c, Status s) {
    l->active.erase(c);
    c->attempt = nullptr;
    auto done = std::move(c->done);
    done(c, std::move(s));
  }
};

namespace {

size_t OnWrite(char* data, size_t size, size_t n, void* p) {
  auto* a = static_cast<Attempt*>(p);
  S3Call* c = a->call;
  const size_t len = size * n;
  if (c->cancelled.load(std::memory_order_relaxed)) return 0;
  long http = 0;
  curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &http);
  if (c->sink != nullptr && http >= 200 && http < 300) {
    if (c->received + len > c->sink_len) {
      c->overflow = true;  // more than the range asked for: never past the caller's buffer
      return 0;
    }
    std::memcpy(c->sink + c->received, data, len);
    c->received += len;
    return len;
  }
  if (c->text.size() + len > (c->sink != nullptr ? kMaxErrorBody : (uint64_t{1} << 30))) return 0;
  c->text.append(data, len);
  return len;
}

size_t OnRead(char* data, size_t size, size_t n, void* p) {
  auto* a = static_cast<Attempt*>(p);
  S3Call* c = a->call;
  if (c->cancelled.load(std::memory_order_relaxed)) return CURL_READFUNC_ABORT;
  const size_t len = std::min<uint64_t>(size * n, c->body_len - c->sent);
  std::memcpy(data, c->body + c->sent, len);
  c->sent += len;
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* p) {
  auto* a = static_cast<Attempt*>(p);
  const std::string_view line(data, size * n);
  if (HeaderIs(line, "etag")) {
    a->call->etag = Trim(line.substr(5));
  } else if (HeaderIs(line, "content-length")) {
    a->call->content_length = std::strtoull(Trim(line.substr(15)).c_str(), nullptr, 10);
  } else if (HeaderIs(line, "last-modified")) {
    const time_t t = curl_getdate(Trim(line.substr(14)).c_str(), nullptr);
    if (t > 0) a->call->mtime_ns = int64_t{t} * 1000000000;
  }
  return size * n;
}

}  // namespace

void S3Client::Impl::Start(Loop* l, S3Call* c) {
  if (c->cancelled.load()) {
    Complete(l, c, {Code::kCancelled, "cancelled"});
    return;
  }
  ++c->attempts;
  c->http_status = 0;
  c->received = 0;
  c->sent = 0;
  c->overflow = false;
  c->text.clear();
  c->etag.clear();
  c->content_length = 0;
  auto* a = new Attempt();
  a->call = c;
  if (!l->idle.empty()) {
    a->easy = l->idle.back();
    l->idle.pop_back();
    curl_easy_reset(a->easy);
  } else {
    a->easy = curl_easy_init();
  }
  CURL* e = a->easy;
  const std::string path = PathOf(*c);
  const std::string query = CanonicalQuery(c->query);
  std::string url = origin + path + (query.empty() ? "" : "?" + query);
  SignRequest req;
  req.method = c->method;
  req.host = host;
  req.path = path;
  req.query = c->query;
  req.headers = c->headers;
  // PUT bodies are signed only when asked (hashing 32 MiB costs more than sending it);
  // the small XML bodies of POST always are, and bodiless requests sign the empty hash.
  std::string payload_hash =
      c->method == "PUT" && !o.sign_payload
          ? std::string("UNSIGNED-PAYLOAD")
          : Sha256Hex({reinterpret_cast<const char*>(c->body), static_cast<size_t>(c->body_len)});
  req.payload_sha256 = payload_hash;
  const std::string date = AmzDateNow();
  req.amz_date = date;
  req.region = o.region;
  for (const auto& [k, v] : SignV4(req, o.credentials)) {
    if (strcasecmp(k.c_str(), "host") == 0) continue;  // curl sends it from the URL
    a->headers = curl_slist_append(a->headers, (k + ": " + v).c_str());
  }
  a->headers = curl_slist_append(a->headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, a->headers);
  curl_easy_setopt(e, CURLOPT_PRIVATE, a);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->error);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, long{o.connect_timeout_ms});
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, long{o.stall_timeout_s});
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 512L << 10);
  curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 2L << 20);
  if (!o.ca_bundle.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, o.ca_bundle.c_str());
  if (c->method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (c->method == "PUT") {
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(e, CURLOPT_READDATA, a);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(c->body_len));
  } else if (c->method == "POST") {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, reinterpret_cast<const char*>(c->body));
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(c->body_len));
  } else if (c->method != "GET") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method.c_str());
  }
  l->active.insert(c);
  c->attempt = a;
  const CURLMcode mc = curl_multi_add_handle(l->multi, e);
  if (mc != CURLM_OK) {
    c->attempt = nullptr;
    curl_slist_free_all(a->headers);
    curl_easy_cleanup(e);
    delete a;
    Complete(l, c, Internal(std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc)));
  }
}

void S3Client::Impl::Finish(Loop* l, Attempt* a, CURLcode rc) {
  S3Call* c = a->call;
  curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &c->http_status);
  curl_multi_remove_handle(l->multi, a->easy);
  curl_slist_free_all(a->headers);
  const std::string curl_error = a->error[0] != 0 ? a->error : curl_easy_strerror(rc);
  if (l->idle.size() < 64) {
    l->idle.push_back(a->easy);
  } else {
    curl_easy_cleanup(a->easy);
  }
  delete a;
  c->attempt = nullptr;
  const std::string what = c->method + " " + o.bucket + "/" + c->key;
  if (c->cancelled.load()) {
    Complete(l, c, {Code::kCancelled, what + ": cancelled"});
    return;
  }
  Status s;
  bool retry = false;
  if (c->overflow) {
    s = IoError(what + ": the server sent more bytes than the range asked for");
  } else if (rc != CURLE_OK) {
    retry = RetryableCurl(rc);
    Code code = Code::kIoError;
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
        rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
        rc == CURLE_PARTIAL_FILE) {
      code = Code::kDisconnected;
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
      code = Code::kTimedOut;
    } else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
               rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE) {
      code = Code::kPermissionDenied;
    }
    s = Status(code, what + ": " + (code == Code::kPermissionDenied ? "TLS: " : "") + curl_error +
                         " (" + origin + ")");
  } else {
    s = StatusFromHttp(c->http_status, c->text, what);
    retry = RetryableHttp(c->http_status);
  }
  if (retry && c->attempts <= o.max_retries) {
    const int64_t cap =
        std::min<int64_t>(2000, int64_t{o.retry_base_ms} << std::min(c->attempts - 1, 10));
    std::uniform_int_distribution<int64_t> jitter(cap / 2, cap);
    l->delayed.push({Clock::now() + std::chrono::milliseconds(jitter(l->rng)), c});
    return;
  }
  if (!s.ok() && c->attempts > 1)
    s = Status(s.code(), s.message() + " (after " + std::to_string(c->attempts) + " attempts)");
  Complete(l, c, std::move(s));
}

void S3Client::Impl::Run(Loop* l) {
  std::vector<S3Call*> batch;
  for (;;) {
    {
      std::lock_guard lk(l->mu);
      if (l->stop) break;
      batch.assign(l->incoming.begin(), l->incoming.end());
      l->incoming.clear();
    }
    for (S3Call* c : batch) Start(l, c);
    // Cancels: a call waiting for its answer sees no callback, so look for them here.
    batch.clear();
    for (S3Call* c : l->active)
      if (c->attempt != nullptr && c->cancelled.load(std::memory_order_relaxed)) batch.push_back(c);
    for (S3Call* c : batch) Finish(l, static_cast<Attempt*>(c->attempt), CURLE_ABORTED_BY_CALLBACK);
    const auto now = Clock::now();
    while (!l->delayed.empty() && l->delayed.top().due <= now) {
      S3Call* c = l->delayed.top().call;
      l->delayed.pop();
      l->active.erase(c);
      Start(l, c);
    }
    int running = 0;
    curl_multi_perform(l->multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(l->multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      Attempt* a = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&a));
      Finish(l, a, m->data.result);
    }
    int timeout_ms = 1000;
    if (!l->delayed.empty()) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(l->delayed.top().due -
                                                                              Clock::now());
      timeout_ms = static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 1000));
    }
    curl_multi_poll(l->multi, nullptr, 0, timeout_ms, nullptr);
  }
  // Shutdown: whatever is still here fails.
  std::vector<S3Call*> rest(l->active.begin(), l->active.end());
  for (S3Call* c : rest) {
    if (c->attempt != nullptr) {
      auto* a = static_cast<Attempt*>(c->attempt);
      curl_multi_remove_handle(l->multi, a->easy);
      curl_slist_free_all(a->headers);
      curl_easy_cleanup(a->easy);
      delete a;
    }
    Complete(l, c, {Code::kShutdown, "the OBJ backend is shutting down"});
  }
  std::lock_guard lk(l->mu);
  for (S3Call* c : l->incoming) {
    auto done = std::move(c->done);
    done(c, {Code::kShutdown, "the OBJ backend is shutting down"});
  }
  l->incoming.clear();
}

S3Client::S3Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Status S3Client::Create(const S3Options& o, std::unique_ptr<S3Client>* out) {
  static const CURLcode global = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global != CURLE_OK) return Internal("curl_global_init failed");
  auto impl = std::make_unique<Impl>();
  impl->o = o;
  std::string ep = o.endpoint;
  std::string scheme = o.scheme;
  if (ep.empty()) ep = "s3." + o.region + ".amazonaws.com";
  const size_t sep = ep.find("://");
  if (sep != std::string::npos) {
    scheme = ep.substr(0, sep);
    ep = ep.substr(sep + 3);
  }
  while (!ep.empty() && ep.back() == '/') ep.pop_back();
  if (scheme != "http" && scheme != "https")
    return InvalidArgument("parameter 'scheme' must be http or https, got '" + scheme + "'");
  if (ep.empty() || ep.find('/') != std::string::npos)
    return InvalidArgument(
        "parameter 'endpoint_override' must be host[:port] with an optional "
        "scheme, got '" +
        o.endpoint + "'");
  if (o.bucket.empty()) return InvalidArgument("parameter 'bucket' is required");
  impl->host = o.virtual_addressing ? o.bucket + "." + ep : ep;
  impl->origin = scheme + "://" + impl->host;
  for (int i = 0; i < o.threads; ++i) {
    auto l = std::make_unique<Loop>();
    l->multi = curl_multi_init();
    if (l->multi == nullptr) return Internal("curl_multi_init failed");
    curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS, long{o.max_connections});
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, long{o.max_connections});
    impl->loops.push_back(std::move(l));
  }
  for (auto& l : impl->loops) {
    Loop* lp = l.get();
    Impl* ip = impl.get();
    lp->thread = std::thread([ip, lp] { ip->Run(lp); });
  }
  out->reset(new S3Client(std::move(impl)));
  return Status::Ok();
}

S3Client::~S3Client() {
  for (auto& l : impl_->loops) {
    {
      std::lock_guard lk(l->mu);
      l->stop = true;
    }
    curl_multi_wakeup(l->multi);
  }
  for (auto& l : impl_->loops) {
    if (l->thread.joinable()) l->thread.join();
    for (CURL* e : l->idle) curl_easy_cleanup(e);
    curl_multi_cleanup(l->multi);
  }
}

void S3Client::Submit(S3Call* call) {
  call->cancelled.store(false);
  call->attempts = 0;
  Loop* l = impl_->loops[impl_->next.fetch_add(1) % impl_->loops.size()].get();
  {
    std::lock_guard lk(l->mu);
    if (l->stop) {
      auto done = std::move(call->done);
      done(call, {Code::kShutdown, "the OBJ backend is shutting down"});
      return;
    }
    call->attempt = nullptr;
    l->incoming.push_back(call);
  }
  curl_multi_wakeup(l->multi);
}

void S3Client::Cancel(S3Call* call) {
  call->cancelled.store(true);
  for (auto& l : impl_->loops) curl_multi_wakeup(l->multi);
}

Status S3Client::Run(S3Call* call) {
  std::promise<Status> p;
  auto f = p.get_future();
  call->done = [&p](S3Call*, Status s) { p.set_value(std::move(s)); };
  Submit(call);
  return f.get();
}

}  // namespace ferry::obj
