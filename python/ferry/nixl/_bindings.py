"""ferry.nixl._bindings (NIXL's ``nixlBind``): memory-type enum, descriptor lists and the
exception classes, with NIXL's names.

Written from NIXL's documented Python behaviour (docs/python.md); no NIXL code."""

from __future__ import annotations

import enum

import numpy as np


class nixl_mem_t(enum.IntEnum):  # noqa: N801 - NIXL's name
    DRAM_SEG = 0
    VRAM_SEG = 1
    BLK_SEG = 2
    OBJ_SEG = 3
    FILE_SEG = 4


DRAM_SEG, VRAM_SEG, BLK_SEG, OBJ_SEG, FILE_SEG = (nixl_mem_t.DRAM_SEG, nixl_mem_t.VRAM_SEG,
                                                  nixl_mem_t.BLK_SEG, nixl_mem_t.OBJ_SEG,
                                                  nixl_mem_t.FILE_SEG)

# Ferry's memory kind for each NIXL type, and back.
FERRY_KIND = {DRAM_SEG: "DRAM", VRAM_SEG: "VRAM", BLK_SEG: "BLK", OBJ_SEG: "OBJ", FILE_SEG: "FILE"}
MEM_TYPE = {v: k for k, v in FERRY_KIND.items()}


class nixl_xfer_op_t(enum.IntEnum):  # noqa: N801
    NIXL_READ = 0
    NIXL_WRITE = 1


NIXL_READ, NIXL_WRITE = nixl_xfer_op_t.NIXL_READ, nixl_xfer_op_t.NIXL_WRITE


class nixlNotPostedError(Exception): pass  # noqa: E701,N818
class nixlInvalidParamError(Exception): pass  # noqa: E701,N818
class nixlBackendError(Exception): pass  # noqa: E701,N818
class nixlNotFoundError(Exception): pass  # noqa: E701,N818
class nixlMismatchError(Exception): pass  # noqa: E701,N818
class nixlNotAllowedError(Exception): pass  # noqa: E701,N818
class nixlRepostActiveError(Exception): pass  # noqa: E701,N818
class nixlUnknownError(Exception): pass  # noqa: E701,N818
class nixlNotSupportedError(Exception): pass  # noqa: E701,N818
class nixlRemoteDisconnectError(Exception): pass  # noqa: E701,N818
class nixlCancelledError(Exception): pass  # noqa: E701,N818
class nixlNoTelemetryError(Exception): pass  # noqa: E701,N818


# Ferry's status codes (ferry.Error.code) as NIXL's exceptions.
_BY_CODE = {
    "INVALID_ARGUMENT": nixlInvalidParamError,
    "NOT_FOUND": nixlNotFoundError,
    "NOT_REGISTERED": nixlNotFoundError,
    "ALREADY_EXISTS": nixlNotAllowedError,
    "UNSUPPORTED": nixlNotSupportedError,
    "BUSY": nixlRepostActiveError,
    "RELEASED": nixlInvalidParamError,
    "CANCELLED": nixlCancelledError,
    "DISCONNECTED": nixlRemoteDisconnectError,
    "INTERNAL": nixlUnknownError,
}


def nixl_error(err) -> Exception:
    """The NIXL exception for a ferry.Error (I/O and storage failures are backend errors)."""
    cls = _BY_CODE.get(getattr(err, "code", ""), nixlBackendError)
    return cls(str(err))


class _DList:
    """A descriptor list: a memory type and rows (addr, len, devId[, meta])."""

    _has_meta = False

    def __init__(self, mem_type, descs=(), *_unused):
        self._type = nixl_mem_t(mem_type)
        if isinstance(descs, np.ndarray):
            if descs.ndim != 2 or descs.shape[1] != 3:
                raise nixlInvalidParamError("descriptor array must be N x 3 (addr, len, devId)")
            self._rows = np.ascontiguousarray(descs, dtype=np.uint64)
            self._metas = [""] * len(self._rows) if self._has_meta else []
            return
        rows, metas = [], []
        want = 4 if self._has_meta else 3
        for d in descs:
            d = tuple(d)
            if len(d) != want:
                raise nixlInvalidParamError(f"a descriptor here is a {want}-tuple, got {d!r}")
            if not all(isinstance(v, (int, np.integer)) and v >= 0 for v in d[:3]):
                raise nixlInvalidParamError(f"addr, len and devId must be non-negative ints: {d!r}")
            rows.append(d[:3])
            if self._has_meta:
                if not isinstance(d[3], str):
                    raise nixlInvalidParamError(f"meta must be a str: {d!r}")
                metas.append(d[3])
        self._rows = np.array(rows, dtype=np.uint64).reshape(-1, 3)
        self._metas = metas

    def descCount(self) -> int:  # noqa: N802
        return len(self._rows)

    def isEmpty(self) -> bool:  # noqa: N802
        return len(self._rows) == 0

    def getType(self) -> nixl_mem_t:  # noqa: N802
        return self._type

    def __len__(self):
        return len(self._rows)

    def __getitem__(self, i):
        r = tuple(int(v) for v in self._rows[i])
        return r + (self._metas[i],) if self._has_meta else r

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __eq__(self, other):
        return (type(self) is type(other) and self._type == other._type
                and np.array_equal(self._rows, other._rows) and self._metas == other._metas)

    def __hash__(self):
        return hash((type(self), int(self._type), self._rows.tobytes(), tuple(self._metas)))

    def __getstate__(self):
        return {"type": int(self._type), "rows": self._rows.tolist(), "metas": self._metas}

    def __setstate__(self, st):
        self._type = nixl_mem_t(st["type"])
        self._rows = np.array(st["rows"], dtype=np.uint64).reshape(-1, 3)
        self._metas = list(st["metas"])

    def __repr__(self):
        return f"{type(self).__name__}({self._type.name}, {len(self)} descriptors)"


class nixlXferDList(_DList):  # noqa: N801
    """Descriptors of a transfer: (addr, len, devId)."""


class nixlRegDList(_DList):  # noqa: N801
    """Descriptors of a registration: (addr, len, devId, meta)."""

    _has_meta = True

    def trim(self) -> nixlXferDList:
        """The same descriptors without meta, as a transfer list."""
        out = nixlXferDList.__new__(nixlXferDList)
        out._type = self._type
        out._rows = self._rows.copy()
        out._metas = []
        return out
