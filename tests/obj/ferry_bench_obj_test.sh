#!/usr/bin/env bash
# ferry-bench --backend OBJ against the fixture's S3 server: writes and reads complete with
# the bytes they claim, the objects are gone afterwards, bad options are refused by name.
#   ferry_bench_obj_test.sh FERRY_BENCH_BINARY VENV_PYTHON   (FERRY_S3_STATE set by ctest)
set -uo pipefail
bench=$(realpath "$1") || exit 1
py=$(realpath "$2") || exit 1
set -a
# shellcheck disable=SC1091
source "$FERRY_S3_STATE/env" || exit 1
set +a
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-obj.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
prefix="bench-test-$RANDOM$RANDOM/"
params=(--param "endpoint_override=$FERRY_S3_ENDPOINT" --param "access_key=$FERRY_S3_ACCESS_KEY"
        --param "secret_key=$FERRY_S3_SECRET_KEY" --param "bucket=$FERRY_S3_BUCKET")
count_objects() {
  "$py" - "$prefix" <<'PY'
import os, sys, boto3
e = os.environ
s3 = boto3.client("s3", endpoint_url=e["FERRY_S3_ENDPOINT"], aws_access_key_id=e["FERRY_S3_ACCESS_KEY"],
                  aws_secret_access_key=e["FERRY_S3_SECRET_KEY"], region_name=e["FERRY_S3_REGION"])
print(s3.list_objects_v2(Bucket=e["FERRY_S3_BUCKET"], Prefix=sys.argv[1]).get("KeyCount", 0))
PY
}

"$bench" --backend OBJ "${params[@]}" --key-prefix "$prefix" --op write,read,randread -b 64K,1M \
  -q 1,4 --total-bytes 4M --json cases.jsonl >table.txt 2>err.txt || fail "ferry-bench exited $?: $(cat err.txt)"
"$py" - cases.jsonl <<'PY' || fail "cases: $(cat cases.jsonl)"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 12, len(rows)
for r in rows:
    assert r.get("ok", True), r
    assert r["bytes"] == 4 << 20 and r["gbps"] > 0, r
PY
grep -q "objects '$prefix\*'" table.txt || fail "the header names the objects: $(head -1 table.txt)"
[ "$(count_objects)" = 0 ] || fail "ferry-bench left objects under $prefix"
echo "ok: OBJ cases ran and cleaned up"

"$bench" --backend OBJ "${params[@]}" --key-prefix "$prefix" --op write -b 64K --total-bytes 1M \
  --keep-files --quiet || fail "--keep-files run exited $?"
[ "$(count_objects)" -gt 0 ] || fail "--keep-files kept no objects"
echo "ok: --keep-files keeps them"

"$bench" --backend OBJ "${params[@]}" --direct 1 --total-bytes 1M >d.txt 2>&1 && fail "--direct with OBJ accepted"
grep -q "direct" d.txt || fail "--direct refusal: $(cat d.txt)"
"$bench" --backend OBJ --param "endpoint_override=$FERRY_S3_ENDPOINT" --total-bytes 1M >b.txt 2>&1 \
  && fail "a missing bucket accepted"
grep -q "bucket" b.txt || fail "missing bucket: $(cat b.txt)"
echo "ok: bad options are refused by name"
echo "1 passed, 0 failed"
