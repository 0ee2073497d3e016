"""ferry.Agent: the C++ agent with Python memory forms."""

from __future__ import annotations

import numpy as np

from . import _ferry
from .memory import descriptors


class Agent(_ferry.Agent):
    """One agent per process (ferry/agent.h). Thread safe: any method from any thread; the
    GIL is released while a call blocks."""

    def register_memory(self, mem, kind: str | None = None, backends=()) -> int:
        """Registers memory (or FILE/OBJ descriptors); returns the handle for
        deregister(). Backends to offer it to: ids from create_backend (default all)."""
        k, rows, metas = descriptors(mem, kind, with_meta=True)
        return self._register(k, rows, metas, list(backends))

    def transfer(self, op: str, local, target, *, local_kind: str | None = None,
                 target_kind: str = "FILE", target_name: str = "", backend: int = 0,
                 queue: _ferry.CompletionQueue | None = None, tag: int = 0, stream=None,
                 params: dict[str, str] | None = None) -> _ferry.Transfer:
        """A transfer ("READ": target -> local, "WRITE": local -> target), not yet posted.
        With ``queue``, each completion also delivers ``tag`` there. ``stream`` (a CUDA
        stream: torch.cuda.Stream, a CuPy stream or its address) and ``params`` (strings)
        are the per-transfer arguments the backend's README lists; a backend refuses a
        parameter it does not know."""
        lk, lrows, _ = descriptors(local, local_kind)
        tk, trows, _ = descriptors(target, target_kind)
        return self._transfer(op, lk, lrows, tk, trows, target_name, backend, queue, tag,
                              _stream_handle(stream), _params(params))

    def prep(self, descs, kind: str | None = None, target_name: str = "") -> _ferry.PreppedList:
        """Checks a descriptor list once, for make_transfer by index."""
        k, rows, _ = descriptors(descs, kind)
        return self._prep(k, rows, target_name)

    def make_transfer(self, op: str, local: _ferry.PreppedList, local_indices,
                      target: _ferry.PreppedList, target_indices, backend: int = 0,
                      queue: _ferry.CompletionQueue | None = None, tag: int = 0, stream=None,
                      params: dict[str, str] | None = None):
        """A transfer of descriptors ``local_indices`` of ``local`` and ``target_indices``
        of ``target``, not yet posted; the other arguments as for transfer()."""
        li = np.ascontiguousarray(local_indices, dtype=np.uint32)
        ti = np.ascontiguousarray(target_indices, dtype=np.uint32)
        return self._make_transfer(op, local, li, target, ti, backend, queue, tag,
                                   _stream_handle(stream), _params(params))

    def query(self, names, kind: str = "FILE", backend: int = 0):
        """Per name: None when absent, else a dict (size, mtime_ns, etag, type, available)."""
        return self._query(kind, list(names), backend)

    def remove(self, names, kind: str = "FILE", backend: int = 0) -> None:
        self._remove(kind, list(names), backend)

    def list(self, prefix: str, kind: str = "FILE", backend: int = 0):
        """Every name starting with ``prefix`` (a path prefix for files)."""
        return self._list(kind, prefix, backend)


def _stream_handle(stream) -> int:
    """The cudaStream_t address of ``stream``: None (0: the backend's own), an int, or an
    object with ``cuda_stream`` (torch.cuda.Stream) or ``ptr`` (CuPy)."""
    if stream is None:
        return 0
    handle = stream
    for attr in ("cuda_stream", "ptr"):
        if not isinstance(handle, int) and hasattr(stream, attr):
            handle = getattr(stream, attr)
    if isinstance(handle, bool) or not isinstance(handle, int) or not 0 <= handle < 2**64:
        raise TypeError(f"stream: expected a CUDA stream (torch.cuda.Stream, a CuPy stream or its "
                        f"address as an int), got {type(stream).__name__}")
    return handle


def _params(params) -> dict[str, str]:
    """Per-transfer parameters: a mapping of str to str."""
    if params is None:
        return {}
    if not hasattr(params, "items") or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
        raise TypeError("params: expected a dict of str to str")
    return dict(params)
