#!/usr/bin/env bash
# The whole test suite from a fresh machine: install deps, configure, build, run ctest.
#   scripts/test.sh                 # Release-ish build in build/
#   FERRY_SANITIZE=address,undefined BUILD_TYPE=Sanitize BUILD_DIR=build-asan scripts/test.sh
#   FERRY_SANITIZE=thread BUILD_TYPE=Sanitize BUILD_DIR=build-tsan scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DFERRY_SANITIZE="${FERRY_SANITIZE:-}" >/dev/null
cmake --build "$build_dir" -j "$jobs"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 300
