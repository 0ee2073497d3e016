// pybind11 side of bench/binding_overhead (run.sh).
#include <pybind11/pybind11.h>
namespace py = pybind11;
struct X {
  int v = 0;
  int post(int a) { return v += a; }
};
PYBIND11_MODULE(pbm, m) {
  m.def("f", [](int a) { return a + 1; });
  py::class_<X>(m, "X")
      .def(py::init<>())
      .def("post", &X::post, py::call_guard<py::gil_scoped_release>());
}
