#!/usr/bin/env bash
# End-to-end test of the ferry-kv command line, as a user runs it: run, restart, ls,
# verify (a flipped byte), clear, and the configuration errors the seed's users hit.
#   ferry_kv_cli_test.sh FERRY_KV_BINARY
# Each check prints what it expected; the first failure ends the test with exit 1.
set -uo pipefail

kv=$(realpath "$1") || exit 1
py=/usr/bin/python3  # Debian's interpreter (install-deps installs it); only its json module
# LMCACHE_* settings of whoever runs the tests would override config.yaml below (and
# LMCACHE_EXTRA_CONFIG could point `clear` at their real cache): none of them here.
for v in "${!LMCACHE_@}"; do unset "$v"; done
# shellcheck source=cli_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_test_lib.sh" || exit 1
enter_workdir ferry-kv-cli

mkdir pool
cat >config.yaml <<EOF
chunk_size: 256
nixl_buffer_size: 67108864
nixl_buffer_device: cpu
extra_config:
  enable_nixl_storage: true
  nixl_backend: POSIX
  nixl_pool_size: 64
  nixl_path: $work/pool
EOF
run_args=(--config config.yaml --model small --no-lookup-bench --users 4 --turns 3 --seed 7)

# 1. A first run stores chunks and returns only verified bytes.
"$kv" run "${run_args[@]}" --json first.json >first.txt || fail "first run exited $?"
[ "$(field first.json mismatched_chunks)" = 0 ] || fail "first run: mismatched chunks"
[ "$(field first.json store_failures)" = 0 ] || fail "first run: store failures"
[ "$(field first.json corrupt_chunks)" = 0 ] || fail "first run: corrupt chunks"
[ "$(field first.json verified_bytes)" -gt 0 ] || fail "first run verified nothing"
[ "$(field first.json lookup_32k_p99_us)" = absent ] ||
  fail "--no-lookup-bench still reported a 32k lookup figure"
chunk_bytes=$(field first.json chunk_bytes)
stored=$("$py" -c "print(round($(field first.json gb_stored) * 1e9 / $chunk_bytes))")
[ "$stored" -gt 0 ] || fail "first run stored no chunk"

# 2. A new process on the same pool finds every chunk again (the cache survives a restart).
"$kv" run "${run_args[@]}" --json second.json >/dev/null || fail "second run exited $?"
[ "$(field second.json chunk_hits)" = "$(field second.json chunks)" ] ||
  fail "after restart: $(field second.json chunk_hits) of $(field second.json chunks) chunks hit"
[ "$(field second.json mismatched_chunks)" = 0 ] || fail "second run: mismatched chunks"

# 3. ls counts what the first run stored.
"$kv" ls --config config.yaml >ls.txt || fail "ls exited $?"
grep -q ": $stored chunks," ls.txt || fail "ls: expected $stored chunks, got: $(head -1 ls.txt)"
grep -q "model small " ls.txt || fail "ls: no line for model small"

# 4. verify finds one flipped payload byte, names the file, and exits 2.
"$kv" verify --config config.yaml >verify-ok.txt || fail "verify of a good pool exited $?"
grep -q "all checksums good" verify-ok.txt || fail "verify of a good pool: $(cat verify-ok.txt)"
slot=$(ls pool | grep '\.slot0$') || fail "no slot0 file in the pool"
"$py" - "pool/$slot" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:  # slot layout: 4 KiB header, then the payload
    f.seek(4096 + 100)
    b = f.read(1)
    f.seek(4096 + 100)
    f.write(bytes([b[0] ^ 0x01]))
EOF
"$kv" verify --config config.yaml >verify-bad.txt
rc=$?
[ "$rc" = 2 ] || fail "verify after a flipped byte exited $rc, expected 2"
grep -q "^CORRUPT $slot: " verify-bad.txt || fail "verify did not name $slot: $(cat verify-bad.txt)"
grep -q ": $((stored - 1)) chunks," verify-bad.txt || fail "verify: $(head -1 verify-bad.txt)"

# 5. A run over the corrupt chunk counts it and treats it as a miss: no bad byte returned.
"$kv" run "${run_args[@]}" --json third.json >/dev/null || fail "third run exited $?"
[ "$(field third.json corrupt_chunks)" -ge 1 ] || fail "third run did not count the corrupt chunk"
[ "$(field third.json mismatched_chunks)" = 0 ] || fail "third run returned corrupt bytes"

# 6. clear removes every Ferry file and nothing else.
touch pool/not-ferry.txt
"$kv" clear --config config.yaml >clear.txt || fail "clear exited $?"
[ "$(ls pool)" = not-ferry.txt ] || fail "after clear the pool holds: $(ls pool | tr '\n' ' ')"

# 7. The LMCache entry point: LMCACHE_CONFIG_FILE without LMCACHE_USE_EXPERIMENTAL is refused,
#    and the message names the variable.
if env -u LMCACHE_USE_EXPERIMENTAL LMCACHE_CONFIG_FILE="$work/config.yaml" \
  "$kv" ls >noexp.txt 2>&1; then
  fail "LMCACHE_CONFIG_FILE without LMCACHE_USE_EXPERIMENTAL was accepted"
fi
grep -q LMCACHE_USE_EXPERIMENTAL noexp.txt || fail "refusal does not name the variable: $(cat noexp.txt)"
LMCACHE_USE_EXPERIMENTAL=True LMCACHE_CONFIG_FILE="$work/config.yaml" "$kv" ls >/dev/null ||
  fail "LMCACHE_CONFIG_FILE with LMCACHE_USE_EXPERIMENTAL=True was refused"

# 8. A bad value is refused with the key's name and the allowed values.
sed 's/nixl_backend: POSIX/nixl_backend: NFS/' config.yaml >bad.yaml
if "$kv" ls --config bad.yaml >bad.txt 2>&1; then fail "nixl_backend: NFS was accepted"; fi
grep -q "nixl_backend" bad.txt && grep -q "POSIX" bad.txt ||
  fail "bad backend message: $(cat bad.txt)"

# 9. With the lookup benchmark: its figures are in the JSON, and its scratch pool is gone.
#    A symlink planted at the name the benchmark once used leads nowhere: nothing is
#    written through it.
mkdir outside
ln -s "$work/outside" pool/ferry-kv.lookup-bench
"$kv" run --config config.yaml --model small --users 1 --turns 1 --json bench.json >/dev/null ||
  fail "run with the lookup benchmark exited $?"
[ -z "$(ls outside)" ] || fail "the lookup benchmark wrote through a planted link: $(ls outside | head -3)"
rm pool/ferry-kv.lookup-bench
for k in lookup_32k_p99_us lookup_32k_hashed_p99_us lookup_32k_keys_only_p99_us; do
  v=$(field bench.json "$k")
  "$py" -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)" "$v" 2>/dev/null ||
    fail "lookup benchmark: $k is $v"
done
[ -z "$(ls pool | grep lookup-bench)" ] || fail "the lookup benchmark left its pool behind: $(ls pool)"

# 10. Out-of-range numbers on the command line are refused by name, never a crash.
for bad in "--system-prompts 0" "--window-chunks 4000000000" "--queue-depth 0" "--users 0"; do
  # shellcheck disable=SC2086
  "$kv" run --config config.yaml --model small --no-lookup-bench $bad >range.txt 2>&1
  rc=$?
  [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] || fail "'$bad' exited $rc: $(cat range.txt)"
  grep -q -- "${bad%% *}" range.txt || fail "'$bad': message does not name the option: $(cat range.txt)"
done

echo "ferry-kv CLI: all checks passed ($stored chunks stored)"
