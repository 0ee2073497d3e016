"""LMCache's released NIXL storage backend (lmcache from PyPI, unmodified) running on Ferry
through the `nixl` shim: store, retrieve byte-equal, miss, LRU eviction that skips pinned
keys, static pool and dynamic mode: POSIX with nixl_buffer_device cpu, or (--device cuda, on a
machine with a GPU) GDS and GDS_MT with LMCache's staging buffer in GPU memory (LMCache
itself allows POSIX with cpu only). Prints
one line per check and exits non-zero on the first failure. scripts/lmcache-check.sh sets it
up.

    python lmcache_nixl_check.py WORKDIR [--device cuda] [--backends GDS,GDS_MT]
"""

import argparse
import asyncio
import os
import sys
import threading
import time

import torch

import nixl._api

# The shim, not a real NIXL, must be what LMCache imports (LMCACHE_CHECK_REAL_NIXL=1 runs
# the same checks on a real NIXL instead, to check the checks).
ON_FERRY = nixl._api.nixl_agent.__module__.startswith("ferry.")
assert ON_FERRY or os.environ.get("LMCACHE_CHECK_REAL_NIXL") == "1", nixl._api.nixl_agent.__module__

import lmcache.v1.memory_management as memory_management  # noqa: E402
import lmcache.v1.storage_backend.nixl_storage_backend as nixl_backend  # noqa: E402
from lmcache.utils import CacheEngineKey  # noqa: E402
from lmcache.v1.config import LMCacheEngineConfig  # noqa: E402
from lmcache.v1.metadata import LMCacheMetadata  # noqa: E402
from lmcache.v1.storage_backend.local_cpu_backend import LocalCPUBackend  # noqa: E402

CHUNK = 256
KV_SHAPE = (2, 2, CHUNK, 2, 64)  # layers, K/V, tokens, heads, head size: 256 KiB of bf16
PAGES = 8


def check(what, ok):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        sys.exit(1)


def key(i):
    return CacheEngineKey(model_name="ferry-check", world_size=1, worker_id=0, chunk_hash=i,
                          dtype=torch.bfloat16)


def make_backend(workdir, pool_size, metadata, device, plugin):
    config = LMCacheEngineConfig.from_defaults(chunk_size=CHUNK, local_cpu=device == "cpu",
                                               lmcache_instance_id=f"ferry-check-{pool_size}")
    chunk_bytes = torch.Size(KV_SHAPE).numel() * 2
    config.max_local_cpu_size = chunk_bytes * PAGES / (1024**3)
    config.nixl_buffer_device = device
    config.nixl_buffer_size = chunk_bytes * PAGES
    config.save_unfull_chunk = False
    config.extra_config = {
        "enable_nixl_storage": True,
        "nixl_backend": plugin,
        "nixl_pool_size": pool_size,
        "nixl_backend_params": {},
        "nixl_path": str(workdir),
        "use_direct_io": False,
        "nixl_enable_prog_thread": True,
        "nixl_presence_cache": False,
        "nixl_async_put": False,
    }
    local_cpu = None
    if device == "cpu":
        # Without a GPU there is no pinned memory: the staging pool is a plain tensor.
        buf = torch.zeros(chunk_bytes * PAGES, dtype=torch.uint8)
        memory_management._allocate_cpu_memory = lambda size, *a, **kw: buf
        memory_management._free_cpu_memory = lambda *a, **kw: None
        local_cpu = LocalCPUBackend(config=config, metadata=metadata, dst_device="cpu")
    # With cuda LMCache allocates its staging buffer in GPU memory itself.
    # LMCache runs its storage coroutines on an event loop in a thread of its own.
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    backend = nixl_backend.NixlStorageBackend.CreateNixlStorageBackend(
        config, loop, metadata, local_cpu_backend=local_cpu)
    return backend, loop


