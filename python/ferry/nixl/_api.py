"""ferry.nixl._api: NIXL's nixl_agent for local storage, on a Ferry agent.

Storage flows work as in NIXL: register DRAM/VRAM and FILE (or OBJ) memory, prepare the
local side ("" or "NIXL_INIT_AGENT") and the storage side (the agent's own name), then
make_prepped_xfer / initialize_xfer, transfer and poll check_xfer_state. Failures raise
NIXL's exceptions (nixlBind.nixlBackendError and friends); "ERR" is never returned. Calls
that need another agent raise nixlNotSupportedError until Ferry has a network backend.
Written from NIXL's documented behaviour (docs/python.md), not from its code."""

from __future__ import annotations

import enum
import functools
import os
import stat as _stat
import time

import numpy as np

import ferry

from . import _bindings as nixlBind  # noqa: N812 - NIXL's module name
from .logging import get_logger

logger = get_logger(__name__)

DEFAULT_COMM_PORT = 8888
_LOCAL_NAMES = ("", "NIXL_INIT_AGENT")


class nixl_thread_sync_t(enum.Enum):  # noqa: N801
    NIXL_THREAD_SYNC_NONE = 0
    NIXL_THREAD_SYNC_STRICT = 1
    NIXL_THREAD_SYNC_RW = 2
    NIXL_THREAD_SYNC_DEFAULT = 3


