"""ferry.kv with CUDA tensors (nixl_buffer_device: cuda) on GDS, GDS_MT and POSIX: contiguous
and vLLM-paged KV stored and loaded back byte-equal on the GPU. Skipped without torch and a
GPU (CI); run on the GPU machine with FERRY_GDS_TEST_DIR on a block filesystem."""

import os
import pathlib
import shutil
import sys

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA GPU", allow_module_level=True)

import ferry  # noqa: E402

CONFIG = """
chunk_size: 16
nixl_buffer_size: 4194304
nixl_buffer_device: cuda
extra_config:
  enable_nixl_storage: true
  nixl_backend: {backend}
  nixl_pool_size: 8
  nixl_path: {path}
"""


@pytest.fixture
def gpu_dir(tmp_path_factory):
    base = os.environ.get("FERRY_GDS_TEST_DIR")
    if not base:
        yield tmp_path_factory.mktemp("gpu")
        return
    path = pathlib.Path(base) / f"ferry-pygpu-{os.getpid()}"
    yield path
    shutil.rmtree(path, ignore_errors=True)  # ours alone: named by this process


@pytest.mark.parametrize("backend", ["GDS", "GDS_MT", "POSIX"])
def test_cuda_tensors_round_trip(gpu_dir, backend):
    cfg = ferry.kv.Config.load(yaml=CONFIG.format(backend=backend, path=gpu_dir / backend))
    eng = ferry.kv.Engine(cfg, "gpu", layers=2, kv_heads=2, head_size=64, dtype="bf16")
    tokens = torch.arange(48, dtype=torch.int32).numpy()
    kv = torch.randn(2, 2, 48, 128, device="cuda").to(torch.bfloat16)
    torch.cuda.synchronize()
    assert eng.store(tokens, kv)["chunks_written"] == 3
    out = torch.zeros_like(kv)
    assert eng.retrieve(tokens, out) == 48
    torch.cuda.synchronize()
    assert torch.equal(out, kv)
    # vLLM's paged form with CUDA block tensors and a CUDA slot mapping.
    bs, blocks = 16, 6
    caches = [torch.zeros(2, blocks, bs, 2, 64, device="cuda", dtype=torch.bfloat16)
              for _ in range(2)]
    order = torch.randperm(blocks)[:3]
    slots = torch.cat([order[t // bs:t // bs + 1] * bs + t % bs for t in range(48)]).to(
        device="cuda", dtype=torch.int64)
    assert eng.retrieve_paged(tokens, caches, slots, bs) == 48
    torch.cuda.synchronize()
    for layer in range(2):
        for plane in range(2):
            for t in range(48):
                b, o = divmod(int(slots[t]), bs)
                assert torch.equal(caches[layer][plane, b, o].reshape(-1), kv[plane, layer, t])
    assert eng.stats()["device_codec_ns"] > 0


@pytest.mark.parametrize("backend", ["GDS", "GDS_MT", "POSIX"])
def test_tiny_transformer_restores_its_paged_gpu_kv(gpu_dir, backend):
    """examples/tiny_transformer_cuda.py: the second request restores the shared prefix's
    three full chunks into other blocks byte-equal (asserted inside main), and its logits
    match a full recomputation within rtol 1e-4 / atol 1e-5."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
    import tiny_transformer_cuda as ttc

    logits, full, restored = ttc.main(str(gpu_dir / f"tt-{backend}"), backend, "cuda")
    assert restored == 3 * ttc.CHUNK
    torch.testing.assert_close(logits, full, rtol=1e-4, atol=1e-5)
