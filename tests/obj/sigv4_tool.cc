// Signs requests read as JSON lines on stdin with Ferry's SigV4 signer and prints each
// request's headers as a JSON line: tests/obj/sigv4_vs_botocore.py compares them with
// botocore's signer for the same requests.
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "sigv4.h"

int main() {
  using ferry::obj::HeaderList;
  for (std::string line; std::getline(std::cin, line);) {
    const auto j = nlohmann::json::parse(line);
    ferry::obj::SignRequest r;
    const std::string method = j["method"], host = j["host"], path = j["path"],
                      hash = j["payload_sha256"], date = j["amz_date"], region = j["region"];
    r.method = method;
    r.host = host;
    r.path = path;
    r.payload_sha256 = hash;
    r.amz_date = date;
    r.region = region;
    for (const auto& q : j["query"]) r.query.emplace_back(q[0], q[1]);
    for (const auto& h : j["headers"]) r.headers.emplace_back(h[0], h[1]);
    ferry::obj::Credentials c{j["access_key"], j["secret_key"], j.value("session_token", "")};
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : ferry::obj::SignV4(r, c)) out[k] = v;
    out["encoded_path"] = path;
    std::cout << out.dump() << "\n";
  }
  return 0;
}
