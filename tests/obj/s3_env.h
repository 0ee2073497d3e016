// The S3 server the OBJ tests run against: tests/obj/s3_server.py starts SeaweedFS (ctest's
// fixture does) and writes its endpoint and credentials to $FERRY_S3_STATE/env.
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "ferry/params.h"

namespace ferry::test {

struct S3Env {
  std::string endpoint, access_key, secret_key, bucket, region, state;
  std::string https_endpoint, ca_file;  // the same server over TLS, and its certificate
  bool ok = false;
  std::string why;

  // The backend parameters for this server, plus `extra`.
  Params BackendParams(const Params& extra = {}) const {
    Params p{{"endpoint_override", endpoint},
             {"access_key", access_key},
             {"secret_key", secret_key},
             {"bucket", bucket},
             {"region", region},
             {"max_retries", "2"}};
    for (const auto& [k, v] : extra) p[k] = v;
    return p;
  }
};

inline S3Env LoadS3Env() {
  S3Env e;
  const char* state = std::getenv("FERRY_S3_STATE");
  if (state == nullptr) {
    e.why =
        "FERRY_S3_STATE is unset: run through ctest, whose fixture starts the S3 server "
        "(or: .venv/bin/python tests/obj/s3_server.py start DIR; FERRY_S3_STATE=DIR)";
    return e;
  }
  std::ifstream in(std::string(state) + "/env");
  if (!in) {
    e.why = std::string("no ") + state + "/env: the S3 server did not start (see weed.log there)";
    return e;
  }
  std::map<std::string, std::string> kv;
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string v = line.substr(eq + 1);
    if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') v = v.substr(1, v.size() - 2);
    kv[line.substr(0, eq)] = v;
  }
  e.endpoint = kv["FERRY_S3_ENDPOINT"];
  e.access_key = kv["FERRY_S3_ACCESS_KEY"];
  e.secret_key = kv["FERRY_S3_SECRET_KEY"];
  e.bucket = kv["FERRY_S3_BUCKET"];
  e.region = kv["FERRY_S3_REGION"];
  e.state = state;
  e.https_endpoint = kv["FERRY_S3_HTTPS_ENDPOINT"];
  e.ca_file = kv["FERRY_S3_CA"];
  e.ok = !e.endpoint.empty() && !e.secret_key.empty();
  if (!e.ok) e.why = std::string(state) + "/env lacks the endpoint or the credentials";
  return e;
}

}  // namespace ferry::test
