"""nixl._bindings on Ferry (NIXL's compiled module's names)."""
from ferry.nixl._bindings import *  # noqa: F401,F403