def put(backend, k, seed):
    obj = backend.allocate(torch.Size(KV_SHAPE), torch.bfloat16)
    assert obj is not None, "allocate returned None"
    g = torch.Generator().manual_seed(seed)
    obj.tensor.copy_(torch.randn(KV_SHAPE, generator=g).to(torch.bfloat16))
    want = obj.tensor.clone()
    backend.batched_submit_put_task([k], [obj])
    obj.ref_count_down()
    deadline = time.monotonic() + 30
    while backend.exists_in_put_tasks(k) and time.monotonic() < deadline:
        time.sleep(0.001)
    return want


def get_equal(backend, k, want):
    """The chunk's bytes came back. (Dynamic mode hands back a MemoryObj shaped by
    LMCache's own metadata, so bytes are compared, not shapes.)"""
    got = backend.get_blocking(k)
    if got is None:
        print(f"     chunk {k.chunk_hash}: not returned", flush=True)
        return False
    want_bytes = want.contiguous().view(torch.uint8).flatten()
    got_bytes = got.tensor.contiguous().view(torch.uint8).flatten()
    same = got_bytes.numel() >= want_bytes.numel() and torch.equal(
        got_bytes[: want_bytes.numel()], want_bytes)
    if not same:
        print(f"     chunk {k.chunk_hash}: {got_bytes.numel()} bytes back, "
              f"{want_bytes.numel()} stored, not equal", flush=True)
    got.ref_count_down()
    return same


def run(workdir, pool_size, device, plugin):
    mode = (f"{plugin}, {device}, " +
            (f"static pool of {pool_size}" if pool_size else "dynamic"))
    metadata = LMCacheMetadata(model_name="ferry-check", world_size=1, local_world_size=1,
                               worker_id=0, local_worker_id=0, kv_dtype=torch.bfloat16,
                               kv_shape=KV_SHAPE)
    backend, loop = make_backend(workdir, pool_size, metadata, device, plugin)
    try:
        wants = {i: put(backend, key(i), i) for i in range(2)}
        check(f"{mode}: stored chunks are contained", all(backend.contains(key(i)) for i in wants))
        check(f"{mode}: retrieved chunks are byte-equal",
              all(get_equal(backend, key(i), w) for i, w in wants.items()))
        check(f"{mode}: a chunk never stored is a miss",
              not backend.contains(key(999)) and backend.get_blocking(key(999)) is None)
        files = [f for f in os.listdir(workdir) if not f.startswith(".")]
        check(f"{mode}: LMCache's files are in nixl_path ({len(files)})", len(files) >= 2)
        if pool_size:
            # Fill the pool, pin the oldest chunk, store one more: the LRU unpinned one goes.
            for i in range(2, pool_size):
                wants[i] = put(backend, key(i), i)
            backend.get_blocking(key(0)).ref_count_down()  # key 0 most recently used ...
            check(f"{mode}: pin", backend.pin(key(1)))     # ... and key 1 pinned
            wants[100] = put(backend, key(100), 100)
            check(f"{mode}: the pinned chunk survived eviction", backend.contains(key(1)))
            check(f"{mode}: the new chunk is stored", backend.contains(key(100)) and
                  get_equal(backend, key(100), wants[100]))
            gone = [i for i in range(2, pool_size) if not backend.contains(key(i))]
            check(f"{mode}: an unpinned least-recently-used chunk was evicted ({gone})",
                  len(gone) == 1 and gone[0] == 2)
            check(f"{mode}: unpin", backend.unpin(key(1)))
        check(f"{mode}: remove", backend.remove(key(0)) and not backend.contains(key(0)))
    finally:
        backend.close()
        loop.call_soon_threadsafe(loop.stop)


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("workdir")
    args.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args.add_argument("--backends", help="comma-separated (default: POSIX; cuda: GDS,GDS_MT)")
    a = args.parse_args()
    backends = (a.backends or ("POSIX" if a.device == "cpu" else "GDS,GDS_MT")).split(",")
    for plugin in backends:
        for pool in (4, 0):
            d = os.path.join(a.workdir, f"{plugin}-{a.device}-pool{pool}")
            os.makedirs(d, exist_ok=True)
            run(d, pool, a.device, plugin)
    print("LMCache's NIXL storage backend ran on " + ("Ferry" if ON_FERRY else "real NIXL") +
          ": all checks passed")


if __name__ == "__main__":
    main()
