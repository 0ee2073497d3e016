#!/usr/bin/env python3
"""Ferry's POSIX backend against NIXL's POSIX plugin (nixlbench) and fio, same run.

All three tools move the same I/O layout: nixlbench's fixed working set of batch x depth
blocks, moved again and again (ferry-bench --layout nixlbench; fio with a file of just that
size, time based). Each case runs the tools in turn for --rounds rounds, the order
rotating every round, and reports the median GB/s of each and the median of the per-round
ratios ferry/nixl and ferry/fio. Ferry waits by blocking (its CompletionQueue; nixlbench
busy-polls getXferStatus), and its CPU time per I/O (every thread of the process) is
reported next to nixlbench's lower bound: a thread that busy-polls spends at least the
wall time per I/O.

NIXL is not built or shipped here: build nixlbench yourself (docs/benchmarks.md names the
commit and options) and point --nixlbench (or $NIXLBENCH) at it, with its libraries on
LD_LIBRARY_PATH and NIXL_PLUGIN_DIR set. Standard library only.

  python3 bench/posix_vs_nixlbench.py --tmpfs /dev/shm/pvn --disk /var/tmp/pvn \\
      --nixlbench /path/to/nixlbench --json out.json

Exit status: 0 when every run completed (a ratio under 1 prints BELOW; this is a benchmark,
not a test), 1 when a tool failed, 2 on bad arguments.
"""
import argparse
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {"4K": 4 << 10, "64K": 64 << 10, "1M": 1 << 20, "32M": 32 << 20}
# (name, batch, depth): requests of `batch` descriptors, `depth` requests in flight.
MODES = {"qd1": (1, 1), "batch16": (16, 1), "inflight16": (1, 16)}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tmpfs", help="directory on tmpfs (created; our files removed)")
    p.add_argument("--disk", help="directory on a disk, for O_DIRECT cases")
    p.add_argument("--nixlbench", default=os.environ.get("NIXLBENCH", ""))
    p.add_argument("--ferry-bench", default=os.path.join(REPO, "build", "bin", "ferry-bench"))
    p.add_argument("--fio", default=shutil.which("fio") or "")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sizes", default="4K,64K,1M,32M")
    p.add_argument("--modes", default="qd1,batch16,inflight16")
    p.add_argument("--ops", default="read,write")
    p.add_argument("--engines", default="aio,uring")
    p.add_argument("--seconds", type=float, default=1.0,
                   help="about how long each run moves data (sets the iteration count)")
    p.add_argument("--tmpfs-gbps", type=float, default=12.0,
                   help="expected tmpfs speed, to size iteration counts")
    p.add_argument("--disk-gbps", type=float, default=1.0)
    p.add_argument("--disk-4k-iops", type=float, default=20000.0)
    p.add_argument("--ferry-arg", action="append", default=[],
                   help="extra ferry-bench argument (repeatable), e.g. --ferry-arg=--wait=poll")
    p.add_argument("--json", help="write every case's figures here")
    p.add_argument("--taskset", default="",
                   help="run every tool on these CPUs (taskset -c LIST): where a disk's completion "
                        "interrupt lands decides small-block latency on a VM, so pin all three "
                        "to the same CPU for a like-for-like comparison")
    a = p.parse_args()
    if not a.nixlbench or not os.access(a.nixlbench, os.X_OK):
        p.error("--nixlbench (or $NIXLBENCH) must name the nixlbench binary")
    if not os.access(a.ferry_bench, os.X_OK):
        p.error(f"no ferry-bench at {a.ferry_bench} (build first, or --ferry-bench)")
    if not a.tmpfs and not a.disk:
        p.error("give --tmpfs and/or --disk")
    if a.rounds < 1:
        p.error("--rounds must be at least 1")
    for name, items, known in (("--sizes", a.sizes, SIZES), ("--modes", a.modes, MODES),
                               ("--ops", a.ops, ("read", "write")),
                               ("--engines", a.engines, ("aio", "uring"))):
        bad = [i for i in items.split(",") if i not in known]
        if bad:
            p.error(f"{name}: unknown {bad}; known: {list(known)}")
    return a


TASKSET = []


