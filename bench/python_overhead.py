"""Python overhead of the `ferry` package (issue 12's targets), same machine, same run:

1. a 1-descriptor 4 KiB DRAM -> FILE transfer through POSIX, created once and reposted
   (post + wait), through `ferry` against the same loop in C++ on the same transfer in this
   process (Transfer._repost_loop), rounds alternating; target <= 1.3 x. The C++ loop of a
   process of its own (build/bin/xfer-overhead) is printed too;
2. building a 100,000-descriptor list from numpy and preparing it; target < 5 ms.

    PYTHONPATH=build/python .venv/bin/python bench/python_overhead.py [build-dir] [dir]
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import ferry


def python_round(x, iters):
    t0 = time.perf_counter()
    for _ in range(iters):
        x.post()
        x.wait(10)
    return (time.perf_counter() - t0) / iters * 1e9


def python_run_round(x, iters):
    run = x.run
    t0 = time.perf_counter()
    for _ in range(iters):
        run(10)
    return (time.perf_counter() - t0) / iters * 1e9


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    d = sys.argv[2] if len(sys.argv) > 2 else ("/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
    work = tempfile.mkdtemp(dir=d)
    iters, rounds = 20000, 5
    agent = ferry.Agent("py-overhead")
    agent.create_backend("POSIX")
    buf = np.full(4096, 7, np.uint8)
    agent.register_memory(buf)
    agent.register_memory([ferry.file_desc(os.path.join(work, "py"), 1, write=True, create=True)],
                          "FILE")
    x = agent.transfer("WRITE", buf, [(0, 4096, 1)])
    python_round(x, 2000)  # warm up
    py, py_run, inproc, cpp = [], [], [], []
    for _ in range(rounds):
        py.append(python_round(x, iters))
        inproc.append(x._repost_loop(iters))
        py_run.append(python_run_round(x, iters))
        out = subprocess.run([os.path.join(build, "bin", "xfer-overhead"), os.path.join(work, "cpp"),
                              str(iters), "1"], capture_output=True, text=True, check=True)
        cpp.append(float(out.stdout.strip()))
    p, r, c = statistics.median(py), statistics.median(py_run), statistics.median(cpp)
    i = statistics.median(inproc)
    ratio_p = statistics.median(a / b for a, b in zip(py, inproc))
    ratio_r = statistics.median(a / b for a, b in zip(py_run, inproc))
    print(f"4 KiB transfer, post + wait, {iters} x {rounds} rounds on {d}:")
    print(f"  C++ on the same transfer in this process {i:.0f} ns; Python post() + wait() "
          f"{p:.0f} ns ({ratio_p:.2f} x, median of per-round ratios), Python run() {r:.0f} ns "
          f"({ratio_r:.2f} x)")
    print(f"  C++ in a process of its own (xfer-overhead) {c:.0f} ns: post() + wait() "
          f"{p / c:.2f} x, run() {r / c:.2f} x")

    big = np.zeros(100_000 * 64, np.uint8)
    agent.register_memory(big)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        rows = np.empty((100_000, 3), np.uint64)
        rows[:, 0] = big.ctypes.data + np.arange(100_000, dtype=np.uint64) * 64
        rows[:, 1] = 64
        rows[:, 2] = 0
        prepped = agent.prep(rows, "DRAM")
        times.append((time.perf_counter() - t0) * 1e3)
        prepped.release()
    print(f"  100,000-descriptor list built from numpy and prepared: {statistics.median(times):.2f} ms "
          f"(median of {rounds})")
    x.release()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