def _nixl_errors(fn):
    """Re-raises ferry.Error as the matching NIXL exception."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ferry.Error as e:
            raise nixlBind.nixl_error(e) from e

    return wrapped


def _not_supported(what: str):
    raise nixlBind.nixlNotSupportedError(
        f"{what}: Ferry has no network backend yet; only local storage transfers (to this "
        "agent's own name) are supported")


class nixl_agent_config:  # noqa: N801
    def __init__(self, enable_prog_thread: bool = True, enable_listen_thread: bool = False,
                 listen_port: int = DEFAULT_COMM_PORT, capture_telemetry: bool = False,
                 num_threads: int = 0, backends=("UCX",), sync_mode=None):
        if sync_mode is not None and not isinstance(sync_mode, nixl_thread_sync_t):
            raise TypeError("sync_mode must be a nixl_thread_sync_t, got "
                            f"{type(sync_mode).__name__}")
        self.enable_pthread = bool(enable_prog_thread)
        self.enable_listen = bool(enable_listen_thread)
        self.port = int(listen_port)
        self.capture_telemetry = bool(capture_telemetry)
        self.num_threads = int(num_threads)
        self.backends = list(backends)
        self.sync_mode = sync_mode or nixl_thread_sync_t.NIXL_THREAD_SYNC_DEFAULT


class nixl_backend_handle:  # noqa: N801
    def __init__(self, name: str, backend_id: int, params: dict):
        self.name, self.id, self.params = name, backend_id, dict(params)

    def __repr__(self):
        return f"nixl_backend_handle({self.name})"


class nixl_prepped_dlist_handle:  # noqa: N801
    def __init__(self, prepped, mem_type, count: int, local: bool):
        self._prepped, self.mem_type, self.count, self.local = prepped, mem_type, count, local

    def release(self):
        if self._prepped is not None:
            self._prepped.release()
            self._prepped = None


class nixl_xfer_handle:  # noqa: N801
    def __init__(self, transfer, backend_name: str):
        self._x, self.backend_name, self.posted = transfer, backend_name, False

    def release(self):
        if self._x is not None:
            try:
                self._x.release()
            finally:
                self._x = None

    def _get(self):
        if self._x is None:
            raise nixlBind.nixlInvalidParamError("transfer handle was released")
        return self._x


class _Telemetry:
    def __init__(self, t: dict, start_us: float):
        self.startTime = start_us  # noqa: N815 - NIXL's names
        self.postDuration = t["post_us"]  # noqa: N815
        self.xferDuration = t["transfer_us"]  # noqa: N815
        self.totalBytes = t["bytes"]  # noqa: N815
        self.descCount = t["descriptors"]  # noqa: N815


# NIXL's comma-separated FILE flags ("rw,create,direct:/path") as Ferry's letters.
_FILE_FLAGS = {"rw": "w", "ro": "", "direct": "d", "sync": "s", "create": "c", "noatime": ""}


def _ferry_meta(meta: str) -> str:
    if ":" not in meta:
        return meta
    flags, path = meta.split(":", 1)
    words = [w.strip() for w in flags.split(",") if w.strip()]
    if words and all(w in _FILE_FLAGS for w in words):
        return "".join(dict.fromkeys("".join(_FILE_FLAGS[w] for w in words))) + ":" + path
    return meta  # Ferry's own letters, or not a path registration at all


class nixl_agent:  # noqa: N801
    """An agent for local storage transfers (see the module doc)."""

    @_nixl_errors
    def __init__(self, agent_name: str, nixl_conf: nixl_agent_config | None = None,
                 instantiate_all: bool = False):
        if nixl_conf is None:
            nixl_conf = nixl_agent_config()
        self.name = agent_name
        self._conf = nixl_conf
        self._agent = ferry.Agent(agent_name)
        self._infos = {p["name"]: p for p in self._agent.plugins() if p["usable"]}
        self.plugin_list = sorted(self._infos)
        self.backends: dict[str, nixl_backend_handle] = {}
        self.nixl_mems = {"DRAM": nixlBind.DRAM_SEG, "VRAM": nixlBind.VRAM_SEG,
                          "FILE": nixlBind.FILE_SEG, "BLOCK": nixlBind.BLK_SEG,
                          "OBJ": nixlBind.OBJ_SEG, "cpu": nixlBind.DRAM_SEG,
                          "cuda": nixlBind.VRAM_SEG}
        self.nixl_ops = {"WRITE": nixlBind.NIXL_WRITE, "READ": nixlBind.NIXL_READ}
        self._regs: dict = {}
        self._warned: set = set()
        if nixl_conf.enable_listen:
            logger.warning("nixl_agent %s: a listen thread was asked for; Ferry has no network "
                           "backend yet, so none is started", agent_name)
        for b in (self.plugin_list if instantiate_all else nixl_conf.backends):
            if b in self._infos:
                self.create_backend(b)
            else:
                logger.warning("backend %s is not available here (plugins: %s); skipped", b,
                               ", ".join(self.plugin_list))

    # --- plugins and backends ---
    def get_plugin_list(self):
        return list(self.plugin_list)

    def _info(self, backend: str):
        if backend not in self._infos:
            raise nixlBind.nixlNotFoundError(f"no plugin named {backend} "
                                             f"(plugins: {', '.join(self.plugin_list)})")
        return self._infos[backend]

    def get_plugin_mem_types(self, backend: str):
        """NIXL's names of the memory types the plugin moves ("DRAM_SEG", "FILE_SEG", ...)."""
        kinds = []
        for local, target, _r, _w in self._info(backend)["capabilities"]:
            for k in (local, target):
                name = nixlBind.MEM_TYPE[k].name
                if name not in kinds:
                    kinds.append(name)
        return kinds

    def get_plugin_params(self, backend: str):
        return {k: v["default"] for k, v in self._info(backend)["params"].items()}

    def get_backend_mem_types(self, backend: str):
        self._backend(backend)
        return self.get_plugin_mem_types(backend)

    def get_backend_params(self, backend: str):
        return dict(self._backend(backend).params)

    def _backend(self, backend) -> nixl_backend_handle:
        if isinstance(backend, nixl_backend_handle):
            return backend
        if backend not in self.backends:
            raise ValueError(f"backend {backend} was not created on agent {self.name}")
        return self.backends[backend]

    @_nixl_errors
    def create_backend(self, backend: str, initParams: dict | None = None):  # noqa: N803
        params = {str(k): str(v) for k, v in (initParams or {}).items()}
        schema = self._info(backend)["params"]
        known = set(schema)
        for spec_name in schema:
            known.update(self._aliases(backend, spec_name))
        unknown = sorted(k for k in params if k not in known)
        if unknown:
            # NIXL's storage plugins ignore keys they do not know, and callers (LMCache)
            # pass their own: they are accepted and named once.
            key = (backend, tuple(unknown))
            if key not in self._warned:
                self._warned.add(key)
                logger.warning("backend %s ignores parameters it does not know: %s", backend,
                               ", ".join(unknown))
            params = {k: v for k, v in params.items() if k not in unknown}
        bid = self._agent.create_backend(backend, params)
        self.backends[backend] = nixl_backend_handle(backend, bid, params)

    _NIXL_ALIASES = {"POSIX": {"engine": ("use_uring", "use_aio", "use_posix_aio"),
                               "queue_depth": ("kernel_queue_size", "ios_pool_size")}}

    def _aliases(self, backend, name):
        return self._NIXL_ALIASES.get(backend, {}).get(name, ())

    def _backend_ids(self, backends):
        return [self._backend(b).id for b in backends or []]

    # --- descriptors ---
    def get_reg_descs(self, descs, mem_type=None):
        try:
            return self._descs(descs, mem_type, reg=True)
        except (nixlBind.nixlInvalidParamError, ferry.Error, TypeError, ValueError) as e:
            logger.error("get_reg_descs: %s", e)
            return None

    def get_xfer_descs(self, descs, mem_type=None):
        try:
            return self._descs(descs, mem_type, reg=False)
        except (nixlBind.nixlInvalidParamError, ferry.Error, TypeError, ValueError) as e:
            logger.error("get_xfer_descs: %s", e)
            return None

    def _mem_type(self, mem_type, default=None):
        if mem_type is None:
            if default is None:
                raise nixlBind.nixlInvalidParamError(
                    "descriptor tuples and arrays need a mem type (tensors carry their own)")
            return default
        if isinstance(mem_type, str):
            if mem_type not in self.nixl_mems:
                raise nixlBind.nixlInvalidParamError(f"unknown memory type {mem_type}")
            return self.nixl_mems[mem_type]
        return nixlBind.nixl_mem_t(mem_type)

    def _descs(self, descs, mem_type, reg: bool):
        cls = nixlBind.nixlRegDList if reg else nixlBind.nixlXferDList
        if isinstance(descs, (nixlBind.nixlRegDList, nixlBind.nixlXferDList)):
            return descs
        if isinstance(descs, np.ndarray) and descs.ndim == 2:
            return cls(self._mem_type(mem_type), descs)
        if isinstance(descs, list) and descs and isinstance(descs[0], tuple):
            return cls(self._mem_type(mem_type), descs)
        if isinstance(descs, list) and not descs:
            return cls(self._mem_type(mem_type), [])
        # Tensors (or a list of them), buffers: Ferry knows where each lives.
        kind, rows, _ = ferry.descriptors(descs)
        t = self._mem_type(mem_type, nixlBind.MEM_TYPE[kind])
        if reg:
            return cls(t, [tuple(int(v) for v in r) + ("",) for r in rows])
        return cls(t, rows)

    # --- registration ---
    @_nixl_errors
    def register_memory(self, reg_list, mem_type=None, backends=()):
        descs = self._descs(reg_list, mem_type, reg=True)
        if descs is None or descs.isEmpty():
            raise nixlBind.nixlInvalidParamError("register_memory: no descriptors")
        kind = nixlBind.FERRY_KIND[descs.getType()]
        if kind == "FILE":
            # A path registration ("rw,create:/p") opens the file; any other meta is a
            # label of an fd registration (devId = fd), which Ferry takes with no meta.
            metas = [_ferry_meta(m) if ":" in m else "" for m in descs._metas]
        elif kind == "OBJ":
            metas = list(descs._metas)  # the object keys
        else:
            metas = []  # memory: NIXL's meta is a label Ferry does not need
        handle = self._agent._register(kind, descs._rows, metas if any(metas) else [],
                                       self._backend_ids(backends))
        self._regs.setdefault(descs, []).append(handle)
        return descs

    @_nixl_errors
    def deregister_memory(self, dereg_list, backends=()):
        descs = self._descs(dereg_list, None, reg=True)
        handles = self._regs.get(descs)
        if not handles:
            raise nixlBind.nixlNotFoundError("deregister_memory: this list is not registered")
        self._agent.deregister(handles.pop())
        if not handles:
            del self._regs[descs]

    @_nixl_errors
    def query_memory(self, reg_list, backend, mem_type=None):
        b = self._backend(backend)
        descs = self._descs(reg_list, mem_type or nixlBind.FILE_SEG, reg=True)
        kind = nixlBind.FERRY_KIND[descs.getType()]
        # FILE metas may carry NIXL's "flags:" prefix; object keys are kept whole (a key may
        # hold a ':').
        names = [m.split(":", 1)[1] if kind == "FILE" and ":" in m else m for m in descs._metas]
        out = []
        for name, info in zip(names, self._agent.query(names, kind, b.id)):
            if info is None:
                out.append(None)
                continue
            mode = 0
            if kind == "FILE":
                try:
                    mode = os.stat(name).st_mode
                except OSError:
                    mode = _stat.S_IFREG
            # NIXL's file backends give every value as a string.
            out.append({"size": str(info["size"]), "mode": str(mode),
                        "mtime": str(info["mtime_ns"] // 10**9)})
        return out

    # --- transfers ---
    def _side(self, agent_name: str):
        if agent_name in _LOCAL_NAMES:
            return True
        if agent_name == self.name:
            return False
        _not_supported(f"a transfer with agent '{agent_name}'")

    @_nixl_errors
    def prep_xfer_dlist(self, agent_name, xfer_list, mem_type=None, backends=()):
        local = self._side(agent_name)
        if isinstance(xfer_list, np.ndarray) and xfer_list.ndim == 2 and xfer_list.shape[1] == 5:
            if mem_type is None:
                raise nixlBind.nixlInvalidParamError("an N x 5 list needs mem_type")
            a = xfer_list.astype(np.uint64)
            counts = a[:, 4].astype(np.int64)
            base = np.repeat(a[:, 0], counts) + (np.concatenate(
                [np.arange(c, dtype=np.uint64) for c in counts]) * np.repeat(a[:, 3], counts)
                if len(counts) else np.empty(0, np.uint64))
            rows = np.stack([base, np.repeat(a[:, 1], counts), np.repeat(a[:, 2], counts)], axis=1)
            xfer_list = nixlBind.nixlXferDList(self._mem_type(mem_type), rows)
        descs = self._descs(xfer_list, mem_type, reg=False)
        if isinstance(descs, nixlBind.nixlRegDList):
            descs = descs.trim()
        kind = nixlBind.FERRY_KIND[descs.getType()]
        prepped = self._agent._prep(kind, descs._rows, "" if local else self.name)
        return nixl_prepped_dlist_handle(prepped, descs.getType(), descs.descCount(), local)

    def _op(self, op):
        if isinstance(op, nixlBind.nixl_xfer_op_t):
            return "WRITE" if op == nixlBind.NIXL_WRITE else "READ"
        if op not in ("READ", "WRITE"):
            raise nixlBind.nixlInvalidParamError(f"operation must be 'READ' or 'WRITE', got {op!r}")
        return op

    def _forced(self, backends):
        ids = self._backend_ids(backends)
        return ids[0] if ids else 0

    def _name_of(self, backend_id: int) -> str:
        for name, h in self.backends.items():
            if h.id == backend_id:
                return name
        return ""

    @_nixl_errors
    def make_prepped_xfer(self, operation, local_xfer_side, local_indices, remote_xfer_side,
                          remote_indices, notif_msg=b"", backends=(), skip_desc_merge=False):
        if notif_msg:
            _not_supported("a notification message")
        x = self._agent.make_transfer(self._op(operation), local_xfer_side._prepped,
                                      local_indices, remote_xfer_side._prepped, remote_indices,
                                      self._forced(backends))
        return nixl_xfer_handle(x, self._name_of(x.backend))

    @_nixl_errors
    def initialize_xfer(self, operation, local_descs, remote_descs, remote_agent, notif_msg=b"",
                        backends=()):
        if self._side(remote_agent):
            raise nixlBind.nixlInvalidParamError("initialize_xfer: remote_agent names the target "
                                                 "side; for storage, this agent's own name")
        if notif_msg:
            _not_supported("a notification message")
        l = self._descs(local_descs, None, reg=False)  # noqa: E741
        r = self._descs(remote_descs, None, reg=False)
        l = l.trim() if isinstance(l, nixlBind.nixlRegDList) else l  # noqa: E741
        r = r.trim() if isinstance(r, nixlBind.nixlRegDList) else r
        x = self._agent._transfer(self._op(operation), nixlBind.FERRY_KIND[l.getType()], l._rows,
                                  nixlBind.FERRY_KIND[r.getType()], r._rows, self.name,
                                  self._forced(backends), None, 0)
        return nixl_xfer_handle(x, self._name_of(x.backend))

    @_nixl_errors
    def transfer(self, handle: nixl_xfer_handle, notif_msg=b""):
        if notif_msg:
            _not_supported("a notification message")
        x = handle._get()
        x.post()
        handle.posted = True
        handle.start_us = _now_us()
        return "DONE" if x.done() else "PROC"

    @_nixl_errors
    def check_xfer_state(self, handle: nixl_xfer_handle):
        x = handle._get()
        if not handle.posted:
            raise nixlBind.nixlNotPostedError("check_xfer_state: the transfer was not posted")
        return "DONE" if x.done() else "PROC"

    @_nixl_errors
    def get_xfer_telemetry(self, handle: nixl_xfer_handle):
        if not (self._conf.capture_telemetry or os.environ.get("NIXL_TELEMETRY_ENABLE")):
            raise nixlBind.nixlNoTelemetryError("telemetry is off: nixl_agent_config("
                                                "capture_telemetry=True) turns it on")
        return _Telemetry(handle._get().telemetry(), getattr(handle, "start_us", 0.0))

    def query_xfer_backend(self, handle: nixl_xfer_handle) -> str:
        handle._get()
        return handle.backend_name

    def estimate_xfer_cost(self, handle):
        raise nixlBind.nixlNotSupportedError("estimate_xfer_cost: Ferry does not estimate costs")

    def release_xfer_handle(self, handle: nixl_xfer_handle):
        try:
            handle.release()
        except ferry.Error as e:
            raise nixlBind.nixl_error(e) from e

    def release_dlist_handle(self, handle: nixl_prepped_dlist_handle):
        handle.release()

    # --- remote agents and notifications: not until a network backend exists ---
    def get_agent_metadata(self):
        _not_supported("get_agent_metadata")

    def add_remote_agent(self, metadata):
        _not_supported("add_remote_agent")

    def remove_remote_agent(self, agent):
        _not_supported("remove_remote_agent")

    def send_local_metadata(self, *args, **kwargs):
        _not_supported("send_local_metadata")

    def fetch_remote_metadata(self, *args, **kwargs):
        _not_supported("fetch_remote_metadata")

    def check_remote_metadata(self, *args, **kwargs):
        _not_supported("check_remote_metadata")

    def send_notif(self, remote_agent_name, notif_msg):
        _not_supported("send_notif")

    def check_remote_xfer_done(self, remote_agent_name, lookup_tag):
        _not_supported("check_remote_xfer_done")

    def get_new_notifs(self):
        """No notifications arrive without another agent: always empty."""
        return {}


def _now_us() -> float:
    return time.time() * 1e6
