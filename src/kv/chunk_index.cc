// Index bookkeeping; see chunk_index.h for the rules.
#include "chunk_index.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <random>

namespace ferry::kv {

namespace {

uint64_t RandomSalt() {
  try {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd();
  } catch (const std::exception&) {
    // No entropy source (libstdc++ throws only when none works): the clock still keeps
    // the salt from being known in advance.
    return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
}

}  // namespace

ChunkIndex::ChunkIndex(uint32_t slots, uint64_t max_bytes)
    : slots_(slots), max_bytes_(max_bytes), map_(0, SaltedKeyHash{RandomSalt()}) {}

void ChunkIndex::EraseReady(Map::iterator it) {
  used_bytes_ -= it->second.stored_bytes;
  lru_.erase(it->second.lru);
  map_.erase(it);
}

bool ChunkIndex::EvictOne(Reservation* out, uint32_t* slot) {
  for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
    auto e = map_.find(*it);
    if (e == map_.end() || !Evictable(e->second)) continue;
    out->evicted.push_back({e->first, e->second.slot, e->second.generation});
    *slot = e->second.slot;
    EraseReady(e);
    ++evictions_;
    return true;
  }
  return false;
}

ChunkIndex::ReserveResult ChunkIndex::Reserve(const ChunkKey& key, uint64_t stored_bytes,
                                              uint32_t tokens, Reservation* out) {
  std::lock_guard<std::shared_mutex> lock(mu_);
  auto found = map_.find(key);
  if (found != map_.end()) {
    if (found->second.state == State::kReady) lru_.splice(lru_.begin(), lru_, found->second.lru);
    return ReserveResult::kPresent;
  }
  Entry e;
  e.stored_bytes = stored_bytes;
  e.tokens = tokens;
  if (slots_ > 0) {
    if (free_slots_.empty()) {
      // The evicted chunk's slot goes straight to the new chunk.
      if (!EvictOne(out, &e.slot)) return ReserveResult::kNoSpace;
    } else {
      e.slot = free_slots_.back();
      free_slots_.pop_back();
    }
  } else if (max_bytes_ > 0) {
    if (stored_bytes > max_bytes_) return ReserveResult::kNoSpace;
    uint32_t unused_slot;
    while (used_bytes_ + stored_bytes > max_bytes_) {
      if (!EvictOne(out, &unused_slot)) return ReserveResult::kNoSpace;
    }
  }
  used_bytes_ += stored_bytes;
  out->slot = e.slot;
  map_.emplace(key, e);
  return ReserveResult::kReserved;
}

void ChunkIndex::Publish(const ChunkKey& key, uint64_t generation) {
  std::lock_guard<std::shared_mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end() || it->second.state != State::kWriting) return;
  Entry& e = it.value();
  e.state = State::kReady;
  e.generation = generation;
  lru_.push_front(key);
  e.lru = lru_.begin();
}

void ChunkIndex::Abort(const ChunkKey& key) {
  std::lock_guard<std::shared_mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end() || it->second.state != State::kWriting) return;
  used_bytes_ -= it->second.stored_bytes;
  if (slots_ > 0) free_slots_.push_back(it->second.slot);
  map_.erase(it);
}

bool ChunkIndex::AcquireRead(const ChunkKey& key, ReadRef* out) {
  std::lock_guard<std::shared_mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end() || it->second.state != State::kReady) return false;
  ++it.value().readers;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  *out = {it->second.slot, it->second.stored_bytes, it->second.tokens, it->second.generation};
  return true;
}

bool ChunkIndex::ReleaseRead(const ChunkKey& key, uint64_t generation, bool drop, uint32_t* slot) {
  std::lock_guard<std::shared_mutex> lock(mu_);
  auto it = map_.find(key);
  // Gone, or replaced by a newer copy since this read began: nothing of ours to release.
  if (it == map_.end() || it->second.generation != generation) return false;
  --it.value().readers;
  if (!drop) return false;
  // A corrupt chunk leaves the index even if another reader holds it: that reader checks
  // the same bytes and fails the same way.
  *slot = it->second.slot;
  EraseReady(it);
  return true;
}

