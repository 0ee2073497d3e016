// Ferry statuses as Python exceptions: every failing call raises ferry.Error (or the
// subclass for its code: ferry.InvalidArgument, ferry.NotFound, ...) carrying .code
// (the code's name) and the message.
#pragma once

#include <nanobind/nanobind.h>

#include <string>

#include "ferry/status.h"

namespace ferry::py {

// Thrown by the bindings; the module's translator turns it into the Python exception.
struct StatusError {
  Status status;
};

// Raises for a non-OK status.
inline void Check(const Status& s) {
  if (!s.ok()) throw StatusError{s};
}

// Creates the exception classes on `m` and installs the translator.
void DefineErrors(nanobind::module_& m);

}  // namespace ferry::py
