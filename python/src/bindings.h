// The parts of ferry._ferry, one per file.
#pragma once

#include <nanobind/nanobind.h>

namespace ferry::py {

void DefineAgent(nanobind::module_& m);
void DefineKv(nanobind::module_& m);

}  // namespace ferry::py
