"""NIXL's documented storage flow, written against the `nixl` API only, so the same script
runs on the real NIXL wheel and on Ferry's shim (test_nixl.py runs it on both and compares
what it prints). Usage: python nixl_storage_flow.py DIR -> one JSON object on stdout."""

import ctypes
import json
import os
import sys
import time

import nixl._utils as nixl_utils
from nixl._api import nixl_agent, nixl_agent_config


def poll(agent, handle):
    while True:
        state = agent.check_xfer_state(handle)
        if state == "DONE":
            return state
        if state == "ERR":
            raise RuntimeError("transfer failed")
        time.sleep(0.001)


def main(workdir):
    out = {}
    agent = nixl_agent("storage_flow", nixl_agent_config(backends=[]))
    out["posix_listed"] = "POSIX" in agent.get_plugin_list()
    agent.create_backend("POSIX")
    out["backends"] = sorted(agent.backends)
    size = 16 * 4096
    addr1 = nixl_utils.malloc_passthru(2 * size)
    addr2 = addr1 + size
    pattern = bytes((i * 7 + 3) & 0xFF for i in range(size))
    ctypes.memmove(addr1, pattern, size)
    nixl_utils.ba_buf(addr2, size)  # 0xBA everywhere: a read that moves nothing shows
    out["filled"] = ctypes.string_at(addr2, 8) == b"\xba" * 8
    reg = agent.get_reg_descs([(addr1, size, 0, "a"), (addr2, size, 0, "b")], "DRAM")
    out["reg_count"] = reg.descCount()
    out["trimmed_count"] = reg.trim().descCount()
    assert agent.register_memory(reg) is not None
    xfer1 = agent.get_xfer_descs([(addr1, size, 0)], "DRAM")
    xfer2 = agent.get_xfer_descs([(addr2, size, 0)], "DRAM")
    # A file by fd (devId = fd), as NIXL's storage example registers it.
    path = os.path.join(workdir, "flow.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    files = agent.register_memory([(0, size, fd, "b")], "FILE")
    file_xfer = files.trim()
    h = agent.initialize_xfer("WRITE", xfer1, file_xfer, "storage_flow")
    state = agent.transfer(h)
    out["write_state"] = state if state == "DONE" else poll(agent, h)
    h2 = agent.initialize_xfer("READ", xfer2, file_xfer, "storage_flow")
    state = agent.transfer(h2)
    out["read_state"] = state if state == "DONE" else poll(agent, h2)
    out["verified"] = ctypes.string_at(addr1, size) == ctypes.string_at(addr2, size)
    out["file_size"] = os.path.getsize(path)
    # Prepared lists and transfers by index: page i of the buffer to file offset i.
    pages = agent.prep_xfer_dlist("", [(addr1 + i * 4096, 4096, 0) for i in range(16)], "DRAM")
    slots = agent.prep_xfer_dlist("storage_flow", [(i * 4096, 4096, fd) for i in range(16)], "FILE")
    h3 = agent.make_prepped_xfer("READ", pages, list(reversed(range(16))), slots, list(range(16)))
    state = agent.transfer(h3)
    out["prepped_state"] = state if state == "DONE" else poll(agent, h3)
    # Page 15 of the buffer now holds file page 0 (= the first page written).
    out["prepped_verified"] = (ctypes.string_at(addr1 + 15 * 4096, 4096)
                               == ctypes.string_at(addr2, 4096))
    for handle in (h, h2, h3):
        agent.release_xfer_handle(handle)
    agent.release_dlist_handle(pages)
    agent.release_dlist_handle(slots)
    # query_memory: present and missing files (meta = path).
    q = agent.query_memory([(0, 0, 0, path), (0, 0, 0, os.path.join(workdir, "none"))], "POSIX",
                           "FILE")
    out["query_present_size"] = q[0]["size"] if q[0] else None
    out["query_missing"] = q[1] is None
    agent.deregister_memory(files)
    agent.deregister_memory(reg)
    os.close(fd)
    nixl_utils.free_passthru(addr1)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
