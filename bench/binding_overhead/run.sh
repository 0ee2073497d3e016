#!/usr/bin/env bash
# The measurement behind the choice of nanobind for the `ferry` package (docs/python.md):
# the same free function and the same GIL-releasing method bound with nanobind and with
# pybind11, called a million times each from Python, five alternating rounds, medians.
#   bash bench/binding_overhead/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"${PYTHON:-python3}" -m venv "$work/v"
"$work/v/bin/pip" install -q --disable-pip-version-check nanobind==3.1.0 pybind11==3.1.0
cmake -S "$here" -B "$work/b" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$work/v/bin/python" >/dev/null
cmake --build "$work/b" >/dev/null
cd "$work/b" && "$work/v/bin/python" "$here/time_calls.py"
