#!/usr/bin/env bash
# obj-vs-boto3.sh — Ferry's OBJ backend (through ferry-bench) against boto3 (default
# transfer settings) and curl (--aws-sigv4, --parallel) on one S3 server, same run, tools
# alternating per round: 1 MiB and 32 MiB objects, 1 and 8 in flight, PUT and GET.
# See docs/benchmarks.md for figures and what they mean.
#
#   bench/obj-vs-boto3.sh [--rounds N] [--sizes 1M,32M] [--inflight 1,8] [--bytes-per-case 512M]
#                         [--json FILE] [--endpoint URL --access-key K --secret-key S --bucket B]
# Without --endpoint it starts SeaweedFS (tests/obj/s3_server.py) on loopback in a fresh
# directory under $TMPDIR and stops it afterwards. Needs a build (build/bin/ferry-bench) and
# .venv (scripts/install-deps.sh). Exit 0 when every run completed, whatever the ratios.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=$REPO/.venv/bin/python
BENCH=${FERRY_BENCH:-$REPO/build/bin/ferry-bench}
[ -x "$BENCH" ] || { echo "obj-vs-boto3: no $BENCH (build first: scripts/test.sh or cmake)" >&2; exit 2; }
[ -x "$PY" ] || { echo "obj-vs-boto3: no $PY (run scripts/install-deps.sh)" >&2; exit 2; }
args=("$@")
if ! printf '%s\n' "$@" | grep -q -- '^--endpoint$'; then
  state=$(mktemp -d "${TMPDIR:-/tmp}/ferry-obj-bench.XXXXXX")
  trap '"$PY" "$REPO/tests/obj/s3_server.py" stop "$state"' EXIT
  "$PY" "$REPO/tests/obj/s3_server.py" start "$state"
  set -a
  # shellcheck disable=SC1091
  source "$state/env"
  set +a
  args+=(--endpoint "$FERRY_S3_ENDPOINT" --access-key "$FERRY_S3_ACCESS_KEY"
         --secret-key "$FERRY_S3_SECRET_KEY" --bucket "$FERRY_S3_BUCKET" --region "$FERRY_S3_REGION")
  echo "# SeaweedFS $("$REPO/.venv/bin/weed" version 2>/dev/null | head -1 | awk '{print $3}') at $FERRY_S3_ENDPOINT, data in $state"
fi
"$PY" "$REPO/bench/obj_vs_boto3.py" --ferry-bench "$BENCH" "${args[@]}"
