"""Ferry from Python: the transfer agent and the KV-cache engine.

    import ferry, numpy as np
    agent = ferry.Agent("demo")
    posix = agent.create_backend("POSIX")
    buf = np.zeros(1 << 20, np.uint8)
    agent.register_memory(buf)
    agent.register_memory([ferry.file_desc("/tmp/f", 1, write=True, create=True)], "FILE")
    x = agent.transfer("WRITE", buf, [(0, buf.nbytes, 1)], target_kind="FILE")
    x.post(); x.wait()

Memory may be a numpy array or any object with the buffer protocol (host memory), a torch
tensor (host or GPU), an object with ``__cuda_array_interface__`` (GPU), an
``(addr, len, dev)`` tuple, a list of those, or an N x 3 integer array of
``(addr, len, dev)`` rows (no Python work per row). Registration descriptors may carry a
fourth field, a meta string (``file_desc`` builds FILE ones). Memory must stay alive
while registered and while a transfer that uses it runs.

Every failure raises ``ferry.Error`` or its subclass for the status (``InvalidArgument``,
``NotFound``, ``NotRegistered``, ...), with ``.code`` and ``.message``.
"""

from __future__ import annotations

import numpy as _np

from . import _ferry
from ._ferry import CompletionQueue, Error, PreppedList, Transfer

# The exception classes, one per status code (ferry.InvalidArgument, ...).
for _name in dir(_ferry):
    _obj = getattr(_ferry, _name)
    if isinstance(_obj, type) and issubclass(_obj, Error) and _obj is not Error:
        globals()[_name] = _obj
del _name, _obj

from .memory import descriptors, file_desc  # noqa: E402
from .agent import Agent  # noqa: E402
from . import kv  # noqa: E402

__all__ = ["Agent", "CompletionQueue", "Error", "PreppedList", "Transfer", "descriptors", "file_desc", "kv"]
