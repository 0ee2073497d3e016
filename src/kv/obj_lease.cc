#include "obj_lease.h"

#include "obj_io.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <sstream>

namespace ferry::kv {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

bool ProcessExists(int64_t pid) {
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

Status Head(Agent* agent, BackendId backend, const std::string& key, QueryResult* q) {
  std::vector<QueryResult> out;
  Status s = agent->QueryMem({MemKind::kObj, {ObjectKey(key)}}, &out, backend);
  if (!s.ok()) return s;
  *q = out.empty() ? QueryResult{} : out[0];
  return Status::Ok();
}

Status Write(Agent* agent, BackendId backend, const std::string& key, const LeaseOwner& who,
             const Params& condition) {
  std::string body = FormatLease(who);
  return MoveObject(agent, backend, XferOp::kWrite, key, reinterpret_cast<uint8_t*>(body.data()),
                    kLeaseBytes, condition);
}

// The lease at `key` and its ETag; kNotFound when absent, kCorrupt when not a lease.
Status Read(Agent* agent, BackendId backend, const std::string& key, LeaseOwner* who,
            std::string* etag) {
  QueryResult q;
  Status s = Head(agent, backend, key, &q);
  if (!s.ok()) return s;
  if (!q.exists) return NotFound("no lease " + key);
  if (q.size != kLeaseBytes)
    return Status(Code::kCorrupt,
                  "'" + key + "' is not a Ferry lease (" + std::to_string(q.size) + " bytes)");
  std::string body(kLeaseBytes, '\0');
  s = MoveObject(agent, backend, XferOp::kRead, key, reinterpret_cast<uint8_t*>(body.data()),
                 kLeaseBytes);
  if (!s.ok()) return s;
  if (!ParseLease(reinterpret_cast<const uint8_t*>(body.data()), body.size(), who))
    return Status(Code::kCorrupt, "'" + key + "' is not a Ferry lease");
  *etag = q.etag;
  return Status::Ok();
}

bool Live(const LeaseOwner& o) {
  if (NowMs() > o.expires_ms) return false;
  return !(o.host == HostName() && !ProcessExists(o.pid));
}

}  // namespace

std::string FormatLease(const LeaseOwner& o) {
  std::string body = "ferry-kv-lease 1\nowner " + o.host + " " + std::to_string(o.pid) + " " +
                     o.nonce + "\nexpires_ms " + std::to_string(o.expires_ms) + "\n";
  body.resize(kLeaseBytes, ' ');
  return body;
}

bool ParseLease(const uint8_t* body, uint64_t len, LeaseOwner* out) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(body), len));
  std::string magic, version, word;
  if (!(in >> magic >> version) || magic != "ferry-kv-lease" || version != "1") return false;
  if (!(in >> word >> out->host >> out->pid >> out->nonce) || word != "owner") return false;
  if (!(in >> word >> out->expires_ms) || word != "expires_ms") return false;
  return true;
}

ObjLease::ObjLease(Agent* agent, BackendId backend, std::string key, std::chrono::milliseconds ttl)
    : agent_(agent), backend_(backend), key_(std::move(key)), ttl_(ttl) {
  me_.host = HostName();
  me_.pid = ::getpid();
  std::random_device rd;
  std::ostringstream nonce;
  nonce << std::hex << (uint64_t{rd()} << 32 | rd());
  me_.nonce = nonce.str();
}

Status ObjLease::Acquire(Agent* agent, BackendId backend, const std::string& key,
                         std::chrono::milliseconds ttl, std::unique_ptr<ObjLease>* out) {
  std::unique_ptr<ObjLease> l(new ObjLease(agent, backend, key, ttl));
  for (int attempt = 0;; ++attempt) {
    l->me_.expires_ms = NowMs() + ttl.count();
    Status s = Write(agent, backend, key, l->me_, {{"if_none_match", "*"}});
    if (s.code() == Code::kAlreadyExists) {
      LeaseOwner held;
      std::string etag;
      s = Read(agent, backend, key, &held, &etag);
      if (s.code() == Code::kNotFound && attempt < 5) continue;  // released meanwhile
      if (!s.ok()) return s.WithContext("reading the pool's lease");
      if (held.nonce == l->me_.nonce) {
        // Our own creation, answered late (a retried request): already ours.
      } else if (Live(held)) {
        return Status(Code::kBusy,
                      "the pool is in use by another engine (" + held.host + " pid " +
                          std::to_string(held.pid) + ", lease '" + key + "' valid for " +
                          std::to_string((held.expires_ms - NowMs() + 999) / 1000) + " s more)");
      } else {
        // Expired, or its process is gone: take it over, unless someone else just did.
        s = Write(agent, backend, key, l->me_, {{"if_match", etag}});
        if (s.code() == Code::kAlreadyExists && attempt < 5) continue;
      }
    }
    if (!s.ok()) return s.WithContext("taking the pool's lease '" + key + "'");
    QueryResult q;
    s = Head(agent, backend, key, &q);
    if (!s.ok()) return s;
    l->etag_ = q.etag;
    break;
  }
  ObjLease* raw = l.get();
  l->renewer_ = std::thread([raw] { raw->Renew(); });
  *out = std::move(l);
  return Status::Ok();
}

Status ObjLease::Inspect(Agent* agent, BackendId backend, const std::string& key, LeaseOwner* owner,
                         bool* live) {
  std::string etag;
  Status s = Read(agent, backend, key, owner, &etag);
  if (!s.ok()) return s;
  *live = Live(*owner);
  return Status::Ok();
}

void ObjLease::Renew() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    cv_.wait_for(lk, ttl_ / 3, [this] { return stop_; });
    if (stop_ || lost_.load()) break;
    lk.unlock();
    LeaseOwner next = me_;
    next.expires_ms = NowMs() + ttl_.count();
    Status s = Write(agent_, backend_, key_, next, {{"if_match", etag_}});
    QueryResult q;
    if (s.ok()) s = Head(agent_, backend_, key_, &q);
    if (s.ok()) {
      me_ = next;
      etag_ = q.etag;
    } else if (s.code() == Code::kAlreadyExists || NowMs() > me_.expires_ms) {
      lost_.store(true);  // replaced, or expired before we could renew it
    }
    lk.lock();
  }
}

ObjLease::~ObjLease() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (!lost_.load()) (void)agent_->RemoveMem({MemKind::kObj, {ObjectKey(key_)}}, backend_);
}

}  // namespace ferry::kv
