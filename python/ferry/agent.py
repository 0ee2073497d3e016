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
                 queue: _ferry.CompletionQueue | None = None, tag: int = 0) -> _ferry.Transfer:
        """A transfer ("READ": target -> local, "WRITE": local -> target), not yet posted.
        With ``queue``, each completion also delivers ``tag`` there."""
        lk, lrows, _ = descriptors(local, local_kind)
        tk, trows, _ = descriptors(target, target_kind)
        return self._transfer(op, lk, lrows, tk, trows, target_name, backend, queue, tag)

    def prep(self, descs, kind: str | None = None, target_name: str = "") -> _ferry.PreppedList:
        """Checks a descriptor list once, for make_transfer by index."""
        k, rows, _ = descriptors(descs, kind)
        return self._prep(k, rows, target_name)

    def make_transfer(self, op: str, local: _ferry.PreppedList, local_indices,
                      target: _ferry.PreppedList, target_indices, backend: int = 0,
                      queue: _ferry.CompletionQueue | None = None, tag: int = 0):
        li = np.ascontiguousarray(local_indices, dtype=np.uint32)
        ti = np.ascontiguousarray(target_indices, dtype=np.uint32)
        return self._make_transfer(op, local, li, target, ti, backend, queue, tag)

    def query(self, names, kind: str = "FILE", backend: int = 0):
        """Per name: None when absent, else a dict (size, mtime_ns, etag, type, available)."""
        return self._query(kind, list(names), backend)

    def remove(self, names, kind: str = "FILE", backend: int = 0) -> None:
        self._remove(kind, list(names), backend)

    def list(self, prefix: str, kind: str = "FILE", backend: int = 0):
        """Every name starting with ``prefix`` (a path prefix for files)."""
        return self._list(kind, prefix, backend)
