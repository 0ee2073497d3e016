"""The ``nixl`` import name on Ferry (the ferry-nixl-shim distribution).

Installing this replaces a real NIXL in the environment: ``import nixl`` and
``from nixl._api import nixl_agent`` then run on Ferry's agent (ferry.nixl), for local
storage transfers. Uninstall it to get NIXL back."""

from ferry.nixl import (DEFAULT_COMM_PORT, nixl_agent, nixl_agent_config,  # noqa: F401
                        nixl_backend_handle, nixl_prepped_dlist_handle, nixl_thread_sync_t,
                        nixl_xfer_handle)

from . import _api, _bindings, _utils, logging  # noqa: F401,E402

__all__ = ["DEFAULT_COMM_PORT", "nixl_agent", "nixl_agent_config", "nixl_backend_handle",
           "nixl_prepped_dlist_handle", "nixl_thread_sync_t", "nixl_xfer_handle"]
