#!/usr/bin/env bash
# `ferry-kv run --device cuda` end to end on a GPU: KV window and engine buffer in GPU
# memory, every loaded byte verified, and the run's own lookup benchmark (host KV) runs
# too. Exits 77 (ctest: skipped) on a machine without a GPU.
#   ferry_kv_cuda_test.sh FERRY_KV_BINARY
set -uo pipefail

kv=$(realpath "$1") || exit 1
if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
  echo "skipped: GPU test on a machine without a GPU (nvidia-smi lists none)"
  exit 77
fi
py=$(command -v python3) || exit 1
for v in "${!LMCACHE_@}"; do unset "$v"; done
# shellcheck source=../tools/cli_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tools/cli_test_lib.sh" || exit 1
enter_workdir ferry-kv-cuda "${FERRY_GDS_TEST_DIR:-/var/tmp}"
cat >config.yaml <<YAML
chunk_size: 256
nixl_buffer_size: 67108864
nixl_buffer_device: cpu
extra_config:
  enable_nixl_storage: true
  nixl_backend: POSIX
  nixl_pool_size: 64
  nixl_path: $work/pool
YAML
mkdir pool
"$kv" run --config config.yaml --device cuda --model small --users 4 --turns 3 --seed 7 \
  --json run.json >run.txt 2>&1 || {
  rc=$?
  cat run.txt
  fail "ferry-kv run --device cuda exited $rc"
}
[ "$(field run.json mismatched_chunks)" = 0 ] || fail "mismatched chunks"
[ "$(field run.json corrupt_chunks)" = 0 ] || fail "corrupt chunks"
[ "$(field run.json verified_bytes)" -gt 0 ] || fail "no byte loaded and verified"
[ "$(field run.json lookup_32k_p99_us)" != absent ] ||
  fail "the 32k lookup benchmark did not run: $(grep 'lookup 32k' run.txt)"
echo "ok: ferry-kv run --device cuda, $(field run.json verified_bytes) bytes verified"
