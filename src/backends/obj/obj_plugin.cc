// The OBJ plugin's face: name, memory kinds, parameter schema (NIXL's names), entry point.
#include <cstdlib>

#include "ferry/backend.h"
#include "obj_backend.h"
#include "param_checks.h"

namespace ferry::obj {
namespace {

// The standard AWS environment variable for a parameter the user left unset.
std::string FromEnv(const ParamValues& p, const char* name, const char* env,
                    const char* env2 = nullptr) {
  if (p.IsSet(name)) return p.GetString(name);
  for (const char* e : {env, env2}) {
    if (e == nullptr) continue;
    if (const char* v = std::getenv(e); v != nullptr && *v != 0) return v;
  }
  return p.GetString(name);
}

class ObjPluginSpec final : public PluginSpec {
 public:
  const char* name() const override { return "OBJ"; }
  const char* version() const override { return "1.0"; }
  std::vector<Capability> capabilities() const override {
    return {{MemKind::kDram, MemKind::kObj, true, true}};
  }

  std::vector<ParamSpec> params() const override {
    return {
        {"access_key", ParamType::kSecret, "", "access key id; else $AWS_ACCESS_KEY_ID", {}, {}},
        {"secret_key", ParamType::kSecret, "", "secret key; else $AWS_SECRET_ACCESS_KEY", {}, {}},
        {"session_token",
         ParamType::kSecret,
         "",
         "session token of temporary credentials; else $AWS_SESSION_TOKEN",
         {},
         {}},
        {"bucket", ParamType::kString, "", "the bucket (required)", {}, {}},
        {"endpoint_override",
         ParamType::kString,
         "",
         "host[:port] or scheme://host[:port] of an S3-compatible store; else "
         "$AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, or AWS's regional endpoint",
         {},
         {}},
        {"scheme",
         ParamType::kEnum,
         "https",
         "http or https, when endpoint_override names no scheme",
         {"http", "https"},
         {}},
        {"region",
         ParamType::kString,
         "us-east-1",
         "signing region; else $AWS_REGION, $AWS_DEFAULT_REGION",
         {},
         {}},
        {"use_virtual_addressing",
         ParamType::kBool,
         "false",
         "bucket.host/key instead of host/bucket/key",
         {},
         {}},
        {"ca_bundle",
         ParamType::kString,
         "",
         "PEM file of CAs for TLS (default: system's)",
         {},
         {}},
        {"num_threads",
         ParamType::kInt,
         "2",
         "event-loop threads, each with its connections (1..64)",
         {},
         {}},
        {"max_connections",
         ParamType::kInt,
         "64",
         "keep-alive connections per event-loop thread (1..1024)",
         {},
         {}},
        {"multipart_threshold",
         ParamType::kSize,
         "64M",
         "objects this large are written multipart and read in parallel ranges (>= part_size)",
         {},
         {}},
        {"part_size", ParamType::kSize, "8M", "bytes per part (5M..5G)", {}, {}},
        {"max_retries",
         ParamType::kInt,
         "4",
         "retries of a request after timeouts, connection errors, 5xx, 429, 503 (0..20)",
         {},
         {}},
        {"retry_base_ms",
         ParamType::kInt,
         "50",
         "first retry delay; doubles per retry up to 2 s, with jitter (1..10000)",
         {},
         {}},
        {"connect_timeout_ms",
         ParamType::kInt,
         "3000",
         "TCP/TLS connect timeout (1..600000)",
         {},
         {}},
        {"stall_timeout_s",
         ParamType::kInt,
         "30",
         "a request that moves no byte for this long fails (1..3600)",
         {},
         {}},
        {"sign_payload",
         ParamType::kBool,
         "false",
         "sign PUT bodies' SHA-256 (else UNSIGNED-PAYLOAD; use https for integrity in transit)",
         {},
         {}},
        {"put_checksum",
         ParamType::kEnum,
         "crc32c",
         "checksum each single PUT carries (x-amz-checksum-crc32c), so a store keeps a torn "
         "body of a cancelled or dead upload nowhere; none: send no checksum",
         {"crc32c", "none"},
         {}},
        {"list_page_size",
         ParamType::kInt,
         "1000",
         "keys per ListObjectsV2 page (1..1000)",
         {},
         {}},
    };
  }

  Status Create(const ParamValues& p, std::unique_ptr<Backend>* out) const override {
    ObjOptions o;
    S3Options& s = o.s3;
    s.credentials.access_key = FromEnv(p, "access_key", "AWS_ACCESS_KEY_ID");
    s.credentials.secret_key = FromEnv(p, "secret_key", "AWS_SECRET_ACCESS_KEY");
    s.credentials.session_token = FromEnv(p, "session_token", "AWS_SESSION_TOKEN");
    s.bucket = p.GetString("bucket");
    s.endpoint = FromEnv(p, "endpoint_override", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
    s.scheme = p.GetString("scheme");
    s.region = FromEnv(p, "region", "AWS_REGION", "AWS_DEFAULT_REGION");
    s.virtual_addressing = p.GetBool("use_virtual_addressing");
    s.ca_bundle = p.GetString("ca_bundle");
    s.sign_payload = p.GetBool("sign_payload");
    struct IntParam {
      const char* name;
      int64_t lo, hi;
      int* dst;
    };
    const IntParam ints[] = {{"num_threads", 1, 64, &s.threads},
                             {"max_connections", 1, 1024, &s.max_connections},
                             {"max_retries", 0, 20, &s.max_retries},
                             {"retry_base_ms", 1, 10000, &s.retry_base_ms},
                             {"connect_timeout_ms", 1, 600000, &s.connect_timeout_ms},
                             {"stall_timeout_s", 1, 3600, &s.stall_timeout_s}};
    for (const IntParam& ip : ints) {
      const int64_t v = p.GetInt(ip.name);
      Status st = kit::CheckRange(ip.name, v, ip.lo, ip.hi);
      if (!st.ok()) return st;
      *ip.dst = static_cast<int>(v);
    }
    o.put_crc32c = p.GetString("put_checksum") == "crc32c";
    o.list_page_size = p.GetInt("list_page_size");
    Status st = kit::CheckRange("list_page_size", o.list_page_size, 1, 1000);
    if (!st.ok()) return st;
    o.part_size = p.GetSize("part_size");
    o.multipart_threshold = p.GetSize("multipart_threshold");
    if (o.part_size < (5ull << 20) || o.part_size > (5ull << 30))
      return InvalidArgument("parameter 'part_size' must be 5M..5G (S3's part sizes), got " +
                             std::to_string(o.part_size));
    if (o.multipart_threshold < o.part_size)
      return InvalidArgument("parameter 'multipart_threshold' (" +
                             std::to_string(o.multipart_threshold) +
                             ") must be at least part_size (" + std::to_string(o.part_size) + ")");
    if (s.bucket.empty()) return InvalidArgument("parameter 'bucket' is required");
    if (s.credentials.access_key.empty() != s.credentials.secret_key.empty())
      return InvalidArgument(
          "parameters 'access_key' and 'secret_key' go together: one of them is missing "
          "(and not in $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY)");
    if (s.credentials.access_key.empty())
      return InvalidArgument(
          "no credentials: set access_key and secret_key, or $AWS_ACCESS_KEY_ID and "
          "$AWS_SECRET_ACCESS_KEY");
    return ObjBackend::Create(o, out);
  }
};

}  // namespace
}  // namespace ferry::obj

FERRY_DEFINE_PLUGIN(ferry::obj::ObjPluginSpec)
