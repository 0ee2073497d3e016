"""nixl._api on Ferry: everything ferry.nixl._api has, nixlBind included."""
from ferry.nixl._api import *  # noqa: F401,F403
from ferry.nixl._api import DEFAULT_COMM_PORT, nixlBind, nixl_agent, nixl_agent_config  # noqa: F401
