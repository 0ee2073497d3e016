"""ferry.Agent: plugins, registration in every memory form, transfers, namespace calls,
errors as exceptions, threads."""

import threading

import numpy as np
import pytest

import ferry


@pytest.fixture
def agent():
    a = ferry.Agent("pytest")
    a.posix = a.create_backend("POSIX")
    return a


def write_file(agent, path, data, file_id):
    h = agent.register_memory([ferry.file_desc(str(path), file_id, write=True, create=True)], "FILE")
    x = agent.transfer("WRITE", data, [(0, data.nbytes, file_id)])
    x.post()
    x.wait(10)
    x.release()
    return h


def test_plugins_list_posix_with_its_schema(agent):
    plugins = {p["name"]: p for p in agent.plugins()}
    assert plugins["POSIX"]["usable"]
    params = plugins["POSIX"]["params"]
    assert "queue_depth" in params and params["queue_depth"]["type"] == "int"
    assert ("DRAM", "FILE", True, True) in plugins["POSIX"]["capabilities"]


def test_numpy_round_trip_through_a_file(agent, workdir):
    data = np.random.default_rng(1).integers(0, 255, 1 << 20, dtype=np.uint8)
    back = np.zeros_like(data)
    agent.register_memory(data)
    agent.register_memory(back)
    write_file(agent, workdir / "f", data, 7)
    x = agent.transfer("READ", back, [(0, back.nbytes, 7)])
    x.post()
    x.wait(10)
    assert x.done()
    assert np.array_equal(back, data)
    t = x.telemetry()
    assert t["bytes"] == data.nbytes and t["descriptors"] == 1 and t["posts"] == 1


def test_every_memory_form_names_the_same_descriptor():
    arr = np.zeros(4096, np.uint8)
    want = (arr.ctypes.data, 4096, 0)
    for form in (arr, [arr], (arr.ctypes.data, 4096, 0), [(arr.ctypes.data, 4096, 0)],
                 np.array([want], dtype=np.uint64), memoryview(arr)):
        kind, rows, metas = ferry.descriptors(form)
        assert kind == "DRAM" and rows.shape == (1, 3) and tuple(int(v) for v in rows[0]) == want
    ba = bytearray(100)
    kind, rows, _ = ferry.descriptors(ba)
    assert rows[0][1] == 100


def test_a_100k_descriptor_list_from_numpy_is_one_array(agent):
    buf = np.zeros(100_000 * 64, np.uint8)
    agent.register_memory(buf)
    rows = np.empty((100_000, 3), np.uint64)
    rows[:, 0] = buf.ctypes.data + np.arange(100_000, dtype=np.uint64) * 64
    rows[:, 1] = 64
    rows[:, 2] = 0
    prepped = agent.prep(rows, "DRAM")
    assert prepped is not None


def test_prepared_lists_and_make_transfer_by_index(agent, workdir):
    pages = np.zeros((4, 4096), np.uint8)
    for i in range(4):
        pages[i] = i + 1
    agent.register_memory(pages)
    agent.register_memory([ferry.file_desc(str(workdir / "slots"), 3, write=True, create=True)], "FILE")
    local = agent.prep([(pages[i].ctypes.data, 4096, 0) for i in range(4)], "DRAM")
    files = agent.prep([(i * 4096, 4096, 3) for i in range(4)], "FILE", target_name="pytest")
    x = agent.make_transfer("WRITE", local, [0, 1, 2, 3], files, np.array([3, 2, 1, 0], np.uint32))
    x.post()
    x.wait(10)
    back = np.zeros(4 * 4096, np.uint8)
    agent.register_memory(back)
    r = agent.transfer("READ", back, [(0, back.nbytes, 3)])
    r.post()
    r.wait(10)
    assert [int(back[i * 4096]) for i in range(4)] == [4, 3, 2, 1]


def test_query_remove_and_list(agent, workdir):
    data = np.ones(8192, np.uint8)
    agent.register_memory(data)
    h = write_file(agent, workdir / "a.bin", data, 1)
    agent.deregister(h)
    present, missing = agent.query([str(workdir / "a.bin"), str(workdir / "none")])
    assert present["size"] == 8192 and missing is None
    assert [e["name"] for e in agent.list(str(workdir / "a"))] == [str(workdir / "a.bin")]
    agent.remove([str(workdir / "a.bin")])
    assert agent.query([str(workdir / "a.bin")]) == [None]


def test_failures_raise_with_code_and_message(agent, workdir):
    with pytest.raises(ferry.NotFound) as e:
        agent.create_backend("NO_SUCH_PLUGIN")
    assert e.value.code == "NOT_FOUND" and "NO_SUCH_PLUGIN" in e.value.message
    assert isinstance(e.value, ferry.Error)
    with pytest.raises(ferry.InvalidArgument):
        agent.create_backend("POSIX", {"queue_depth": "0"})
    unregistered = np.zeros(4096, np.uint8)
    with pytest.raises(ferry.Error) as e:
        agent.transfer("WRITE", unregistered, [(0, 4096, 99)])
    assert e.value.code in ("NOT_REGISTERED", "NOT_FOUND")
    with pytest.raises(ferry.InvalidArgument):
        agent.transfer("SIDEWAYS", unregistered, [(0, 4096, 99)])
    with pytest.raises(ferry.InvalidArgument):
        ferry.descriptors(object())
    with pytest.raises(ferry.InvalidArgument):
        ferry.descriptors(b"read-only bytes")
    with pytest.raises(ferry.InvalidArgument):
        ferry.descriptors(np.zeros((4, 4))[:, 1])  # not contiguous
    with pytest.raises(ferry.InvalidArgument):
        agent.register_memory(np.zeros(8, np.uint8), "PAPER")


