// The exception classes, one per status code, under ferry.Error.
#include "errors.h"

#include <nanobind/stl/string.h>

#include <array>
#include <cctype>

namespace nb = nanobind;

namespace ferry::py {
namespace {

constexpr int kCodes = static_cast<int>(Code::kShutdown) + 1;
std::array<PyObject*, kCodes> g_classes{};
PyObject* g_base = nullptr;

// "kInvalidArgument" -> "InvalidArgument" (CodeName gives "INVALID_ARGUMENT").
std::string ClassName(Code c) {
  std::string out;
  bool upper = true;
  for (const char* p = CodeName(c); *p != '\0'; ++p) {
    if (*p == '_') {
      upper = true;
      continue;
    }
    out += upper ? *p : static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
    upper = false;
  }
  return out;
}

}  // namespace

void DefineErrors(nb::module_& m) {
  g_base = PyErr_NewExceptionWithDoc(
      "ferry._ferry.Error", "A Ferry call failed: .code names the status, .message says why.",
      PyExc_RuntimeError, nullptr);
  m.attr("Error") = nb::handle(g_base);
  for (int i = 1; i < kCodes; ++i) {
    const Code c = static_cast<Code>(i);
    if (c == Code::kInProgress) continue;
    const std::string name = ClassName(c);
    const std::string qualified = "ferry._ferry." + name;
    g_classes[i] = PyErr_NewException(qualified.c_str(), g_base, nullptr);
    m.attr(name.c_str()) = nb::handle(g_classes[i]);
  }
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const StatusError& e) {
      const int i = static_cast<int>(e.status.code());
      PyObject* cls = i > 0 && i < kCodes && g_classes[i] != nullptr ? g_classes[i] : g_base;
      nb::object err = nb::steal(PyObject_CallFunction(cls, "s", e.status.ToString().c_str()));
      if (!err.is_valid()) return;  // the call set its own error
      err.attr("code") = CodeName(e.status.code());
      err.attr("message") = e.status.message();
      PyErr_SetObject(cls, err.ptr());
    }
  });
}

}  // namespace ferry::py
