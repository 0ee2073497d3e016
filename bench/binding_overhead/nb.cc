// nanobind side of bench/binding_overhead (run.sh).
#include <nanobind/nanobind.h>
namespace nb = nanobind;
struct X {
  int v = 0;
  int post(int a) { return v += a; }
};
NB_MODULE(nbm, m) {
  m.def("f", [](int a) { return a + 1; });
  nb::class_<X>(m, "X")
      .def(nb::init<>())
      .def("post", &X::post, nb::call_guard<nb::gil_scoped_release>());
}
