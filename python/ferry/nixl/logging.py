"""ferry.nixl.logging: NIXL's get_logger, on Python's logging."""

import logging as _logging


def get_logger(name: str) -> _logging.Logger:
    return _logging.getLogger(name)
