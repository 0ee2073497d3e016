#!/usr/bin/env bash
# KV engine vs raw storage, same run: `ferry-kv run --json` (store and load GB/s) against
# `ferry-bench` on POSIX writing and reading whole chunks at the same chunk size and queue
# depth, in the same directory. Prints both and the ratios (target: >= 0.90).
#   bench/kv-vs-raw.sh [BUILD_DIR]     (default build)
# Env: DIR (default ./ferry-cache), QD (8), MODEL (llama-3.1-8b), DIRECT (0|1), ENGINE (uring)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
dir=${DIR:-./ferry-cache}
qd=${QD:-8}
model=${MODEL:-llama-3.1-8b}
direct=${DIRECT:-0}
engine=${ENGINE:-uring}
case "$model" in
  llama-3.1-8b) chunk=32M ;;
  small) chunk=512K ;;
  *) echo "unknown MODEL $model" >&2; exit 2 ;;
esac
out=$(mktemp -d)
trap 'rm -rf "$out" "$dir/raw-bench"' EXIT
export FERRY_PLUGIN_DIR=${FERRY_PLUGIN_DIR:-$build/lib}

# The engine with the built-in POSIX config (or $LMCACHE_CONFIG_FILE when set).
extra="{\"nixl_path\": \"$dir\", \"use_direct_io\": $([ "$direct" = 1 ] && echo true || echo false), \"nixl_backend_params\": {\"engine\": \"$engine\"}}"
LMCACHE_EXTRA_CONFIG="$extra" "$build/bin/ferry-kv" run --model "$model" --queue-depth "$qd" \
  --window-chunks "$qd" --no-lookup-bench --json "$out/kv.json"

# Raw transfers: whole chunks, same queue depth, same filesystem.
mkdir -p "$dir/raw-bench"
for op in write read; do
  "$build/bin/ferry-bench" --op "$op" --block-size "$chunk" --batch 1 --queue-depth "$qd" \
    --threads 1 --direct "$direct" --files 8 --total-bytes 2G --engine "$engine" \
    --dir "$dir/raw-bench" --json "$out/raw-$op.json" >/dev/null
done

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
kv = json.load(open(f"{out}/kv.json"))
def raw(op):
    # ferry-bench writes one JSON object per line, one line per case.
    cases = [json.loads(l) for l in open(f"{out}/raw-{op}.json") if l.strip()]
    return [c for c in cases if c.get("op") == op][-1]
w, r = raw("write"), raw("read")
print(f"chunk {kv['chunk_bytes'] >> 20} MiB, queue depth {kv['queue_depth']}, direct {kv['direct_io']}")
print(f"{'':8}{'ferry-kv GB/s':>15}{'ferry-bench GB/s':>18}{'ratio':>8}")
for name, k, b in (("store", kv["store_gbps"], w["gbps"]), ("load", kv["load_gbps"], r["gbps"])):
    print(f"{name:8}{k:15.2f}{b:18.2f}{k / b if b else 0:8.2f}")
PY
