"""ferry.nixl: NIXL's Python API (``nixl._api`` and friends) on Ferry, for local storage.

``from ferry.nixl._api import nixl_agent, nixl_agent_config`` works as NIXL's does; the
``nixl`` shim distribution (python/nixl_shim) puts this package under the name ``nixl`` so
code written for NIXL runs unchanged."""

from . import _api, _bindings, _utils, logging  # noqa: F401
from ._api import (DEFAULT_COMM_PORT, nixl_agent, nixl_agent_config, nixl_backend_handle,
                   nixl_prepped_dlist_handle, nixl_thread_sync_t, nixl_xfer_handle)

_api.nixlBind = _bindings

__all__ = ["DEFAULT_COMM_PORT", "nixl_agent", "nixl_agent_config", "nixl_backend_handle",
           "nixl_prepped_dlist_handle", "nixl_thread_sync_t", "nixl_xfer_handle"]
