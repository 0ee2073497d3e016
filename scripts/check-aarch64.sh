#!/usr/bin/env bash
# Compiles the core, the backend kit, the POSIX plugin, the KV engine and (with the CUDA
# headers) the GPU sources for aarch64
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
# The GPU sources too when this machine has the CUDA headers (and cuFile's, from the toolkit
# or the nvidia-cufile wheel in .venv): the toolkit's headers serve both architectures.
cuda_inc=${CUDA_HOME:-/usr/local/cuda}/include
cufile_inc=$(ls -d "$cuda_inc" .venv/lib/python3*/site-packages/nvidia/cu*/include 2>/dev/null |
  while read -r d; do [ -f "$d/cufile.h" ] && echo "$d" && break; done || true)
gpu_files=()
if [ -f "$cuda_inc/cuda_runtime_api.h" ]; then
  gpu_files+=(src/cuda_kit/*.cc src/kv/gpu/*.cc)
  [ -n "$cufile_inc" ] && gpu_files+=(src/backends/gds/*.cc)
fi
for f in src/core/*.cc src/backend_kit/*.cc src/backends/posix/*.cc src/kv/*.cc "${gpu_files[@]}"; do
  case $f in *_avx2.cc | *_avx512.cc) continue ;; esac
  extra=()
  case $f in
    src/cuda_kit/* | src/backends/gds/* | src/backends/posix/vram_engine.cc | src/kv/gpu/*)
      extra=(-DFERRY_POSIX_VRAM -Isrc -Isrc/cuda_kit -idirafter "$cuda_inc")
      [ -n "$cufile_inc" ] && extra+=(-idirafter "$cufile_inc") ;;
  esac
  # vram_engine.cc needs the CUDA headers; without them CMake leaves it out, and so do we.
  if [ "$f" = src/backends/posix/vram_engine.cc ] && [ ! -f "$cuda_inc/cuda_runtime_api.h" ]; then
    continue
  fi
  # Third-party headers (yaml-cpp, xxhash, liburing, ...) come after the cross sysroot's.
  if ! "$cxx" -std=c++20 -fsyntax-only -Wall -Wextra -Werror -Iinclude -Isrc/backend_kit \
    "${extra[@]}" -idirafter /usr/include "$f"; then
    echo "aarch64: $f does not compile" >&2
    failed=1
  fi
done
[ "$failed" -eq 0 ] && echo "aarch64: core, backend kit, POSIX, KV engine${gpu_files:+ and the GPU sources} compile"
exit "$failed"
