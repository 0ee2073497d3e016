"""nixl.logging on Ferry."""
from ferry.nixl.logging import get_logger  # noqa: F401
