#!/usr/bin/env bash
# `pip install .` and `pip install ./python/nixl_shim` into a fresh virtual environment,
# then a transfer through the installed ferry (its libraries and plugins from inside the
# wheel) and an import of nixl._api from the shim. Run by ctest (python.pip_install).
#   scripts/pip-install-check.sh [python]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${1:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pip.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$py" -m venv "$work/venv"
# The shim is built from a copy: setuptools writes build/ and egg-info next to its sources.
cp -r "$root/python/nixl_shim" "$work/nixl_shim"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check "$root" "$work/nixl_shim"
cd "$work"  # nothing of the source tree on sys.path
"$work/venv/bin/python" - "$work" <<'PY'
import os, sys
import numpy as np
import ferry
import nixl._api
assert ferry.__file__.startswith(sys.prefix), ferry.__file__
a = ferry.Agent("pip-check")
assert "POSIX" in [p["name"] for p in a.plugins() if p["usable"]], a.plugins()
a.create_backend("POSIX")
buf = np.arange(8192, dtype=np.uint8) % 251
back = np.zeros_like(buf)
a.register_memory(buf)
a.register_memory(back)
path = os.path.join(sys.argv[1], "f")
a.register_memory([ferry.file_desc(path, 1, write=True, create=True)], "FILE")
for op, mem in (("WRITE", buf), ("READ", back)):
    x = a.transfer(op, mem, [(0, mem.nbytes, 1)])
    x.post()
    x.wait(10)
assert np.array_equal(buf, back)
assert nixl._api.nixl_agent.__module__ == "ferry.nixl._api"
print("pip install: ferry and the nixl shim work from the installed wheel")
PY
