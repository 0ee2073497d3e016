"""A tiny transformer (examples/tiny_transformer.py, random weights) serves a prompt, its
per-layer KV stored by ferry's KV engine from the seed's POSIX config; a second request
with the same prefix restores the full chunks of it, computes only the rest, and its
logits equal a full recomputation within float32 rounding (rtol 1e-5, atol 1e-6)."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
import tiny_transformer as tt  # noqa: E402


def test_restored_prefix_gives_the_logits_of_a_full_recomputation(workdir):
    logits, full, restored = tt.main(str(workdir / "cache"))
    assert restored == 3 * tt.CHUNK  # the full chunks of the shared prefix
    np.testing.assert_allclose(logits, full, rtol=1e-5, atol=1e-6)


def test_a_corrupted_cache_is_a_miss_and_the_logits_are_still_right(workdir):
    path = workdir / "cache"
    model, eng = tt.TinyModel(), tt.engine(str(path))
    tokens = np.random.default_rng(2).integers(0, tt.VOCAB, 2 * tt.CHUNK + 3).astype(np.int32)
    tt.serve(model, eng, tokens)
    eng.close()
    for f in sorted(os.listdir(path)):  # flip one payload byte in every slot file
        if ".slot" in f:
            with open(path / f, "r+b") as fh:
                fh.seek(4096 + 100)
                b = fh.read(1)
                if b:
                    fh.seek(4096 + 100)
                    fh.write(bytes([b[0] ^ 1]))
    eng = tt.engine(str(path))
    logits, restored, _ = tt.serve(model, eng, tokens)
    assert restored == 0 and eng.stats()["corrupt_chunks"] >= 1
    full = model.forward(tokens, np.zeros((2, tt.LAYERS, len(tokens), tt.DIM), np.float32), 0)
    np.testing.assert_allclose(logits, full, rtol=1e-5, atol=1e-6)
