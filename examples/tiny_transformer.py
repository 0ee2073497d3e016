"""A tiny decoder-only transformer in numpy (random weights, no downloads) whose per-layer
KV goes through ferry's KV engine: the first request prefills its prompt and stores the
KV; a second request with the same prefix restores it, computes only its suffix, and its
logits must equal a full recomputation. Used by python/tests/test_model.py.

    PYTHONPATH=build/python python examples/tiny_transformer.py /tmp/cache
"""

from __future__ import annotations

import numpy as np

import ferry

LAYERS, HEADS, HEAD, VOCAB = 2, 2, 16, 97
DIM = HEADS * HEAD
CHUNK = 16

SEED_POSIX = """
chunk_size: {chunk}
nixl_buffer_size: 1048576
nixl_buffer_device: cpu
extra_config:
  enable_nixl_storage: true
  nixl_backend: POSIX
  nixl_pool_size: 16
  nixl_path: {path}
"""


class TinyModel:
    def __init__(self, seed: int = 0):
        r = np.random.default_rng(seed)
        w = lambda *s: (r.standard_normal(s) / np.sqrt(s[0])).astype(np.float32)  # noqa: E731
        self.embed = w(VOCAB, DIM)
        self.layers = [dict(q=w(DIM, DIM), k=w(DIM, DIM), v=w(DIM, DIM), o=w(DIM, DIM),
                            up=w(DIM, 4 * DIM), down=w(4 * DIM, DIM)) for _ in range(LAYERS)]
        self.unembed = w(DIM, VOCAB)

    def forward(self, tokens, kv, start):
        """Runs tokens[start:] given KV of tokens[:start] in ``kv`` ([2, layers, n, DIM],
        float32), writes their KV there too, and returns the logits of the last token."""
        x = self.embed[tokens[start:]]
        n = len(tokens)
        for li, p in enumerate(self.layers):
            h = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6)
            kv[0, li, start:n] = h @ p["k"]
            kv[1, li, start:n] = h @ p["v"]
            q = (h @ p["q"]).reshape(-1, HEADS, HEAD)
            k = kv[0, li, :n].reshape(n, HEADS, HEAD)
            v = kv[1, li, :n].reshape(n, HEADS, HEAD)
            out = np.empty_like(q)
            for t in range(q.shape[0]):  # one query row at a time: the same arithmetic
                pos = start + t           # whether or not a prefix was restored
                s = np.einsum("hd,nhd->hn", q[t], k[: pos + 1]) / np.sqrt(HEAD)
                s = np.exp(s - s.max(-1, keepdims=True))
                s /= s.sum(-1, keepdims=True)
                out[t] = np.einsum("hn,nhd->hd", s, v[: pos + 1])
            x = x + out.reshape(-1, DIM) @ p["o"]
            h = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6)
            x = x + np.maximum(h @ p["up"], 0) @ p["down"]
        return x[-1] @ self.unembed


def engine(path: str) -> ferry.kv.Engine:
    cfg = ferry.kv.Config.load(yaml=SEED_POSIX.format(chunk=CHUNK, path=path))
    return ferry.kv.Engine(cfg, "tiny-transformer", layers=LAYERS, kv_heads=HEADS,
                           head_size=HEAD, dtype="fp32")


def serve(model: TinyModel, eng: ferry.kv.Engine, tokens: np.ndarray):
    """(logits, tokens restored from the cache, tokens computed)."""
    kv = np.zeros((2, LAYERS, len(tokens), DIM), np.float32)
    restored = eng.retrieve(tokens, kv) if eng.lookup(tokens) else 0
    logits = model.forward(tokens, kv, restored)
    eng.store(tokens, kv)
    return logits, restored, len(tokens) - restored


def main(path: str):
    model, eng = TinyModel(), engine(path)
    prefix = np.random.default_rng(1).integers(0, VOCAB, 3 * CHUNK + 5).astype(np.int32)
    first = np.concatenate([prefix, np.array([5, 6, 7], np.int32)])
    second = np.concatenate([prefix, np.array([8, 9, 10, 11], np.int32)])
    serve(model, eng, first)
    logits, restored, computed = serve(model, eng, second)
    full = model.forward(second, np.zeros((2, LAYERS, len(second), DIM), np.float32), 0)
    print(f"restored {restored} tokens, computed {computed}; max |logit difference| "
          f"{np.abs(logits - full).max():.3g}")
    return logits, full, restored


if __name__ == "__main__":
    import sys

    main(sys.argv[1])
