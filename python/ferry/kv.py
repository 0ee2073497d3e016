"""ferry.kv: the KV-cache engine (include/ferry/kv/engine.h) with LMCache's configuration.

    cfg = ferry.kv.Config.load(path="lmcache.yaml")     # or yaml="...", or env=True
    eng = ferry.kv.Engine(cfg, "llama", layers=32, kv_heads=8, head_size=128)
    eng.store(tokens, kv)            # kv: [2, layers, len(tokens), kv_heads * head_size]
    restored = eng.retrieve(tokens, out)
"""

from __future__ import annotations

import numpy as np

from . import _ferry
from .memory import _one

Config = _ferry.KvConfig
scan = _ferry.kv_scan
clear = _ferry.kv_clear


def _tokens(tokens) -> np.ndarray:
    t = np.ascontiguousarray(tokens, dtype=np.int32)
    if t.ndim != 1:
        raise _ferry.InvalidArgument("INVALID_ARGUMENT: tokens must be one-dimensional")
    return t


class Engine(_ferry.KvEngine):
    """Thread safe. KV is contiguous [planes, layers, capacity_tokens, row] memory (host or
    GPU); ``first_token`` says which token of ``tokens`` its first row holds."""

    def __init__(self, config, model_name: str, layers: int, kv_heads: int, head_size: int,
                 **options):
        """options: dtype ("bf16"), mla, world_size, worker_id, queue_depth, device."""
        super().__init__(config, model_name, layers, kv_heads, head_size, **options)
        self._per_token = self.chunk_bytes // config.chunk_size

    def _layout(self, kv, capacity, device):
        kind, addr, n, dev = _one(kv, device)
        per_token = self._per_token
        if capacity is None:
            if n % per_token:
                raise _ferry.InvalidArgument(
                    f"INVALID_ARGUMENT: KV memory of {n} bytes is not a whole number of tokens "
                    f"({per_token} bytes each)")
            capacity = n // per_token
        elif capacity * per_token > n:
            raise _ferry.InvalidArgument(
                f"INVALID_ARGUMENT: capacity {capacity} tokens needs {capacity * per_token} "
                f"bytes, the memory has {n}")
        return kind or "DRAM", addr, capacity, dev

    def store(self, tokens, kv, first_token: int = 0, capacity: int | None = None,
              device: int = 0, stream: int = 0) -> dict:
        kind, addr, cap, dev = self._layout(kv, capacity, device)
        return self._store(_tokens(tokens), addr, cap, first_token, kind, dev, stream)

    def retrieve(self, tokens, kv, first_token: int = 0, capacity: int | None = None,
                 device: int = 0, stream: int = 0) -> int:
        kind, addr, cap, dev = self._layout(kv, capacity, device)
        if isinstance(kv, np.ndarray) and not kv.flags.writeable:
            raise _ferry.InvalidArgument("INVALID_ARGUMENT: retrieve needs writable KV memory")
        return self._retrieve(_tokens(tokens), addr, cap, first_token, kind, dev, stream)

    def lookup(self, tokens) -> int:
        return super().lookup(_tokens(tokens))

    def keys(self, tokens):
        return super().keys(_tokens(tokens))
