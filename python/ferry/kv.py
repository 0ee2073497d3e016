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

    def _paged(self, kv_caches, slot_mapping, block_size, layout):
        """Per-layer K and V addresses of vLLM's block tensors, their memory, the slot
        mapping's address and length, and the block stride."""
        if layout not in ("flash_attn", "flashinfer"):
            raise _ferry.InvalidArgument("INVALID_ARGUMENT: layout must be 'flash_attn' "
                                         "([2, blocks, block_size, heads, head] per layer) or "
                                         "'flashinfer' ([blocks, 2, block_size, heads, head])")
        if len(kv_caches) == 0:
            raise _ferry.InvalidArgument("INVALID_ARGUMENT: no per-layer KV tensors")
        per_row = self._per_token // (2 * len(kv_caches))
        ks, vs, kinds = [], [], set()
        blocks = None
        for t in kv_caches:
            kind, addr, n, dev = _one(t, 0)
            kinds.add((kind, dev))
            layer_blocks = n // (2 * block_size * per_row)
            if layer_blocks * 2 * block_size * per_row != n:
                raise _ferry.InvalidArgument(
                    f"INVALID_ARGUMENT: a layer's KV tensor of {n} bytes is not 2 x blocks x "
                    f"{block_size} rows of {per_row} bytes")
            blocks = layer_blocks if blocks is None else min(blocks, layer_blocks)
            ks.append(addr)
            half = (layer_blocks if layout == "flash_attn" else 1) * block_size * per_row
            vs.append(addr + half)
        if len(kinds) != 1:
            raise _ferry.InvalidArgument("INVALID_ARGUMENT: the layers' KV tensors are in "
                                         "different memories")
        kind, dev = kinds.pop()
        skind, saddr, sbytes, _ = _one(slot_mapping, dev)
        if getattr(slot_mapping, "dtype", None) is not None and str(slot_mapping.dtype) not in (
                "int64", "torch.int64"):
            raise _ferry.InvalidArgument("INVALID_ARGUMENT: slot_mapping must be int64")
        if skind != kind:
            raise _ferry.InvalidArgument("INVALID_ARGUMENT: slot_mapping must be in the same "
                                         "memory as the KV tensors")
        stride = 2 * block_size * per_row if layout == "flashinfer" else 0
        return ks, vs, saddr, sbytes // 8, blocks, stride, kind, dev

    def store_paged(self, tokens, kv_caches, slot_mapping, block_size: int,
                    first_token: int = 0, layout: str = "flash_attn", stream: int = 0) -> dict:
        """Stores from vLLM's paged KV: ``kv_caches`` one tensor per layer, token
        ``first_token + i`` in slot ``slot_mapping[i]`` (int64)."""
        ks, vs, slots, n, blocks, stride, kind, dev = self._paged(kv_caches, slot_mapping,
                                                                  block_size, layout)
        return self._store_paged(_tokens(tokens), ks, vs, slots, n, block_size, blocks, stride,
                                 first_token, kind, dev, stream)

    def retrieve_paged(self, tokens, kv_caches, slot_mapping, block_size: int,
                       first_token: int = 0, layout: str = "flash_attn", stream: int = 0) -> int:
        ks, vs, slots, n, blocks, stride, kind, dev = self._paged(kv_caches, slot_mapping,
                                                                  block_size, layout)
        return self._retrieve_paged(_tokens(tokens), ks, vs, slots, n, block_size, blocks, stride,
                                    first_token, kind, dev, stream)

    def lookup(self, tokens) -> int:
        return super().lookup(_tokens(tokens))

    def keys(self, tokens):
        return super().keys(_tokens(tokens))
