"""ferry.kv: the engine from the seed's POSIX configuration; store and retrieve byte-equal
from numpy, lookups, pins, a restart, scan and clear."""

import numpy as np
import pytest

import ferry

SEED_POSIX = """
chunk_size: 16
nixl_buffer_size: 1048576
nixl_buffer_device: cpu
extra_config:
  enable_nixl_storage: true
  nixl_backend: POSIX
  nixl_pool_size: 8
  nixl_path: {path}
"""

GEOMETRY = dict(layers=2, kv_heads=2, head_size=16)  # 256 bytes per token, bf16


def kv_for(tokens):
    """Contiguous [2, layers, tokens, row] KV whose bytes depend on the tokens."""
    rng = np.random.default_rng(int(np.sum(tokens)) % (1 << 32))
    return rng.integers(0, 255, (2, 2, len(tokens), 64), dtype=np.uint8)


@pytest.fixture
def config(workdir):
    return ferry.kv.Config.load(yaml=SEED_POSIX.format(path=workdir / "cache"))


def test_store_retrieve_lookup_and_restart(config):
    tokens = np.arange(64, dtype=np.int32)
    kv = kv_for(tokens)
    eng = ferry.kv.Engine(config, "tiny", **GEOMETRY)
    assert eng.store(tokens, kv)["chunks_written"] == 4
    assert eng.lookup(tokens) == 64
    out = np.zeros_like(kv)
    assert eng.retrieve(tokens, out) == 64
    assert np.array_equal(out, kv)
    keys = eng.keys(tokens)
    assert len(keys) == 4 and all(len(k) == 32 for k in keys) and eng.contains(keys[0])
    eng.pin(keys[0])
    with pytest.raises(ferry.Busy):
        eng.remove(keys[0])
    eng.unpin(keys[0])
    eng.close()
    # A new engine on the same directory finds every chunk.
    again = ferry.kv.Engine(config, "tiny", **GEOMETRY)
    assert again.stats()["recovered_chunks"] == 4
    out[:] = 0
    assert again.retrieve(tokens, out) == 64 and np.array_equal(out, kv)
    again.close()
    assert len(ferry.kv.scan(config, verify=True)) == 4
    assert ferry.kv.clear(config) >= 4


def test_a_window_later_in_the_prompt(config):
    tokens = np.arange(100, 164, dtype=np.int32)
    kv = kv_for(tokens)
    eng = ferry.kv.Engine(config, "tiny", **GEOMETRY)
    eng.store(tokens[:32], np.ascontiguousarray(kv[:, :, :32]))
    eng.store(tokens, np.ascontiguousarray(kv[:, :, 32:]), first_token=32)
    out = np.zeros((2, 2, 32, 64), np.uint8)
    assert eng.retrieve(tokens, out, first_token=32) == 64
    assert np.array_equal(out, kv[:, :, 32:])


def test_bad_input_raises_and_stores_nothing(config):
    eng = ferry.kv.Engine(config, "tiny", **GEOMETRY)
    tokens = np.arange(16, dtype=np.int32)
    with pytest.raises(ferry.InvalidArgument):
        eng.store(tokens, np.zeros(100, np.uint8))  # not whole tokens
    with pytest.raises(ferry.InvalidArgument):
        eng.store(tokens, np.zeros((2, 2, 16, 64), np.uint8), capacity=17)
    with pytest.raises(ferry.InvalidArgument):
        eng.store(np.zeros((2, 2), np.int32), np.zeros((2, 2, 16, 64), np.uint8))
    with pytest.raises(ferry.InvalidArgument):
        eng.contains("not-hex")
    frozen = np.zeros((2, 2, 16, 64), np.uint8)
    frozen.flags.writeable = False
    with pytest.raises(ferry.InvalidArgument):
        eng.retrieve(tokens, frozen)
    with pytest.raises(ferry.InvalidArgument):
        ferry.kv.Engine(config, "tiny", layers=2, kv_heads=2, head_size=16, dtype="fp7")
    assert eng.stats()["chunks_stored"] == 0


def test_config_errors_name_the_key(workdir):
    with pytest.raises(ferry.InvalidArgument) as e:
        ferry.kv.Config.load(yaml="chunk_size: 0\nextra_config:\n  nixl_path: /x\n")
    assert "chunk_size" in e.value.message
    with pytest.raises(ferry.NotFound):
        ferry.kv.Config.load(path=str(workdir / "missing.yaml"))


@pytest.mark.parametrize("layout", ["flash_attn", "flashinfer"])
def test_paged_kv_in_vllm_form(config, layout):
    """Per-layer block tensors and a shuffled slot mapping: stored pages come back into
    other blocks of another cache, and equal what the contiguous form stores."""
    eng = ferry.kv.Engine(config, "tiny", **GEOMETRY)
    tokens = np.arange(500, 548, dtype=np.int32)  # three chunks
    bs, blocks, row = 4, 16, 64
    rng = np.random.default_rng(3)

    def cache():
        shape = (2, blocks, bs, 2, 32) if layout == "flash_attn" else (blocks, 2, bs, 2, 32)
        return [np.zeros(shape, np.uint8) for _ in range(2)]

    def slots(seed):
        order = np.random.default_rng(seed).permutation(blocks)
        return np.array([order[t // bs] * bs + t % bs for t in range(len(tokens))], np.int64)

    def row_of(layer_tensor, plane, slot):
        b, o = divmod(int(slot), bs)
        t = layer_tensor[plane, b, o] if layout == "flash_attn" else layer_tensor[b, plane, o]
        return t.reshape(-1)

    src, src_slots = cache(), slots(1)
    contiguous = rng.integers(0, 255, (2, 2, len(tokens), row), dtype=np.uint8)
    for layer in range(2):
        for plane in range(2):
            for i, s in enumerate(src_slots):
                row_of(src[layer], plane, s)[:] = contiguous[plane, layer, i]
    assert eng.store_paged(tokens, src, src_slots, bs, layout=layout)["chunks_written"] == 3
    dst, dst_slots = cache(), slots(2)
    assert eng.retrieve_paged(tokens, dst, dst_slots, bs, layout=layout) == 48
    for layer in range(2):
        for plane in range(2):
            for i, s in enumerate(dst_slots):
                assert np.array_equal(row_of(dst[layer], plane, s), contiguous[plane, layer, i])
    flat = np.zeros_like(contiguous)
    assert eng.retrieve(tokens, flat) == 48 and np.array_equal(flat, contiguous)
    bad = src_slots.copy()
    bad[3] = blocks * bs
    with pytest.raises(ferry.InvalidArgument, match="slot_mapping"):
        eng.store_paged(np.arange(900, 948, dtype=np.int32), src, bad, bs, layout=layout)
    with pytest.raises(ferry.InvalidArgument, match="int64"):
        eng.store_paged(tokens, src, src_slots.astype(np.int32), bs, layout=layout)
