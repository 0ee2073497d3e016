#!/usr/bin/env bash
# End-to-end test of the ferry-bench command line: every POSIX engine moves the bytes it
# was asked to and reports them, and bad options are refused with the option's name.
#   ferry_bench_cli_test.sh FERRY_BENCH_BINARY
set -uo pipefail

bench=$(realpath "$1") || exit 1
py=/usr/bin/python3  # Debian's interpreter (install-deps installs it); only its json module
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-cli.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
mkdir data

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# io_uring (seccomp, kernel.io_uring_disabled) or libaio may be unavailable here; the
# plugin then says "is not available here" and that engine is skipped. threads always runs.
engines=""
for engine in uring aio; do
  if "$bench" --engine "$engine" --op write -b 4K --total-bytes 64K -d data --quiet \
    >probe.txt 2>&1; then
    engines="$engines $engine"
  elif grep -q "is not available here" probe.txt; then
    echo "note: $engine is not available here, not tested: $(cat probe.txt)"
  else
    fail "$engine probe: $(cat probe.txt)"
  fi
done
engines="$engines threads"

# Every engine: a sequential write, read and a random read; each case must report ok and
# exactly the bytes asked for.
for engine in $engines; do
  "$bench" --engine "$engine" --op write,read,randread -b 64K,4K --total-bytes 2M --files 2 \
    -d data --json "$engine.jsonl" --quiet || fail "$engine: exited $?"
  "$py" - "$engine.jsonl" "$engine" <<'EOF' || exit 1
import json, sys
cases = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
want = {(op, bs) for op in ("write", "read", "randread") for bs in (65536, 4096)}
got = {(c["op"], c["block_size"]) for c in cases}
if got != want:
    sys.exit(f"FAIL: {sys.argv[2]}: cases {sorted(got)}, expected {sorted(want)}")
for c in cases:
    if not c["ok"] or c["bytes"] != 2 << 20 or c["engine"] != sys.argv[2] or c["gbps"] <= 0:
        sys.exit(f"FAIL: {sys.argv[2]}: bad case {c}")
EOF
done
[ -z "$(ls data)" ] || fail "data files left behind without --keep-files: $(ls data)"

# nixlbench's layout: files just as large as the working set (threads x qd x batch blocks),
# each slot's one Transfer reposted, with both ways of waiting; the bytes still add up.
for wait in block poll; do
  mkdir "nb-$wait"
  "$bench" --layout nixlbench --wait "$wait" --op write,read -b 16K --batch 2 -q 3 -t 2 \
    --files 2 --total-bytes 3M -d "nb-$wait" --keep-files --json "nb-$wait.jsonl" --quiet ||
    fail "--layout nixlbench --wait $wait: exited $?"
  "$py" - "nb-$wait.jsonl" "nb-$wait" <<'EOF' || exit 1
import json, os, sys
cases = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
if [c["op"] for c in cases] != ["write", "read"]:
    sys.exit(f"FAIL: nixlbench layout: cases {cases}")
for c in cases:
    if (not c["ok"] or c["bytes"] != 3 << 20 or c["layout"] != "nixlbench"
            or c["xfer_mode"] != "repost" or c["file_size"] != 6 * 16384):
        sys.exit(f"FAIL: nixlbench layout: bad case {c}")
sizes = sorted(os.path.getsize(os.path.join(sys.argv[2], f)) for f in os.listdir(sys.argv[2]))
if sizes != [6 * 16384, 6 * 16384]:
    sys.exit(f"FAIL: nixlbench layout: file sizes {sizes}, expected two of the working set's half")
EOF
done

# Bad options: refused, exit status non-zero, the message names the option.
expect_refusal() {
  local what=$1 pattern=$2
  shift 2
  if "$bench" "$@" >out.txt 2>&1; then fail "$what was accepted"; fi
  grep -q -- "$pattern" out.txt || fail "$what: message does not name $pattern: $(cat out.txt)"
}
expect_refusal "a missing --dir" "--dir" -d "$work/missing" --total-bytes 1M
expect_refusal "a bad size" "--block-size" -d data -b 3X --total-bytes 1M
expect_refusal "an unknown backend" "NOPE" -d data --backend NOPE --total-bytes 1M
expect_refusal "an unknown engine" "warp" -d data --engine warp --total-bytes 1M
expect_refusal "an unknown layout" "--layout" -d data --layout zigzag --total-bytes 1M

# --list-backends shows what each plugin moves.
"$bench" --list-backends >list.txt 2>&1 || fail "--list-backends exited $?: $(cat list.txt)"
grep -q "moves: DRAM->FILE read/write" list.txt || fail "--list-backends: no POSIX capability: $(cat list.txt)"

echo "ferry-bench CLI: all checks passed"
