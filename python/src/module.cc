// ferry._ferry: the compiled part of the `ferry` package (python/ferry).
#include <nanobind/nanobind.h>

#include "bindings.h"
#include "errors.h"

NB_MODULE(_ferry, m) {
  m.doc() = "Ferry's agent and KV engine (use the `ferry` package rather than this module).";
  ferry::py::DefineErrors(m);
  ferry::py::DefineAgent(m);
  ferry::py::DefineKv(m);
}
