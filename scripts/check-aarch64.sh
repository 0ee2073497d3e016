#!/usr/bin/env bash
# Compiles the core, the backend kit, the POSIX plugin and the KV engine for aarch64
# (Grace-Hopper hosts) with Debian's cross compiler, syntax and warnings only: no aarch64
# libraries are needed, and the x86-only wide hash builds are left out as CMake leaves
# them out there. Installs the cross compiler if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=aarch64-linux-gnu-g++
if ! command -v "$cxx" >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq --no-install-recommends g++-aarch64-linux-gnu >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends g++-aarch64-linux-gnu >/dev/null; }
fi
failed=0
for f in src/core/*.cc src/backend_kit/*.cc src/backends/posix/*.cc src/kv/*.cc; do
  case $f in *_avx2.cc | *_avx512.cc) continue ;; esac
  # Third-party headers (yaml-cpp, xxhash, liburing, ...) come after the cross sysroot's.
  if ! "$cxx" -std=c++20 -fsyntax-only -Wall -Wextra -Werror -Iinclude -Isrc/backend_kit \
    -idirafter /usr/include "$f"; then
    echo "aarch64: $f does not compile" >&2
    failed=1
  fi
done
[ "$failed" -eq 0 ] && echo "aarch64: core, backend kit, POSIX and KV engine compile"
exit "$failed"
