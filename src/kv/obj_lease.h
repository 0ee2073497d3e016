// One engine per pool in an object store: a lease object "<pool>.lease" beside the chunks.
//
// S3 has no locks, but it has conditional writes. An engine creates the lease with
// If-None-Match: * (only one creation can succeed), renews it every ttl/3 with If-Match on
// the ETag it last wrote (a renewal fails once anyone else has replaced it), and deletes it
// on close. A lease whose expiry has passed, or one left on this host by a process that no
// longer exists (a crashed engine restarting), is taken over with If-Match on its ETag: of
// two engines taking over at once, one wins. Expiry is judged by the taker's clock against
// the holder's, so hosts sharing a bucket need clocks within a small part of the TTL.
//
// The body is kLeaseBytes of text: "ferry-kv-lease 1\nowner <host> <pid> <nonce>\n
// expires_ms <unix ms>\n", padded with spaces.
//
// Thread safety: lost() from any thread; the renewal runs on a thread of its own.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "ferry/agent.h"

namespace ferry::kv {

inline constexpr uint64_t kLeaseBytes = 256;

struct LeaseOwner {
  std::string host;
  int64_t pid = 0;
  std::string nonce;
  int64_t expires_ms = 0;
};

// Parses a lease body; false when it is not one.
bool ParseLease(const uint8_t* body, uint64_t len, LeaseOwner* out);
// The body for `owner`, kLeaseBytes long.
std::string FormatLease(const LeaseOwner& owner);

class ObjLease {
 public:
  // Takes the lease at `key` (creating it, or taking over an expired or orphaned one), and
  // starts renewing it. kBusy names the live holder.
  static Status Acquire(Agent* agent, BackendId backend, const std::string& key,
                        std::chrono::milliseconds ttl, std::unique_ptr<ObjLease>* out);
  // Reads the lease at `key`: kNotFound when there is none. `live` when unexpired and not
  // left by a dead process of this host.
  static Status Inspect(Agent* agent, BackendId backend, const std::string& key, LeaseOwner* owner,
                        bool* live);
  ~ObjLease();  // stops renewing; deletes the lease object unless it was lost

  // True once a renewal found the lease replaced, or could not renew it before it expired:
  // another engine may own the pool now, so this one must stop writing.
  bool lost() const { return lost_.load(); }
  const std::string& key() const { return key_; }

 private:
  ObjLease(Agent* agent, BackendId backend, std::string key, std::chrono::milliseconds ttl);
  void Renew();

  Agent* agent_;
  BackendId backend_;
  std::string key_;
  std::chrono::milliseconds ttl_;
  LeaseOwner me_;
  std::string etag_;  // of the body this engine last wrote
  std::atomic<bool> lost_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // mu_
  std::thread renewer_;
};

}  // namespace ferry::kv
