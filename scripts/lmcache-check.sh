#!/usr/bin/env bash
# LMCache's released NIXL storage backend (lmcache from PyPI, unmodified) on Ferry through
# the `nixl` shim: store, retrieve byte-equal, miss, LRU eviction skipping pinned keys,
# static pool and dynamic mode, POSIX with nixl_buffer_device cpu
# (python/lmcache_check/lmcache_nixl_check.py).
#
#   scripts/lmcache-check.sh [build-dir] [--device cuda] [--backends GDS,GDS_MT]
#
# --device cuda (a machine with a GPU and torch with CUDA) runs the checks with LMCache's
# staging buffer in GPU memory over GDS and GDS_MT.
# Needs a build (scripts/test.sh or cmake) with the Python package. LMCache and its torch
# go into .venv-lmcache (pinned; several GB, so CI does not run this); LMCACHE_PYTHON names
# an interpreter that already has lmcache instead. LMCACHE_CHECK_REAL_NIXL=1 with an
# interpreter that has the real nixl wheel runs the same checks on NIXL, without the shim.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_arg=$root/build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  build_arg=$1
  shift
fi
build=$(cd "$build_arg" && pwd)
[ -d "$build/python/ferry" ] || { echo "lmcache-check: no ferry package in $build/python (build first)" >&2; exit 1; }
py=${LMCACHE_PYTHON:-}
if [ -z "$py" ]; then
  venv="$root/.venv-lmcache"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import lmcache" 2>/dev/null; then
    echo "lmcache-check: installing lmcache==0.5.6 (with torch) into $venv"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check lmcache==0.5.6 numpy==2.2.6
  fi
  py="$venv/bin/python"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-lmcache.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ "${LMCACHE_CHECK_REAL_NIXL:-0}" = 1 ]; then
  "$py" "$root/python/lmcache_check/lmcache_nixl_check.py" "$work" "$@"
else
  PYTHONPATH="$build/python-shim:$build/python${PYTHONPATH:+:$PYTHONPATH}" "$py" "$root/python/lmcache_check/lmcache_nixl_check.py" "$work" "$@"
fi
