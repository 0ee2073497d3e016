"""The tiny transformer of tiny_transformer.py in torch on a CUDA GPU, with its KV where vLLM
keeps it: one paged tensor per layer ([2, blocks, 16, heads, head], FlashAttention's form)
and a slot mapping from tokens to slots. ferry's KV engine (`nixl_buffer_device: cuda`)
stores and restores that KV straight from and into GPU memory: gather, scatter and
checksums run on the GPU, and with GDS or GDS_MT no byte passes through host memory.

The first request prefills its prompt into some blocks and stores the KV. The second has
the same prefix and other blocks (as a server hands them out): it restores the prefix's
full chunks into them, computes only the rest, and its logits must equal a full
recomputation. Checked: the restored KV is byte-equal to what the first request computed,
and the logits agree within rtol 1e-4 / atol 1e-5 (float32 with TF32 off; the suffix's
matrix products have other shapes than the full recomputation's, so cuBLAS may sum in
another order). Used by python/tests/test_gpu.py.

    PYTHONPATH=build/python python examples/tiny_transformer_cuda.py /tmp/cache [GDS|GDS_MT|POSIX] [cuda|cpu]

`cpu` runs the same flow on host tensors (`nixl_buffer_device: cpu`, POSIX), for a machine
without a GPU.
"""

from __future__ import annotations

import math

import numpy as np
import torch

import ferry

LAYERS, HEADS, HEAD, VOCAB = 2, 2, 16, 97
DIM = HEADS * HEAD
CHUNK = 16  # tokens per stored chunk
BLOCK = 16  # tokens per KV block (vLLM's default)
BLOCKS = 24  # blocks in each layer's cache

CONFIG = """
chunk_size: {chunk}
nixl_buffer_size: 1048576
nixl_buffer_device: {buffer_device}
extra_config:
  enable_nixl_storage: true
  nixl_backend: {backend}
  nixl_pool_size: 16
  nixl_path: {path}
"""


class TinyModel:
    """Random weights (seeded), RMS norm, causal attention over the paged KV, a ReLU MLP."""

    def __init__(self, device: str, seed: int = 0):
        g = torch.Generator().manual_seed(seed)

        def w(*shape):
            return (torch.randn(*shape, generator=g) / math.sqrt(shape[0])).to(device)

        self.embed = w(VOCAB, DIM)
        self.layers = [dict(q=w(DIM, DIM), k=w(DIM, DIM), v=w(DIM, DIM), o=w(DIM, DIM),
                            up=w(DIM, 4 * DIM), down=w(4 * DIM, DIM)) for _ in range(LAYERS)]
        self.unembed = w(DIM, VOCAB)

    @staticmethod
    def _norm(x):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-6)

    def forward(self, tokens, caches, slots, start):
        """Runs tokens[start:] given the KV of tokens[:start] in the paged ``caches`` at
        ``slots[:start]``, writes their own KV at ``slots[start:]``, and returns the logits
        of the last token."""
        n = len(tokens)
        x = self.embed[tokens[start:]]
        pos = torch.arange(start, n, device=x.device)
        causal = torch.arange(n, device=x.device)[None, :] > pos[:, None]  # [new, n]
        for li, p in enumerate(self.layers):
            h = self._norm(x)
            kc = caches[li][0].view(-1, HEADS, HEAD)  # [slots, heads, head], a view
            vc = caches[li][1].view(-1, HEADS, HEAD)
            kc[slots[start:]] = (h @ p["k"]).view(-1, HEADS, HEAD)
            vc[slots[start:]] = (h @ p["v"]).view(-1, HEADS, HEAD)
            k, v = kc[slots], vc[slots]  # [n, heads, head]
            q = (h @ p["q"]).view(-1, HEADS, HEAD)
            s = torch.einsum("thd,nhd->htn", q, k) / math.sqrt(HEAD)
            s = s.masked_fill(causal[None], float("-inf")).softmax(-1)
            x = x + torch.einsum("htn,nhd->thd", s, v).reshape(-1, DIM) @ p["o"]
            x = x + torch.relu(self._norm(x) @ p["up"]) @ p["down"]
        return x[-1] @ self.unembed


