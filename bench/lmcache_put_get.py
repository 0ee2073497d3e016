"""LMCache's put and get through its released NIXL storage backend (lmcache from PyPI,
unmodified) on Ferry through the `nixl` shim against the same on the real `nixl` wheel:
same machine, same run, worker processes alternating. POSIX, nixl_buffer_device cpu, a
static pool; each measurement stores `chunks` chunks in one batched put (timed until LMCache
reports none in flight), then loads them in one batched get (timed), and checks the bytes.

    python bench/lmcache_put_get.py --python PYTHON --build build [--dir /dev/shm]
        [--chunk-mib 4] [--chunks 16] [--reps 5] [--rounds 3]

PYTHON must have lmcache and the real nixl (e.g. a venv with lmcache==0.5.6,
nixl==1.5.1 and nixl-cu12==1.5.1); the Ferry side runs the same interpreter with
build/python-shim and build/python first on PYTHONPATH.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(a):
    sys.path.insert(0, os.path.join(HERE, "..", "python", "lmcache_check"))
    import torch

    import lmcache_nixl_check as check  # sets up nothing until called

    # A chunk of `chunk_mib`: layers x K/V x 256 tokens x 8 heads x 128, bf16.
    layers = max(1, a.chunk_mib * (1 << 20) // (2 * check.CHUNK * 8 * 128 * 2))
    check.KV_SHAPE = (layers, 2, check.CHUNK, 8, 128)
    check.PAGES = 2 * a.chunks + 2
    from lmcache.v1.metadata import LMCacheMetadata

    metadata = LMCacheMetadata(model_name="ferry-bench", world_size=1, local_world_size=1,
                               worker_id=0, local_worker_id=0, kv_dtype=torch.bfloat16,
                               kv_shape=check.KV_SHAPE)
    work = tempfile.mkdtemp(dir=a.dir)
    backend, loop = check.make_backend(work, 2 * a.chunks, metadata, "cpu", "POSIX")
    shape = torch.Size(check.KV_SHAPE)
    data = torch.randn(shape, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    chunk_bytes = shape.numel() * 2
    put_s, get_s = [], []
    try:
        for rep in range(a.reps + 1):  # rep 0 warms up
            keys = [check.key(rep * a.chunks + i) for i in range(a.chunks)]
            objs = [backend.allocate(shape, torch.bfloat16) for _ in keys]
            assert all(o is not None for o in objs), "allocate returned None"
            for o in objs:
                o.tensor.copy_(data)
            t0 = time.perf_counter()
            backend.batched_submit_put_task(keys, objs)
            for o in objs:
                o.ref_count_down()
            deadline = t0 + 60
            while any(backend.exists_in_put_tasks(k) for k in keys):
                if time.perf_counter() > deadline:
                    sys.exit("puts still in flight after 60 s")
                time.sleep(0.0002)
            t1 = time.perf_counter()
            got = backend.batched_get_blocking(keys)
            t2 = time.perf_counter()
            want = data.view(torch.uint8).flatten()
            for g in got:
                assert g is not None, "a stored chunk did not come back"
                assert torch.equal(g.tensor.contiguous().view(torch.uint8).flatten()[: want.numel()],
                                   want), "a chunk came back different"
                g.ref_count_down()
            if rep > 0:
                put_s.append(t1 - t0)
                get_s.append(t2 - t1)
    finally:
        backend.close()
        loop.call_soon_threadsafe(loop.stop)
        shutil.rmtree(work, ignore_errors=True)
    total = chunk_bytes * a.chunks
    print(json.dumps({"put_gbs": total / statistics.median(put_s) / 1e9,
                      "get_gbs": total / statistics.median(get_s) / 1e9,
                      "chunk_bytes": chunk_bytes}))


def run_side(a, ferry):
    env = dict(os.environ)
    for v in [k for k in env if k.startswith("LMCACHE_")]:
        del env[v]
    # The caller's PYTHONPATH (where lmcache may live) stays, after Ferry's paths.
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if ferry:
        build = os.path.abspath(a.build)
        paths = [os.path.join(build, "python-shim"), os.path.join(build, "python")] + paths
    else:
        env["LMCACHE_CHECK_REAL_NIXL"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(paths)
    cmd = [a.python, os.path.abspath(__file__), "--worker", "--dir", a.dir, "--chunk-mib",
           str(a.chunk_mib), "--chunks", str(a.chunks), "--reps", str(a.reps)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{'Ferry' if ferry else 'NIXL'} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", help="interpreter with lmcache and the real nixl")
    p.add_argument("--build", default="build")
    p.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
    p.add_argument("--chunk-mib", type=int, default=4)
    p.add_argument("--chunks", type=int, default=16)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a)
    if not a.python:
        p.error("--python is required")
    res = {True: [], False: []}
    for r in range(a.rounds):
        for ferry in ((True, False) if r % 2 == 0 else (False, True)):
            res[ferry].append(run_side(a, ferry))
    chunk = res[True][0]["chunk_bytes"]
    print(f"LMCache NIXL backend, POSIX on {a.dir}, {a.chunks} chunks of {chunk / 2**20:.0f} MiB "
          f"per batched put/get, median of {a.reps} reps per worker, {a.rounds} rounds:")
    for what in ("put", "get"):
        f = [x[f"{what}_gbs"] for x in res[True]]
        n = [x[f"{what}_gbs"] for x in res[False]]
        ratios = [x / y for x, y in zip(f, n)]
        print(f"  {what}: NIXL {statistics.median(n):.2f} GB/s, Ferry {statistics.median(f):.2f} "
              f"GB/s, Ferry/NIXL {statistics.median(ratios):.2f} (rounds: "
              + " ".join(f"{x:.2f}" for x in ratios) + ")")


if __name__ == "__main__":
    main()