def test_a_released_transfer_refuses_further_use(agent, workdir):
    data = np.ones(4096, np.uint8)
    agent.register_memory(data)
    write_file(agent, workdir / "r", data, 5)
    x = agent.transfer("READ", data, [(0, 4096, 5)])
    x.release()
    with pytest.raises(ferry.Released):
        x.post()
    x.release()  # twice is fine


def test_reading_past_the_end_is_out_of_range(agent, workdir):
    data = np.ones(8192, np.uint8)
    agent.register_memory(data)
    write_file(agent, workdir / "short", data[:4096], 2)
    x = agent.transfer("READ", data, [(0, 8192, 2)])
    x.post()
    with pytest.raises(ferry.OutOfRange):
        x.wait(10)


def test_threads_transfer_at_once(agent, workdir):
    n = 8
    bufs = [np.full(256 << 10, i, np.uint8) for i in range(n)]
    for i, b in enumerate(bufs):
        agent.register_memory(b)
        agent.register_memory([ferry.file_desc(str(workdir / f"t{i}"), 100 + i, write=True,
                                               create=True)], "FILE")
    errors = []

    def work(i):
        try:
            for _ in range(20):
                x = agent.transfer("WRITE", bufs[i], [(0, bufs[i].nbytes, 100 + i)])
                x.post()
                x.wait(10)
                x.release()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(n):
        assert (workdir / f"t{i}").read_bytes() == bytes([i]) * (256 << 10)


def test_alloc_hands_out_usable_memory(agent):
    addr = agent.alloc("DRAM", 1 << 20, backend=agent.posix)
    assert addr != 0
    agent.register_memory((addr, 1 << 20, 0))
    agent.free(addr)
    with pytest.raises(ferry.NotFound):
        agent.free(addr)


def test_a_completion_queue_collects_the_tags_of_many_transfers(agent, workdir):
    q = ferry.CompletionQueue()
    bufs = [np.full(64 << 10, i, np.uint8) for i in range(6)]
    xs = []
    for i, b in enumerate(bufs):
        agent.register_memory(b)
        agent.register_memory([ferry.file_desc(str(workdir / f"q{i}"), 200 + i, write=True,
                                               create=True)], "FILE")
        xs.append(agent.transfer("WRITE", b, [(0, b.nbytes, 200 + i)], queue=q, tag=1000 + i))
    for x in xs:
        x.post()
    got = []
    while len(got) < len(xs):
        got += q.wait(10)
    assert sorted(got) == [1000 + i for i in range(6)]
    assert q.poll() == [] and len(q) == 0
    assert q.wait(0.01) == []  # a timeout returns what there is: nothing
    for i in range(6):
        assert (workdir / f"q{i}").read_bytes() == bytes([i]) * (64 << 10)


def test_per_transfer_arguments_reach_the_backend(agent, workdir):
    """XferArgs: params go to the backend (POSIX takes none and names what it refuses);
    a stream is an address or an object carrying one; wrong types raise TypeError."""
    data = np.arange(4096, dtype=np.uint8)
    agent.register_memory(data)
    agent.register_memory([ferry.file_desc(str(workdir / "args"), 5, write=True, create=True)],
                          "FILE")
    with pytest.raises(ferry.Error) as e:
        agent.transfer("WRITE", data, [(0, 4096, 5)], params={"if_none_match": "*"})
    assert "if_none_match" in e.value.message
    local = agent.prep(data, "DRAM")
    files = agent.prep([(0, 4096, 5)], "FILE", target_name="pytest")
    with pytest.raises(ferry.Error) as e:
        agent.make_transfer("WRITE", local, [0], files, [0], params={"hint": "x"})
    assert "hint" in e.value.message

    class TorchLikeStream:
        cuda_stream = 0

    for stream in (None, 0, TorchLikeStream()):
        x = agent.transfer("WRITE", data, [(0, 4096, 5)], stream=stream)
        x.run(10)
        x.release()
    for bad in ({"n": 1}, ["if_none_match"]):
        with pytest.raises(TypeError, match="params"):
            agent.transfer("WRITE", data, [(0, 4096, 5)], params=bad)
    for bad in ("stream", -1, 2**64, 1.5):
        with pytest.raises(TypeError, match="stream"):
            agent.transfer("WRITE", data, [(0, 4096, 5)], stream=bad)


def test_the_benchmark_baseline_loop_moves_the_data(agent, workdir):
    """Transfer._repost_loop (bench/python_overhead.py's C++ baseline) really posts."""
    data = np.zeros(4096, np.uint8)
    agent.register_memory(data)
    write_file(agent, workdir / "loop", data, 6)
    data[:] = 9
    x = agent.transfer("WRITE", data, [(0, 4096, 6)])
    assert x._repost_loop(10) > 0
    assert x.telemetry()["posts"] == 10
    back = np.zeros(4096, np.uint8)
    agent.register_memory(back)
    agent.transfer("READ", back, [(0, 4096, 6)]).run(10)
    assert (back == 9).all()
    with pytest.raises(ferry.InvalidArgument):
        x._repost_loop(0)
