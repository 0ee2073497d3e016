"""Turning Python memory objects into Ferry descriptor rows (addr, len, dev)."""

from __future__ import annotations

import numpy as np

from . import _ferry

_U64 = np.uint64


def _invalid(msg: str) -> Exception:
    return _ferry.InvalidArgument("INVALID_ARGUMENT: " + msg)


def file_desc(path: str, file_id: int, *, write: bool = False, direct: bool = False,
              sync: bool = False, create: bool = False, owned_only: bool = False,
              reserve: bool = False, offset: int = 0, length: int = 0):
    """A FILE registration descriptor the backend opens by path (and closes at
    deregistration); transfers name it by ``file_id``."""
    flags = "".join(c for c, on in (("w", write), ("d", direct), ("s", sync), ("c", create),
                                    ("p", owned_only), ("a", reserve)) if on)
    return (offset, length, file_id, f"{flags}:{path}")


def _one(obj, device):
    """(kind or None, addr, len, dev) of one memory object."""
    if isinstance(obj, tuple):
        if len(obj) not in (3, 4) or not all(isinstance(v, (int, np.integer)) for v in obj[:3]):
            raise _invalid(f"a descriptor tuple is (addr, len, dev[, meta]) of integers, got {obj!r}")
        return None, int(obj[0]), int(obj[1]), int(obj[2])
    if hasattr(obj, "data_ptr") and hasattr(obj, "element_size"):  # a torch tensor
        if not obj.is_contiguous():
            raise _invalid("a tensor must be contiguous to be one descriptor")
        n = obj.numel() * obj.element_size()
        if obj.is_cuda:
            return "VRAM", obj.data_ptr(), n, obj.device.index or 0
        return "DRAM", obj.data_ptr(), n, 0
    iface = getattr(obj, "__cuda_array_interface__", None)
    if iface is not None:
        if iface.get("strides") is not None:
            raise _invalid("__cuda_array_interface__ memory must be contiguous (strides None)")
        n = int(np.prod(iface["shape"])) * np.dtype(iface["typestr"]).itemsize
        return "VRAM", int(iface["data"][0]), n, device
    try:
        view = obj if isinstance(obj, np.ndarray) else np.frombuffer(obj, dtype=np.uint8)
    except TypeError:
        raise _invalid(f"cannot use a {type(obj).__name__} as memory: not a buffer, tensor, "
                       "array or (addr, len, dev) tuple") from None
    if not view.flags.c_contiguous:
        raise _invalid("a numpy array must be C-contiguous to be one descriptor")
    if not view.flags.writeable:
        raise _invalid(f"a read-only {type(obj).__name__}: Ferry may write into memory it is "
                       "given (copy it into a bytearray or a writable array)")
    return "DRAM", view.ctypes.data, view.nbytes, 0


def descriptors(mem, kind: str | None = None, device: int = 0, with_meta: bool = False):
    """(kind, rows, metas): ``rows`` an N x 3 uint64 array, ``metas`` the meta strings
    (registration only; empty when none was given). ``kind`` defaults to what the memory
    is (DRAM for host memory, VRAM for GPU tensors)."""
    if isinstance(mem, np.ndarray) and mem.ndim == 2 and mem.shape[1] == 3 and \
            mem.dtype.kind in "iu":
        if mem.dtype.kind == "i" and mem.size and int(mem.min()) < 0:
            raise _invalid("descriptor rows must not be negative")
        return kind or "DRAM", np.ascontiguousarray(mem, dtype=_U64), []
    items = mem if isinstance(mem, list) else [mem]
    rows = np.empty((len(items), 3), dtype=_U64)
    metas: list[str] = []
    found = None
    for i, item in enumerate(items):
        k, addr, n, dev = _one(item, device)
        if min(addr, n, dev) < 0:
            raise _invalid(f"descriptor {i} has a negative field")
        rows[i] = (addr, n, dev)
        if isinstance(item, tuple) and len(item) == 4:
            if not isinstance(item[3], str):
                raise _invalid(f"descriptor {i}: meta must be a str")
            metas.append(item[3])
        elif with_meta:
            metas.append("")
        if k is not None:
            if found is not None and k != found:
                raise _invalid("one descriptor list holds one kind of memory: both DRAM and VRAM given")
            found = k
    if not any(metas):
        metas = []
    return kind or found or "DRAM", rows, metas
