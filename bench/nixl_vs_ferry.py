"""NIXL's Python API on the real `nixl` wheel against the same calls on Ferry's shim, same
machine, same run, alternating: POSIX, DRAM <-> FILE, 4 KiB and 32 MiB descriptors, batch 1
and 16, WRITE and READ; a working set of batch descriptors reposted as nixlbench does.

    python bench/nixl_vs_ferry.py --real PYTHON_WITH_NIXL --build build [--dir /dev/shm]

Each measurement is a fresh worker process (`--worker`), which imports `nixl` from wherever
its PYTHONPATH says: the real wheel, or build/python-shim + build/python.
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


def worker(args):
    import numpy as np
    from nixl._api import nixl_agent, nixl_agent_config

    size, batch, op = args.size, args.batch, args.op
    agent = nixl_agent("bench", nixl_agent_config(backends=[]))
    agent.create_backend("POSIX")
    buf = np.ones(size * batch, np.uint8)
    addr = buf.ctypes.data
    agent.register_memory(agent.get_reg_descs([(addr, size * batch, 0, "")], "DRAM"))
    path = os.path.join(args.dir, f"nixl-bench-{os.getpid()}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.pwrite(fd, b"\0" * (size * batch), 0)
    agent.register_memory([(0, size * batch, fd, "")], "FILE")
    local = agent.prep_xfer_dlist("", [(addr + i * size, size, 0) for i in range(batch)], "DRAM")
    remote = agent.prep_xfer_dlist("bench", [(i * size, size, fd) for i in range(batch)], "FILE")
    h = agent.make_prepped_xfer(op, local, list(range(batch)), remote, list(range(batch)))
    bytes_per = size * batch
    target = 0.6  # seconds of transfers per measurement
    n, t0 = 0, time.perf_counter()
    while True:
        state = agent.transfer(h)
        while state != "DONE":
            state = agent.check_xfer_state(h)
        n += 1
        if n % 8 == 0 and time.perf_counter() - t0 > target:
            break
    dt = time.perf_counter() - t0
    agent.release_xfer_handle(h)
    os.close(fd)
    os.unlink(path)
    print(json.dumps({"gbps": bytes_per * n / dt / 1e9, "iops": n * batch / dt}))


def run(python, pythonpath, case, d):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    size, batch, op = case
    out = subprocess.run([python, __file__, "--worker", "--size", str(size), "--batch", str(batch),
                          "--op", op, "--dir", d], env=env, capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])["gbps"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--worker", action="store_true")
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--op", default="WRITE")
    p.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
    p.add_argument("--real", help="a Python with the real nixl wheel")
    p.add_argument("--build", default="build")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    if not args.real:
        sys.exit("--real PYTHON (an interpreter with the real nixl wheel) is needed")
    build = os.path.abspath(args.build)
    ours = f"{build}/python-shim{os.pathsep}{build}/python"
    d = tempfile.mkdtemp(dir=args.dir)
    print(f"nixl vs ferry.nixl, POSIX on {args.dir}, {args.rounds} alternating rounds, medians")
    print("| size | batch | op | NIXL GB/s | Ferry GB/s | Ferry/NIXL |")
    print("|---|---|---|---|---|---|")
    for size in (4096, 32 << 20):
        for batch in (1, 16):
            if size * batch > (512 << 20):
                continue
            for op in ("WRITE", "READ"):
                real, fer = [], []
                for r in range(args.rounds):
                    pair = [(args.real, "", real), (sys.executable, ours, fer)]
                    for py, pp, acc in (pair if r % 2 == 0 else pair[::-1]):
                        acc.append(run(py, pp, (size, batch, op), d))
                a, b = statistics.median(real), statistics.median(fer)
                label = "4 KiB" if size == 4096 else "32 MiB"
                print(f"| {label} | {batch} | {op} | {a:.2f} | {b:.2f} | {b / a:.2f} |", flush=True)
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
