// A schema shaped like the POSIX backend's, for ParamValues tests.
#pragma once

#include <vector>

#include "ferry/params.h"

namespace ferry::testing_schema {

inline std::vector<ParamSpec> PosixLikeSchema() {
  std::vector<ParamSpec> s;
  ParamSpec engine;
  engine.name = "engine";
  engine.type = ParamType::kEnum;
  engine.default_value = "threads";
  engine.doc = "I/O engine";
  engine.choices = {"uring", "aio", "threads"};
  engine.aliases = {{"use_uring", "uring"}, {"use_aio", "aio"}};
  s.push_back(engine);

  ParamSpec depth;
  depth.name = "queue_depth";
  depth.type = ParamType::kInt;
  depth.default_value = "64";
  depth.doc = "I/Os in flight per request";
  depth.aliases = {{"kernel_queue_size", ""}};
  s.push_back(depth);

  ParamSpec max_req;
  max_req.name = "max_request_size";
  max_req.type = ParamType::kSize;
  max_req.default_value = "1M";
  max_req.doc = "largest single I/O";
  s.push_back(max_req);

  ParamSpec direct;
  direct.name = "poll";
  direct.type = ParamType::kBool;
  direct.default_value = "false";
  direct.doc = "busy-poll completions";
  s.push_back(direct);

  ParamSpec label;
  label.name = "label";
  label.type = ParamType::kString;
  label.default_value = "default-label";
  label.doc = "free text";
  s.push_back(label);
  return s;
}

}  // namespace ferry::testing_schema
