#!/usr/bin/env bash
# The main job from a fresh machine: install deps, build, run `ferry-kv run` on its
# built-in default configuration (POSIX backend under ./ferry-cache). Extra arguments go
# to ferry-kv run, e.g. scripts/run.sh --json result.json
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target ferry-kv
exec "$build_dir/bin/ferry-kv" run "$@"
