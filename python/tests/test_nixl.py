"""ferry.nixl and the nixl shim: NIXL's storage flows, its names and its failure shapes.
Where a real NIXL is installed (FERRY_REAL_NIXL_PYTHON names its interpreter), the same
storage-flow script runs on both and their outputs must be equal."""

import json
import logging
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import ferry
from ferry.nixl import _bindings as nixlBind  # noqa: N812
from ferry.nixl import _utils
from ferry.nixl._api import nixl_agent, nixl_agent_config, nixl_thread_sync_t

HERE = os.path.dirname(__file__)


def run_flow(python, pythonpath, workdir):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    r = subprocess.run([python, os.path.join(HERE, "nixl_storage_flow.py"), str(workdir)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


EXPECTED = {"backends": ["POSIX"], "posix_listed": True, "filled": True, "reg_count": 2, "trimmed_count": 2,
            "write_state": "DONE", "read_state": "DONE", "verified": True,
            "file_size": 16 * 4096, "prepped_state": "DONE", "prepped_verified": True,
            "query_present_size": str(16 * 4096), "query_missing": True}


def shim_path():
    shim = os.environ.get("FERRY_NIXL_SHIM")
    if not shim:
        pytest.skip("FERRY_NIXL_SHIM is not set (ctest sets it)")
    return [shim]


def test_the_storage_flow_runs_on_the_shim(workdir):
    assert run_flow(sys.executable, shim_path() + os.environ["PYTHONPATH"].split(os.pathsep),
                    workdir) == EXPECTED


def test_the_storage_flow_gives_the_same_results_on_real_nixl(workdir, tmp_path):
    python = os.environ.get("FERRY_REAL_NIXL_PYTHON")
    if not python:
        pytest.skip("no real NIXL here (set FERRY_REAL_NIXL_PYTHON to its interpreter)")
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = run_flow(python, [], real_dir)
    ours = run_flow(sys.executable, shim_path() + os.environ["PYTHONPATH"].split(os.pathsep),
                    workdir)
    assert ours == real


@pytest.fixture
def agent():
    a = nixl_agent("nixl-pytest", nixl_agent_config(backends=["POSIX"]))
    yield a


def test_config_and_agent_attributes(agent):
    assert "POSIX" in agent.backends and agent.name == "nixl-pytest"
    assert agent.nixl_mems["cpu"] == agent.nixl_mems["DRAM"] == nixlBind.DRAM_SEG
    assert set(agent.nixl_ops) == {"READ", "WRITE"}
    assert {"DRAM_SEG", "FILE_SEG"} <= set(agent.get_plugin_mem_types("POSIX"))
    assert "queue_depth" in agent.get_plugin_params("POSIX")
    nixl_agent_config(True, True, 5555, backends=[])  # positional, as NIXL's examples call it
    nixl_agent_config(sync_mode=nixl_thread_sync_t.NIXL_THREAD_SYNC_RW)
    with pytest.raises(TypeError):
        nixl_agent_config(sync_mode="strict")


def test_a_missing_backend_in_the_config_is_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        a = nixl_agent("nixl-ucx", nixl_agent_config())  # NIXL's default: UCX
    assert a.backends == {} and "UCX" in caplog.text


def test_unknown_backend_parameters_are_accepted_and_named_once(caplog):
    a = nixl_agent("nixl-params", nixl_agent_config(backends=[]))
    with caplog.at_level(logging.WARNING):
        a.create_backend("POSIX", {"file_path": "/x", "use_direct_io": "True", "use_uring": "1"})
    assert "file_path" in caplog.text and "use_direct_io" in caplog.text
    assert "use_uring" not in caplog.text.split("know:")[-1]
    assert a.get_backend_params("POSIX") == {"use_uring": "1"}


def test_descriptor_lists(agent):
    arr = np.zeros(8192, np.uint8)
    reg = agent.get_reg_descs([(arr.ctypes.data, 4096, 0, "m"), (arr.ctypes.data + 4096, 4096, 0, "")],
                              "DRAM")
    assert reg.descCount() == 2 and not reg.isEmpty() and reg.getType() == nixlBind.DRAM_SEG
    assert reg[0] == (arr.ctypes.data, 4096, 0, "m")
    x = reg.trim()
    assert isinstance(x, nixlBind.nixlXferDList) and x[1] == (arr.ctypes.data + 4096, 4096, 0)
    assert pickle.loads(pickle.dumps(reg)) == reg
    rows = np.array([[arr.ctypes.data, 8192, 0]], dtype=np.uint64)
    assert agent.get_xfer_descs(rows, "DRAM").descCount() == 1
    from_array = agent.get_reg_descs(arr)
    assert from_array[0] == (arr.ctypes.data, 8192, 0, "")
    assert agent.get_xfer_descs([("not", "a", "descriptor")], "DRAM") is None  # logged
    assert agent.get_reg_descs([(1, 2, 3, "")]) is None  # tuples need a mem type


def test_path_registration_writes_and_queries(agent, workdir):
    path = str(workdir / "by-path.bin")
    data = np.arange(4096, dtype=np.uint8) % 251
    agent.register_memory(agent.get_reg_descs(data))
    files = agent.register_memory([(0, 4096, 1, f"rw,create:{path}")], "FILE")
    h = agent.initialize_xfer("WRITE", agent.get_xfer_descs(data), files.trim(), "nixl-pytest")
    state = agent.transfer(h)
    while state != "DONE":
        state = agent.check_xfer_state(h)
    with open(path, "rb") as f:
        assert f.read() == data.tobytes()
    q = agent.query_memory([(0, 0, 0, path), (0, 0, 0, path + ".none")], "POSIX")
    # Strings, as NIXL's file backends give them.
    assert q[0]["size"] == "4096" and int(q[0]["mode"]) & 0o170000 == 0o100000 and q[1] is None
    with pytest.raises(ValueError):
        agent.query_memory([(0, 0, 0, path)], "GDS_NOT_CREATED")
    agent.release_xfer_handle(h)
    agent.deregister_memory(files)


def test_failures_raise_nixl_exceptions(agent, workdir):
    data = np.zeros(4096, np.uint8)
    files = agent.register_memory([(0, 4096, 7, f"rw,create:{workdir / 'f'}")], "FILE")
    with pytest.raises(nixlBind.nixlNotFoundError):  # memory never registered
        agent.initialize_xfer("READ", agent.get_xfer_descs(data), files.trim(), "nixl-pytest")
    agent.register_memory(agent.get_reg_descs(data))
    h = agent.initialize_xfer("READ", agent.get_xfer_descs(data), files.trim(), "nixl-pytest")
    with pytest.raises(nixlBind.nixlNotPostedError):
        agent.check_xfer_state(h)
    with pytest.raises(nixlBind.nixlBackendError):  # the file is empty: read past its end
        agent.transfer(h)
        while agent.check_xfer_state(h) != "DONE":
            pass
    agent.release_xfer_handle(h)
    with pytest.raises(nixlBind.nixlInvalidParamError):
        agent.check_xfer_state(h)
    with pytest.raises(nixlBind.nixlNotSupportedError):
        agent.prep_xfer_dlist("some-other-agent", agent.get_xfer_descs(data))
    with pytest.raises(nixlBind.nixlNotSupportedError):
        agent.add_remote_agent(b"metadata")
    with pytest.raises(nixlBind.nixlNotSupportedError):
        agent.send_notif("peer", b"hi")
    with pytest.raises(nixlBind.nixlNoTelemetryError):
        agent.get_xfer_telemetry(h)
    with pytest.raises(nixlBind.nixlNotFoundError):
        agent.create_backend("NO_SUCH_PLUGIN")
    assert agent.get_new_notifs() == {}


def test_telemetry_when_enabled(workdir):
    a = nixl_agent("nixl-tel", nixl_agent_config(backends=["POSIX"], capture_telemetry=True))
    data = np.ones(8192, np.uint8)
    a.register_memory(a.get_reg_descs(data))
    files = a.register_memory([(0, 8192, 3, f"rw,create:{workdir / 't'}")], "FILE")
    h = a.initialize_xfer("WRITE", a.get_xfer_descs(data), files.trim(), "nixl-tel")
    a.transfer(h)
    while a.check_xfer_state(h) != "DONE":
        pass
    t = a.get_xfer_telemetry(h)
    assert t.totalBytes == 8192 and t.descCount == 1 and t.xferDuration >= 0
    assert a.query_xfer_backend(h) == "POSIX"


def test_utils_round_trip():
    p = _utils.malloc_passthru(64)
    q = _utils.malloc_passthru(64)
    _utils.ba_buf(p, 64)
    _utils.ba_buf(q, 64)
    assert _utils.verify_transfer(p, q, 64) is None
    import ctypes
    ctypes.memset(q + 10, 0, 1)
    with pytest.raises(AssertionError, match="byte 10"):
        _utils.verify_transfer(p, q, 64)
    _utils.free_passthru(p)
    _utils.free_passthru(q)