def engine(path: str, backend: str = "GDS", device: str = "cuda") -> ferry.kv.Engine:
    cfg = ferry.kv.Config.load(yaml=CONFIG.format(
        chunk=CHUNK, path=path, backend=backend,
        buffer_device="cuda" if device == "cuda" else "cpu"))
    return ferry.kv.Engine(cfg, "tiny-transformer-cuda", layers=LAYERS, kv_heads=HEADS,
                           head_size=HEAD, dtype="fp32")


def new_caches(device: str):
    return [torch.zeros(2, BLOCKS, BLOCK, HEADS, HEAD, device=device) for _ in range(LAYERS)]


def slots_for(blocks, n: int, device: str):
    """Slot of each of n tokens when a request holds ``blocks`` (in order)."""
    t = torch.arange(n)
    return (torch.as_tensor(blocks)[t // BLOCK] * BLOCK + t % BLOCK).to(device, torch.int64)


def stream_of(device: str) -> int:
    return torch.cuda.current_stream().cuda_stream if device == "cuda" else 0


def serve(model, eng, tokens, caches, blocks, device):
    """(logits, tokens restored from the cache, tokens computed, slots used)."""
    tok = torch.as_tensor(tokens, dtype=torch.int64, device=device)
    slots = slots_for(blocks, len(tokens), device)
    restored = eng.lookup(tokens)
    if restored:
        got = eng.retrieve_paged(tokens[:restored], caches, slots[:restored], BLOCK,
                                 stream=stream_of(device))
        assert got == restored, (got, restored)
    logits = model.forward(tok, caches, slots, restored)
    if device == "cuda":
        torch.cuda.synchronize()  # the KV is written before the engine reads it
    eng.store_paged(tokens, caches, slots, BLOCK, stream=stream_of(device))
    return logits, restored, len(tokens) - restored, slots


def gathered(caches, slots):
    """The KV of the tokens at ``slots``, [layers, 2, n, heads, head], on the host."""
    return torch.stack([torch.stack([c[i].view(-1, HEADS, HEAD)[slots] for i in (0, 1)])
                        for c in caches]).cpu()


def main(path: str, backend: str = "GDS", device: str = "cuda"):
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        return _run(path, backend, device)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _run(path: str, backend: str, device: str):
    model, eng = TinyModel(device), engine(path, backend, device)
    prefix = np.random.default_rng(1).integers(0, VOCAB, 3 * CHUNK + 5).astype(np.int32)
    first = np.concatenate([prefix, np.array([5, 6, 7], np.int32)])
    second = np.concatenate([prefix, np.array([8, 9, 10, 11], np.int32)])

    caches = new_caches(device)
    _, _, _, slots1 = serve(model, eng, first, caches, [7, 2, 11, 5], device)
    computed_kv = gathered(caches, slots1[:3 * CHUNK])

    caches = new_caches(device)  # the second request gets other blocks of a fresh cache
    logits, restored, computed, slots2 = serve(model, eng, second, caches, [3, 9, 0, 20], device)
    assert restored == 3 * CHUNK, f"restored {restored} tokens, expected the prefix's {3 * CHUNK}"
    restored_kv = gathered(caches, slots2[:restored])
    assert torch.equal(restored_kv, computed_kv[:, :, :restored]), "restored KV differs"

    full_caches = new_caches(device)
    tok = torch.as_tensor(second, dtype=torch.int64, device=device)
    full = model.forward(tok, full_caches, slots_for([1, 4, 6, 8], len(second), device), 0)
    diff = (logits - full).abs().max().item()
    print(f"{backend} on {device}: restored {restored} tokens (byte-equal), computed "
          f"{computed}; max |logit difference| {diff:.3g}")
    return logits.cpu(), full.cpu(), restored


if __name__ == "__main__":
    import sys

    main(sys.argv[1], *(sys.argv[2:4]))
