#!/usr/bin/env bash
# ferry-kv on the seed's OBJ configuration, against the fixture's S3 server: run, a second
# run served from the bucket (restart recovery), ls, verify (a byte flipped with boto3),
# clear, and a wrong secret.
#   ferry_kv_obj_cli_test.sh FERRY_KV_BINARY VENV_PYTHON   (FERRY_S3_STATE set by ctest)
set -uo pipefail
kv=$(realpath "$1") || exit 1
py=$(realpath "$2") || exit 1
for v in "${!LMCACHE_@}" "${!AWS_@}"; do unset "$v"; done
set -a
# shellcheck disable=SC1091
source "$FERRY_S3_STATE/env" || exit 1
set +a
# shellcheck source=../tools/cli_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tools/cli_test_lib.sh" || exit 1
enter_workdir ferry-kv-obj-cli
root="cli-$RANDOM$RANDOM"
# The seed's OBJ example with this server's values; the endpoint comes from the standard
# AWS variable (the seed's YAML has no endpoint key).
write_config() {
  cat >"$1" <<YAML
chunk_size: 256
nixl_buffer_size: 67108864
nixl_buffer_device: cpu
extra_config:
  enable_nixl_storage: true
  nixl_backend: OBJ
  nixl_pool_size: 64
  nixl_path: /$root/
  nixl_backend_params:
    access_key: $FERRY_S3_ACCESS_KEY
    secret_key: $2
    bucket: $FERRY_S3_BUCKET
    region: $FERRY_S3_REGION
YAML
}
write_config config.yaml "$FERRY_S3_SECRET_KEY"
export AWS_ENDPOINT_URL=$FERRY_S3_ENDPOINT
run_args=(--config config.yaml --model small --no-lookup-bench --users 4 --turns 3 --seed 7)

"$kv" run "${run_args[@]}" --json first.json >first.txt || fail "first run exited $?: $(cat first.txt)"
[ "$(field first.json mismatched_chunks)" = 0 ] || fail "first run returned mismatched chunks"
grep -q "on OBJ (s3://$FERRY_S3_BUCKET/$root/" first.txt || fail "run names the bucket: $(head -1 first.txt)"
echo "ok: first run"

"$kv" run "${run_args[@]}" --json second.json >second.txt || fail "second run exited $?"
[ "$(field second.json mismatched_chunks)" = 0 ] || fail "second run returned mismatched chunks"
"$py" - second.json <<'PY' || fail "the second run was not served from the bucket"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["chunk_hit_rate"] > 0.9, d["chunk_hit_rate"]
PY
echo "ok: a new process is served from the bucket"

"$kv" ls --config config.yaml >ls.txt || fail "ls exited $?"
grep -q " chunks, " ls.txt || fail "ls: $(cat ls.txt)"
"$kv" verify --config config.yaml >verify.txt || fail "verify exited $?: $(cat verify.txt)"
grep -q "all checksums good" verify.txt || fail "verify: $(cat verify.txt)"
echo "ok: ls and verify"

# Flip one payload byte of one chunk object behind Ferry's back.
"$py" - "$root" <<'PY' || fail "could not damage an object with boto3"
import os, sys, boto3
e = os.environ
s3 = boto3.client("s3", endpoint_url=e["FERRY_S3_ENDPOINT"], aws_access_key_id=e["FERRY_S3_ACCESS_KEY"],
                  aws_secret_access_key=e["FERRY_S3_SECRET_KEY"], region_name=e["FERRY_S3_REGION"])
listing = s3.list_objects_v2(Bucket=e["FERRY_S3_BUCKET"], Prefix=sys.argv[1] + "/")["Contents"]
keys = [o["Key"] for o in listing if not o["Key"].endswith(".lease")]
body = bytearray(s3.get_object(Bucket=e["FERRY_S3_BUCKET"], Key=keys[0])["Body"].read())
body[4096 + 1000] ^= 0xFF
s3.put_object(Bucket=e["FERRY_S3_BUCKET"], Key=keys[0], Body=bytes(body))
PY
"$kv" verify --config config.yaml >bad.txt
[ $? -eq 2 ] || fail "verify of a damaged object exits 2: $(cat bad.txt)"
grep -q "CORRUPT .*payload checksum mismatch" bad.txt || fail "verify names the object: $(cat bad.txt)"
"$kv" run "${run_args[@]}" --json third.json >third.txt || fail "run over a damaged object exited $?"
[ "$(field third.json mismatched_chunks)" = 0 ] || fail "a damaged object reached the caller"
[ "$(field third.json corrupt_chunks)" -ge 1 ] || fail "the damaged chunk was not counted"
echo "ok: a damaged object is reported and never returned"

"$kv" clear --config config.yaml >clear.txt || fail "clear exited $?"
grep -q "removed [1-9][0-9]* object(s)" clear.txt || fail "clear: $(cat clear.txt)"
"$kv" ls --config config.yaml | grep -q ": 0 chunks" || fail "chunks left after clear"
echo "ok: clear"

write_config wrong.yaml "not-the-secret"
"$kv" run --config wrong.yaml --model small --no-lookup-bench --users 1 --turns 1 >wrong.txt 2>&1
[ $? -ne 0 ] || fail "a wrong secret must fail the run"
grep -q "SignatureDoesNotMatch" wrong.txt || fail "the error names the S3 code: $(cat wrong.txt)"
grep -q "not-the-secret" wrong.txt && fail "the secret was printed"
echo "ok: a wrong secret is refused by name"
echo "1 passed, 0 failed"
