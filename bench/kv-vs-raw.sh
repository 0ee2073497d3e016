#!/usr/bin/env bash
# KV engine vs raw storage, same run: `ferry-kv run --json` (store and load GB/s) against
# `ferry-bench` on POSIX writing and reading whole chunks at the same chunk size and queue
# depth, in the same directory. Prints both and the ratios (target: >= 0.90).
#   bench/kv-vs-raw.sh [BUILD_DIR]     (default build)
# Env: DIR (default ./ferry-cache), QD (8), MODEL (llama-3.1-8b), DIRECT (1|0), ENGINE (uring),
#      REPS (3): the pair is run REPS times, alternating, and the median of each is printed.
#
# Fairness. Both sides use the same O_DIRECT setting (DIRECT=1 by default): with the page
# cache the engine's loads read chunks it wrote moments ago (cache hits) while ferry-bench
# reads files it fadvised out, so buffered load figures compare memory with disk. Dropping
# caches needs root, so direct I/O is the comparable setting here. Both write and read
# whole chunks (32 MiB for llama-3.1-8b) with QD transfers in flight, over as many files as
# the engine's pool has slots (48, one chunk per file, as the engine's slots are), and move
# as many chunks as the engine's run did (its loads re-read shared system prompts, so
# ferry-bench cycles over its files the same number of times).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
dir=${DIR:-./ferry-cache}
qd=${QD:-8}
model=${MODEL:-llama-3.1-8b}
direct=${DIRECT:-1}
engine=${ENGINE:-uring}
reps=${REPS:-3}
out=$(mktemp -d)
trap 'rm -rf "$out" "$dir/raw-bench"' EXIT
export FERRY_PLUGIN_DIR=${FERRY_PLUGIN_DIR:-$build/lib}
dio=$([ "$direct" = 1 ] && echo true || echo false)

for i in $(seq "$reps"); do
  # The engine with the built-in POSIX config (or $LMCACHE_CONFIG_FILE when set).
  extra="{\"nixl_path\": \"$dir\", \"use_direct_io\": $dio, \"nixl_backend_params\": {\"engine\": \"$engine\"}}"
  LMCACHE_EXTRA_CONFIG="$extra" "$build/bin/ferry-kv" run --model "$model" --queue-depth "$qd" \
    --window-chunks "$qd" --no-lookup-bench --json "$out/kv.$i.json" >/dev/null
  # Raw transfers: whole chunks (the run's chunk size), same queue depth, same filesystem,
  # one chunk per file over as many files as the engine has slots (48 when it has none).
  mkdir -p "$dir/raw-bench"
  for op in write read; do
    read -r chunk slots total < <(python3 -c "import json, math, sys; k = json.load(open(sys.argv[1]))
c = k['chunk_bytes']
n = max(1, math.ceil(k['gb_stored' if sys.argv[2] == 'write' else 'gb_loaded'] * 1e9 / c))
print(c, k.get('nixl_pool_size') or 48, n * c)" "$out/kv.$i.json" "$op")
    "$build/bin/ferry-bench" --op "$op" --block-size "$chunk" --batch 1 --queue-depth "$qd" \
      --threads 1 --direct "$direct" --files "$slots" --file-size "$chunk" \
      --total-bytes "$total" --engine "$engine" \
      --dir "$dir/raw-bench" --json "$out/raw-$op.$i.json" >/dev/null
  done
  rm -rf "$dir/raw-bench"
done

python3 - "$out" "$reps" <<'PY'
import json, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
def raw(op, i):
    # ferry-bench writes one JSON object per line, one line per case.
    cases = [json.loads(l) for l in open(f"{out}/raw-{op}.{i}.json") if l.strip()]
    return [c for c in cases if c.get("op") == op][-1]["gbps"]
kvs = [json.load(open(f"{out}/kv.{i}.json")) for i in range(1, reps + 1)]
kv = kvs[-1]
print(f"chunk {kv['chunk_bytes'] >> 20} MiB, queue depth {kv['queue_depth']}, "
      f"direct {kv['direct_io']}, {reps} alternating runs (median; per-run ratios in brackets)")
print(f"{'':8}{'ferry-kv GB/s':>15}{'ferry-bench GB/s':>18}{'ratio':>8}")
for name, key, op in (("store", "store_gbps", "write"), ("load", "load_gbps", "read")):
    k = [x[key] for x in kvs]
    b = [raw(op, i) for i in range(1, reps + 1)]
    ratios = [x / y if y else 0 for x, y in zip(k, b)]
    print(f"{name:8}{statistics.median(k):15.2f}{statistics.median(b):18.2f}"
          f"{statistics.median(ratios):8.2f}  [{' '.join(f'{r:.2f}' for r in ratios)}]")
if "engine_rss_mib" in kv:  # absent from older ferry-kv builds
    print(f"memory: peak RSS {kv['peak_rss_mib']:.0f} MiB = stand-in KV source "
          f"{kv['kv_source_mib']:.0f} MiB + engine and tool {kv['engine_rss_mib']:.0f} MiB "
          f"(bound {kv['rss_bound_mib']:.0f} MiB)")
PY
