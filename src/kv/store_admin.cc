#include "store_admin.h"

#include <thread>

#include "slot_format.h"

namespace ferry::kv {

std::string PoolOf(std::string_view name) {
  const size_t w = name.find(".w", std::string_view(kFilePrefix).size());
  if (w == std::string_view::npos) return {};
  size_t end = w + 2;
  while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
  return std::string(name.substr(0, end));
}

Status CheckStoredChunk(const StoredEntry& e, bool verify, const ChunkReader& read, ScanBuffer* buf,
                        ScanReport* report) {
  ScannedChunk c;
  c.file = e.name;
  Status s;
  if (e.size < kHeaderBytes) {
    if (e.slot) {
      ++report->empty_slots;  // a slot opened but never reserved or written
    } else {
      c.problem = "shorter than a chunk header (a store that never finished)";
      report->chunks.push_back(c);
    }
    return Status::Ok();
  }
  s = read(buf->data(), kHeaderBytes);
  if (e.busy && s.code() == Code::kNotFound) return Status::Ok();  // evicted since the listing
  if (!s.ok()) {
    c.problem = "unreadable: " + s.message();
    report->chunks.push_back(c);
    return Status::Ok();
  }
  ChunkHeader h;
  s = DecodeHeader(buf->data(), &h);
  if (s.code() == Code::kNotFound && e.slot) {
    ++report->empty_slots;
    return Status::Ok();
  }
  if (!s.ok()) {
    c.problem = s.code() == Code::kNotFound ? "no chunk header (zeroed)" : s.message();
    report->chunks.push_back(c);
    return Status::Ok();
  }
  c.model_name = h.model_name;
  c.payload_bytes = h.payload_bytes;
  c.tokens = h.tokens;
  ChunkKey named;
  uint64_t generation = 0;
  if (!e.slot && (!ParseKeyFileName(e.name, e.pool, &named, &generation) || !(named == h.key))) {
    c.problem = "header key does not match the file name";
  } else if (e.size < StoredBytes(h.payload_bytes)) {
    c.problem = "file shorter than the chunk its header describes (torn write)";
  } else {
    c.header_ok = true;
  }
  if (verify && c.header_ok) {
    s = buf->Ensure(StoredBytes(h.payload_bytes));
    if (!s.ok()) return s;
    for (int attempt = 0;; ++attempt) {
      s = read(buf->data(), StoredBytes(h.payload_bytes));
      ChunkHeader now;
      const bool same_header = s.ok() && DecodeHeader(buf->data(), &now).ok() &&
                               now.generation == h.generation &&
                               now.payload_checksum == h.payload_checksum && now.key == h.key;
      if (s.ok() && same_header && PayloadMatches(h, buf->data() + kHeaderBytes)) {
        c.payload_ok = true;
        break;
      }
      if (e.busy && s.code() == Code::kNotFound) {
        c.payload_ok = true;  // evicted while we read: gone, not corrupt
        break;
      }
      if (e.busy && s.ok() && !same_header) {
        c.payload_ok = true;  // rewritten while we read: a newer chunk, not corruption
        c.problem.clear();
        break;
      }
      if (!e.busy || attempt == kBusyRereads || !s.ok()) {
        c.problem = !s.ok() ? "unreadable: " + s.message() : "payload checksum mismatch";
        break;
      }
      std::this_thread::sleep_for(kBusyRereadGap);
    }
  }
  report->chunks.push_back(std::move(c));
  return Status::Ok();
}

}  // namespace ferry::kv
