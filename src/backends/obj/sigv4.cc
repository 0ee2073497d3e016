// Signature Version 4, as the AWS documentation defines it for S3 (header-based auth).
#include "sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace ferry::obj {
namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and folds runs of spaces into one, as the canonical header value requires.
std::string CanonicalValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  static const char* kDigits = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  return out;
}

std::string CanonicalQuery(const HeaderList& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query) enc.emplace_back(UriEncode(k, false), UriEncode(v, false));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return Hex(md, sizeof(md));
}

std::string AmzDateNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

HeaderList SignV4(const SignRequest& req, const Credentials& creds) {
  HeaderList out = req.headers;
  out.emplace_back("Host", std::string(req.host));
  out.emplace_back("X-Amz-Date", std::string(req.amz_date));
  out.emplace_back("X-Amz-Content-Sha256", std::string(req.payload_sha256));
  if (!creds.session_token.empty()) out.emplace_back("X-Amz-Security-Token", creds.session_token);

  std::vector<std::pair<std::string, std::string>> signed_headers;
  signed_headers.reserve(out.size());
  for (const auto& [k, v] : out) signed_headers.emplace_back(Lower(k), CanonicalValue(v));
  std::sort(signed_headers.begin(), signed_headers.end());
  std::string canonical_headers, names;
  for (const auto& [k, v] : signed_headers) {
    canonical_headers += k + ":" + v + "\n";
    if (!names.empty()) names += ';';
    names += k;
  }
  const std::string canonical = std::string(req.method) + "\n" + std::string(req.path) + "\n" +
                                CanonicalQuery(req.query) + "\n" + canonical_headers + "\n" +
                                names + "\n" + std::string(req.payload_sha256);
  const std::string_view day = req.amz_date.substr(0, 8);
  const std::string scope = std::string(day) + "/" + std::string(req.region) + "/" +
                            std::string(req.service) + "/aws4_request";
  const std::string to_sign =
      "AWS4-HMAC-SHA256\n" + std::string(req.amz_date) + "\n" + scope + "\n" + Sha256Hex(canonical);
  std::string key = Hmac("AWS4" + creds.secret_key, day);
  key = Hmac(key, req.region);
  key = Hmac(key, req.service);
  key = Hmac(key, "aws4_request");
  const std::string sig = Hmac(key, to_sign);
  out.emplace_back(
      "Authorization",
      "AWS4-HMAC-SHA256 Credential=" + creds.access_key + "/" + scope + ", SignedHeaders=" + names +
          ", Signature=" + Hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size()));
  return out;
}

}  // namespace ferry::obj
