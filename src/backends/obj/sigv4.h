// AWS Signature Version 4 for S3 requests: canonical request, string to sign, signing key
// and the Authorization header, with OpenSSL's SHA-256 and HMAC. Pure functions of their
// inputs (the time is passed in), so tests compare them with botocore's signer byte for byte.
//
// Thread safety: stateless; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::obj {

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty unless temporary credentials
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// What is signed. Header names may be of any case; they are signed lower-cased, trimmed,
// sorted. `host` is the Host header as sent (with ":port" unless the scheme's default).
struct SignRequest {
  std::string_view method;  // "GET", "PUT", ...
  std::string_view host;
  std::string_view path;            // already URI-encoded, starting with '/'
  HeaderList query;                 // raw (not encoded) names and values; "" value allowed
  HeaderList headers;               // besides host, x-amz-date, x-amz-content-sha256, token
  std::string_view payload_sha256;  // lower-case hex, or "UNSIGNED-PAYLOAD"
  std::string_view amz_date;        // "YYYYMMDDTHHMMSSZ"
  std::string_view region;
  std::string_view service = "s3";
};

// The headers to send: every header of `req` plus Host, X-Amz-Date, X-Amz-Content-Sha256,
// X-Amz-Security-Token (with a session token) and Authorization.
HeaderList SignV4(const SignRequest& req, const Credentials& creds);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, every other
// byte becomes %XX (upper-case hex); '/' stays when `keep_slash`.
std::string UriEncode(std::string_view s, bool keep_slash);

// The canonical query string: names and values encoded, sorted by name then value.
std::string CanonicalQuery(const HeaderList& query);

// SHA-256 of `data` as lower-case hex.
std::string Sha256Hex(std::string_view data);

// "YYYYMMDDTHHMMSSZ" for the current UTC time.
std::string AmzDateNow();

}  // namespace ferry::obj