def run(cmd, env=None):
    r = subprocess.run(TASKSET + cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {r.returncode}: {r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r.stdout


def iterations(case, a):
    """Requests per run: about --seconds of I/O, at least 16 (nixlbench's own multiple)."""
    request = case["block"] * case["batch"]
    if case["direct"]:
        gbps = a.disk_gbps if case["block"] >= (1 << 20) else min(
            a.disk_gbps, a.disk_4k_iops * case["block"] / 1e9 * case["depth"] * case["batch"])
    else:
        gbps = a.tmpfs_gbps
    n = int(gbps * 1e9 * a.seconds / request)
    n = max(16, min(n, 400000))
    return (n + 15) // 16 * 16  # nixlbench rounds to multiples of 16 anyway


def nixl_run(case, a):
    d = case["dir"] + "/nixl"
    os.makedirs(d, exist_ok=True)
    n = iterations(case, a)
    ws = case["block"] * case["batch"] * case["depth"]
    cmd = [a.nixlbench, "--backend", "POSIX", "--filepath", d,
           "--op_type", case["op"].upper(), "--posix_api_type", case["engine"].upper(),
           "--start_block_size", str(case["block"]), "--max_block_size", str(case["block"]),
           "--start_batch_size", str(case["batch"]), "--max_batch_size", str(case["batch"]),
           "--pipeline_depth", str(case["depth"]), "--num_threads", "1",
           "--num_iter", str(n), "--warmup_iter", str(max(16, n // 10 // 16 * 16)),
           "--large_blk_iter_ftr", "1", "--total_buffer_size", str(ws),
           "--storage_enable_direct", "1" if case["direct"] else "0"]
    out = run(cmd)
    # The result row: block size, batch size, B/W (GB/s), ...
    rows = [l.split() for l in out.splitlines()
            if re.match(rf"^\s*{case['block']}\s+{case['batch']}\s+[0-9.]+\s", l)]
    if not rows:
        raise RuntimeError(f"nixlbench printed no result row: {out[-2000:]}")
    gbps = float(rows[-1][2])
    ios = n * case["batch"]
    # Busy-polling on one thread: at least the wall time per I/O of CPU.
    return {"gbps": gbps, "cpu_us_per_io_min": case["block"] / (gbps * 1e3) if gbps else 0,
            "ios": ios}


def ferry_run(case, a):
    d = case["dir"] + "/ferry"
    os.makedirs(d, exist_ok=True)
    n = iterations(case, a)
    js = case["dir"] + "/ferry.jsonl"
    cmd = [a.ferry_bench, "--layout", "nixlbench", "--op", case["op"],
           "-b", str(case["block"]), "--batch", str(case["batch"]), "-q", str(case["depth"]),
           "--total-bytes", str(n * case["block"] * case["batch"]), "--engine", case["engine"],
           "--direct", "1" if case["direct"] else "0", "-d", d, "--json", js, "--quiet",
           "--keep-files"] + a.ferry_arg
    run(cmd)
    with open(js) as f:
        r = json.loads(f.readline())
    if not r["ok"]:
        raise RuntimeError(f"ferry-bench case failed: {r.get('error')}")
    return {"gbps": r["gbps"], "cpu_us_per_io": r["cpu_us_per_io"], "p50_us": r["p50_us"]}


def fio_run(case, a):
    d = case["dir"] + "/fio"
    os.makedirs(d, exist_ok=True)
    ws = case["block"] * case["batch"] * case["depth"]
    qd = case["batch"] * case["depth"]
    cmd = [a.fio, "--name=pvn", f"--filename={d}/fio.dat", f"--size={ws}",
           f"--bs={case['block']}", f"--rw={case['op']}",
           f"--ioengine={'libaio' if case['engine'] == 'aio' else 'io_uring'}",
           f"--iodepth={qd}", f"--iodepth_batch_submit={case['batch']}",
           f"--iodepth_batch_complete_min={case['batch']}",
           f"--direct={1 if case['direct'] else 0}", "--time_based",
           f"--runtime={max(1, round(a.seconds))}", "--ramp_time=0", "--invalidate=0",
           "--thread", "--output-format=json"]
    out = json.loads(run(cmd))
    job = out["jobs"][0]
    side = job["read"] if case["op"] == "read" else job["write"]
    cpu_s = (job["usr_cpu"] + job["sys_cpu"]) / 100 * job["job_runtime"] / 1e3
    ios = side["total_ios"]
    return {"gbps": side["bw_bytes"] / 1e9, "cpu_us_per_io": cpu_s * 1e6 / ios if ios else 0}


def main():
    a = parse_args()
    if a.taskset:
        TASKSET.extend(["taskset", "-c", a.taskset])
    media = []
    if a.tmpfs:
        media.append(("tmpfs", a.tmpfs, False))
    if a.disk:
        media.append(("disk", a.disk, True))
    cases = []
    for (medium, path, direct), size, mode, op, engine in itertools.product(
            media, a.sizes.split(","), a.modes.split(","), a.ops.split(","),
            a.engines.split(",")):
        batch, depth = MODES[mode]
        if SIZES[size] * batch * depth > (1 << 30):
            continue  # a 512 MiB request or working set says nothing more
        cases.append({"medium": medium, "dir": path, "direct": direct, "size": size,
                      "block": SIZES[size], "mode": mode, "batch": batch, "depth": depth,
                      "op": op, "engine": engine})
    tools = [("ferry", ferry_run), ("nixl", nixl_run)]
    if a.fio:
        tools.append(("fio", fio_run))
    results, failed = [], False
    print("| medium | block | mode | op | engine | NIXL GB/s | Ferry GB/s | Ferry/NIXL | fio GB/s "
          "| Ferry/fio | Ferry CPU us/IO | NIXL CPU us/IO (>=) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for case in cases:
        os.makedirs(case["dir"], exist_ok=True)
        runs = {name: [] for name, _ in tools}
        try:
            for r in range(a.rounds):
                order = tools[r % len(tools):] + tools[:r % len(tools)]
                for name, fn in order:
                    runs[name].append(fn(case, a))
        except RuntimeError as e:
            print(f"FAILED {case['medium']} {case['size']} {case['mode']} {case['op']} "
                  f"{case['engine']}: {e}", file=sys.stderr)
            failed = True
            continue
        finally:
            for sub in ("ferry", "nixl", "fio"):
                shutil.rmtree(os.path.join(case["dir"], sub), ignore_errors=True)

        def med(name, key="gbps"):
            return statistics.median(x[key] for x in runs[name]) if runs.get(name) else 0

        ratio_nixl = statistics.median(f["gbps"] / n["gbps"] for f, n in
                                       zip(runs["ferry"], runs["nixl"]) if n["gbps"] > 0)
        ratio_fio = (statistics.median(f["gbps"] / x["gbps"] for f, x in
                                       zip(runs["ferry"], runs["fio"]) if x["gbps"] > 0)
                     if "fio" in runs else 0)
        row = dict(case, nixl_gbps=med("nixl"), ferry_gbps=med("ferry"), fio_gbps=med("fio"),
                   ferry_over_nixl=ratio_nixl, ferry_over_fio=ratio_fio,
                   ferry_cpu_us_per_io=med("ferry", "cpu_us_per_io"),
                   nixl_cpu_us_per_io_min=med("nixl", "cpu_us_per_io_min"),
                   fio_cpu_us_per_io=med("fio", "cpu_us_per_io") if "fio" in runs else 0,
                   runs=runs)
        results.append(row)
        below = " BELOW" if ratio_nixl < 1.0 or (
            ratio_fio and ratio_fio < 0.95 and row["fio_gbps"] > row["nixl_gbps"]) else ""
        mode = {"qd1": "qd1", "batch16": "batch 16", "inflight16": "16 in flight"}[case["mode"]]
        print(f"| {case['medium']}{', O_DIRECT' if case['direct'] else ''} | {case['size']} | "
              f"{mode} | {case['op']} | {case['engine']} | {row['nixl_gbps']:.3f} | "
              f"{row['ferry_gbps']:.3f} | {ratio_nixl:.2f}{below} | {row['fio_gbps']:.3f} | "
              f"{ratio_fio:.2f} | {row['ferry_cpu_us_per_io']:.2f} | "
              f"{row['nixl_cpu_us_per_io_min']:.2f} |", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
