#include "s3_xml.h"

#include <pugixml.hpp>

#include <cstdio>
#include <ctime>
#include <sstream>

namespace ferry::obj {

bool ParseS3Error(const std::string& xml, std::string* code, std::string* message) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return false;
  pugi::xml_node err = doc.child("Error");
  if (!err) return false;
  *code = err.child_value("Code");
  *message = err.child_value("Message");
  return true;
}

int64_t ParseIso8601Ns(const std::string& text) {
  std::tm tm{};
  int frac_ms = 0;
  int y, mo, d, h, mi, s;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6) return 0;
  const size_t dot = text.find('.');
  if (dot != std::string::npos) std::sscanf(text.c_str() + dot + 1, "%3d", &frac_ms);
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const time_t t = timegm(&tm);
  if (t < 0) return 0;
  return int64_t{t} * 1000000000 + int64_t{frac_ms} * 1000000;
}

bool ParseListPage(const std::string& xml, std::vector<ListEntry>* out, std::string* next_token,
                   std::string* why) {
  pugi::xml_document doc;
  pugi::xml_parse_result r = doc.load_buffer(xml.data(), xml.size());
  if (!r) {
    *why = std::string("malformed ListObjectsV2 response: ") + r.description();
    return false;
  }
  pugi::xml_node root = doc.child("ListBucketResult");
  if (!root) {
    *why = "ListObjectsV2 response without ListBucketResult";
    return false;
  }
  for (pugi::xml_node c : root.children("Contents")) {
    ListEntry e;
    e.name = c.child_value("Key");
    e.info.exists = true;
    e.info.size = std::strtoull(c.child_value("Size"), nullptr, 10);
    e.info.etag = c.child_value("ETag");
    e.info.mtime_ns = ParseIso8601Ns(c.child_value("LastModified"));
    out->push_back(std::move(e));
  }
  const std::string truncated = root.child_value("IsTruncated");
  next_token->clear();
  if (truncated == "true") {
    *next_token = root.child_value("NextContinuationToken");
    if (next_token->empty()) {
      *why = "ListObjectsV2 response truncated without NextContinuationToken";
      return false;
    }
  }
  return true;
}

bool ParseUploadId(const std::string& xml, std::string* upload_id) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size())) return false;
  *upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  return !upload_id->empty();
}

std::string CompleteMultipartXml(const std::vector<std::string>& etags) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("CompleteMultipartUpload");
  for (size_t i = 0; i < etags.size(); ++i) {
    pugi::xml_node part = root.append_child("Part");
    part.append_child("PartNumber").text().set(static_cast<unsigned long long>(i + 1));
    part.append_child("ETag").text().set(etags[i].c_str());
  }
  std::ostringstream os;
  doc.save(os, "", pugi::format_raw | pugi::format_no_declaration);
  return os.str();
}

}  // namespace ferry::obj
