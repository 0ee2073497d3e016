"""nixl._utils on Ferry."""
from ferry.nixl._utils import ba_buf, free_passthru, malloc_passthru, verify_transfer  # noqa: F401
