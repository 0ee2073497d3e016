#!/usr/bin/env python3
"""Ferry's OBJ backend against boto3 and curl on one S3 server, same run, alternating.

For each object size and in-flight count, PUT then GET the same number of objects through
  ferry   ferry-bench --backend OBJ (one whole object per descriptor, -q in flight)
  boto3   upload_fileobj / download_fileobj with default transfer settings, one thread per
          object in flight (so 32 MiB objects go multipart with boto3's 8 MiB parts)
  curl    one curl process, --parallel --parallel-max N, --aws-sigv4, from/to tmpfs
and print GB/s per tool and Ferry's ratios. Rounds alternate the tool order.

usage: obj_vs_boto3.py --ferry-bench BIN --endpoint URL --access-key K --secret-key S
                       --bucket B [--region R] [--rounds 3] [--sizes 1M,32M] [--inflight 1,8]
                       [--bytes-per-case 512M] [--json OUT]
"""
import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config


def size_of(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def ferry(args, op, size, inflight, total):
    cmd = [args.ferry_bench, "--backend", "OBJ", "--op", op, "-b", str(size), "-q", str(inflight),
           "--total-bytes", str(total), "--files", str(max(inflight, total // size)), "--quiet",
           "--key-prefix", "bench/ferry/", "--json", "/dev/stdout",
           "--param", "endpoint_override=" + args.endpoint, "--param", "access_key=" + args.access_key,
           "--param", "secret_key=" + args.secret_key, "--param", "bucket=" + args.bucket,
           "--param", "region=" + args.region]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    if not row.get("ok", True):
        raise RuntimeError(row.get("error"))
    return row["gbps"]


def boto3_client(args, inflight):
    return boto3.client("s3", endpoint_url=args.endpoint, aws_access_key_id=args.access_key,
                        aws_secret_access_key=args.secret_key, region_name=args.region,
                        config=Config(max_pool_connections=max(10, 4 * inflight)))


def boto3_run(args, s3, op, size, inflight, total, payload):
    n = max(inflight, total // size)
    keys = ["bench/boto3/%d.%d" % (size, i) for i in range(n)]
    if op == "read":  # the objects exist before timing, as for the others
        with ThreadPoolExecutor(inflight) as ex:
            list(ex.map(lambda k: s3.upload_fileobj(io.BytesIO(payload), args.bucket, k), keys))

    def one(k):
        if op == "write":
            s3.upload_fileobj(io.BytesIO(payload), args.bucket, k)
        else:
            buf = io.BytesIO()
            s3.download_fileobj(args.bucket, k, buf)
            assert buf.getbuffer().nbytes == size

    t0 = time.perf_counter()
    with ThreadPoolExecutor(inflight) as ex:
        list(ex.map(one, keys))
    seconds = time.perf_counter() - t0
    drop(s3, args.bucket, keys)
    return n * size / seconds / 1e9


def drop(s3, bucket, keys):
    """Deletes what a run wrote (untimed), so a long benchmark does not fill the server."""
    for i in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})


def curl_run(args, s3, op, size, inflight, total, src):
    n = max(inflight, total // size)
    base = "%s/%s/bench/curl/%d." % (args.endpoint.rstrip("/"), args.bucket, size)
    common = ["curl", "-s", "--no-progress-meter", "--fail", "--aws-sigv4", "aws:amz:%s:s3" % args.region,
              "--user", "%s:%s" % (args.access_key, args.secret_key),
              "--parallel", "--parallel-max", str(inflight)]
    put = common[:]
    for i in range(n):
        put += ["-T", src, base + str(i)]
    get = common[:]
    for i in range(n):
        get += ["-o", "/dev/null", base + str(i)]
    if op == "read":
        subprocess.run(put, check=True, stdout=subprocess.DEVNULL)
    t0 = time.perf_counter()
    subprocess.run(put if op == "write" else get, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    drop(s3, args.bucket, ["bench/curl/%d.%d" % (size, i) for i in range(n)])
    return n * size / seconds / 1e9


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ferry-bench", required=True)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--access-key", required=True)
    p.add_argument("--secret-key", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sizes", default="1M,32M")
    p.add_argument("--inflight", default="1,8")
    p.add_argument("--bytes-per-case", default="512M")
    p.add_argument("--json")
    args = p.parse_args()
    total = size_of(args.bytes_per_case)
    results = []
    tmpdir = "/dev/shm" if os.path.isdir("/dev/shm") else None
    for size in [size_of(s) for s in args.sizes.split(",")]:
        payload = os.urandom(size)
        with tempfile.NamedTemporaryFile(dir=tmpdir) as src:
            src.write(payload)
            src.flush()
            for inflight in [int(x) for x in args.inflight.split(",")]:
                s3 = boto3_client(args, inflight)
                for op in ("write", "read"):
                    runs = {"ferry": [], "boto3": [], "curl": []}
                    tools = {
                        "ferry": lambda: ferry(args, op, size, inflight, total),
                        "boto3": lambda: boto3_run(args, s3, op, size, inflight, total, payload),
                        "curl": lambda: curl_run(args, s3, op, size, inflight, total, src.name),
                    }
                    order = list(tools)
                    for r in range(args.rounds):
                        for name in order[r % 3:] + order[:r % 3]:
                            runs[name].append(tools[name]())
                    med = {k: sorted(v)[len(v) // 2] for k, v in runs.items()}
                    row = dict(op="put" if op == "write" else "get", size=size, inflight=inflight,
                               ferry_gbps=med["ferry"], boto3_gbps=med["boto3"],
                               curl_gbps=med["curl"], ferry_vs_boto3=med["ferry"] / med["boto3"],
                               ferry_vs_curl=med["ferry"] / med["curl"], rounds=runs)
                    results.append(row)
                    print("%-4s %5s x %d in flight: ferry %6.3f  boto3 %6.3f  curl %6.3f GB/s   "
                          "ferry/boto3 %5.2f  ferry/curl %5.2f" %
                          (row["op"], "%dM" % (size >> 20) if size >= 1 << 20 else size,
                           inflight, med["ferry"], med["boto3"], med["curl"],
                           row["ferry_vs_boto3"], row["ferry_vs_curl"]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