size_t ChunkIndex::PrefixReady(std::span<const ChunkKey> keys) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  size_t n = 0;
  for (const ChunkKey& k : keys) {
    auto it = map_.find(k);
    if (it == map_.end() || it->second.state != State::kReady) break;
    ++n;
  }
  return n;
}

bool ChunkIndex::Contains(const ChunkKey& key) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = map_.find(key);
  return it != map_.end() && it->second.state == State::kReady;
}

Status ChunkIndex::Remove(const ChunkKey& key, Copy* removed) {
  std::lock_guard<std::shared_mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end() || it->second.state != State::kReady) {
    return NotFound("chunk " + key.Hex() + " is not stored");
  }
  if (it->second.pins > 0) return Status(Code::kBusy, "chunk " + key.Hex() + " is pinned");
  if (it->second.readers > 0) {
    return Status(Code::kBusy, "chunk " + key.Hex() + " is being read");
  }
  *removed = {key, it->second.slot, it->second.generation};
  EraseReady(it);
  return Status::Ok();
}

void ChunkIndex::FreeSlot(uint32_t slot) {
  if (slots_ == 0) return;
  std::lock_guard<std::shared_mutex> lock(mu_);
  free_slots_.push_back(slot);
}

Status ChunkIndex::Pin(const ChunkKey& key) {
  std::lock_guard<std::shared_mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end() || it->second.state != State::kReady) {
    return NotFound("chunk " + key.Hex() + " is not stored");
  }
  ++it.value().pins;
  return Status::Ok();
}

Status ChunkIndex::Unpin(const ChunkKey& key) {
  std::lock_guard<std::shared_mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return NotFound("chunk " + key.Hex() + " is not stored");
  if (it->second.pins == 0) {
    return InvalidArgument("chunk " + key.Hex() + " is not pinned");
  }
  --it.value().pins;
  return Status::Ok();
}

std::optional<ChunkIndex::Copy> ChunkIndex::Recover(const ChunkKey& key, uint32_t slot,
                                                    uint64_t stored_bytes, uint32_t tokens,
                                                    uint64_t generation) {
  std::lock_guard<std::shared_mutex> lock(mu_);
  std::optional<Copy> loser;
  auto it = map_.find(key);
  if (it != map_.end()) {
    if (it->second.generation >= generation) return Copy{key, slot, generation};  // older loses
    loser = Copy{key, it->second.slot, it->second.generation};
    used_bytes_ -= it->second.stored_bytes;
    map_.erase(it);  // not in lru_ yet: FinishRecovery builds it
  }
  map_.emplace(key, Entry{.slot = slot,
                          .tokens = tokens,
                          .stored_bytes = stored_bytes,
                          .generation = generation,
                          .state = State::kReady,
                          .lru = {}});
  used_bytes_ += stored_bytes;
  return loser;
}

void ChunkIndex::FinishRecovery() {
  std::lock_guard<std::shared_mutex> lock(mu_);
  std::vector<std::pair<uint64_t, ChunkKey>> order;
  for (const auto& [k, e] : map_) order.emplace_back(e.generation, k);
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  lru_.clear();
  for (const auto& [gen, k] : order) {
    lru_.push_front(k);  // newest ends at the front
    map_[k].lru = lru_.begin();
  }
  std::vector<bool> used(slots_, false);
  if (slots_ > 0) {
    for (const auto& [k, e] : map_) used[e.slot] = true;
  }
  free_slots_.clear();
  // Highest slot numbers first on the stack so slots fill from 0 upward.
  for (uint32_t s = slots_; s-- > 0;) {
    if (!used[s]) free_slots_.push_back(s);
  }
}

size_t ChunkIndex::ready_chunks() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return lru_.size();  // lru_ holds exactly the ready chunks
}

uint64_t ChunkIndex::evictions() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return evictions_;
}

}  // namespace ferry::kv
