"""ferry.nixl._utils: NIXL's small memory helpers (host memory by address)."""

from __future__ import annotations

import ctypes

_libc = ctypes.CDLL(None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.free.argtypes = [ctypes.c_void_p]


def malloc_passthru(size: int) -> int:
    """Host memory of ``size`` bytes (free with free_passthru); raises MemoryError."""
    p = _libc.malloc(int(size))
    if not p:
        raise MemoryError(f"malloc({size}) failed")
    return int(p)


def free_passthru(addr: int) -> None:
    _libc.free(ctypes.c_void_p(int(addr)))


def ba_buf(addr: int, size: int) -> None:
    """Fills ``size`` bytes at ``addr`` with 0xBA (NIXL's test pattern)."""
    ctypes.memset(int(addr), 0xBA, int(size))


def verify_transfer(a: int, b: int, size: int) -> None:
    """Checks that the ``size`` bytes at the two addresses are equal: returns None, raises
    AssertionError naming the first differing offset otherwise. (NIXL's returns None either
    way in its release builds.)"""
    x, y = ctypes.string_at(int(a), int(size)), ctypes.string_at(int(b), int(size))
    if x != y:
        first = next(i for i in range(len(x)) if x[i] != y[i])
        raise AssertionError(f"verify_transfer: the buffers differ from byte {first} on")
