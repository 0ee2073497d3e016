import os
import pathlib
import shutil
import uuid

import pytest


@pytest.fixture
def workdir(tmp_path_factory):
    """A fresh directory on a real filesystem (not tmpfs: O_DIRECT tests need one)."""
    base = os.environ.get("FERRY_TEST_TMP")
    if not base:
        d = tmp_path_factory.mktemp("ferry")
        yield d
        return
    d = pathlib.Path(base) / uuid.uuid4().hex
    d.mkdir(parents=True)
    yield d
    shutil.rmtree(d, ignore_errors=True)
