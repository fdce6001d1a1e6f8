"""The actor that owns one device: it opens a :class:`~fpga_accel.runtime.Session` on it and
runs the batches the pool sends, returning each result with its key and the time the device
was busy. It is a plain class; the pool makes it a Ray actor (``ray.remote``) that needs one
``fpga`` resource.
"""
from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

#: set in the actor's process to the local index of the device it owns (backends may read it)
DEVICE_ENV = "FPGA_ACCEL_DEVICE_INDEX"


def claim_device(count: int, wait: float = 30.0) -> tuple[int, object]:
    """The lowest device index in ``range(count)`` on this node that no other process holds, and
    the open lock file that holds it. The lock goes with the process, so a replacement actor can
    take the index of one that died."""
    from ..safe_fs import open_lock_file, private_dir

    # a 0700 directory of this user, and no symlink followed: another user cannot plant a link
    # that makes this process open (or truncate) a file of theirs choosing
    lock_dir = private_dir("fpga-accel-devices")
    deadline = time.monotonic() + wait
    while True:
        for i in range(max(1, count)):
            f = open_lock_file(lock_dir / f"{i}.lock")  # held open for the actor's life
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            return i, f
        if time.monotonic() > deadline:
            from .errors import DistributedError

            raise DistributedError(f"all {count} device(s) of node {socket.gethostname()} are held by other "
                                   f"processes (locks in {lock_dir}); stop them or declare more 'fpga' resources")
        time.sleep(0.2)


class DeviceWorker:
    """Holds one Session on one device.

    ``bundle``: the bundle directory; ``blob``: its tar bytes shipped by the pool (unpacked into
    the node's cache and used instead of the path), or None to load ``bundle`` from the node.
    ``device``: the local device index to own, or None to claim the lowest free one of the node.
    ``session_factory(bundle_dir, backend, device, generation, **options)`` replaces the default
    ``Session(bundle_dir, backend=backend, **options)`` (tests use it to inject device faults);
    ``generation`` counts the actors that held this slot before.
    """

    def __init__(self, bundle, backend: str, slot: int, generation: int = 0, device: int | None = None,
                 session_options: dict | None = None, session_factory=None, blob: bytes | None = None):
        import ray

        from .cluster import node_devices

        t0 = time.monotonic()
        if blob is not None:
            from .ship import unpack

            bundle = unpack(blob, Path(bundle).name)
        self.slot, self.generation = slot, generation
        self.node = ray.get_runtime_context().get_node_id()
        self._lock = None
        if device is None:
            device, self._lock = claim_device(node_devices(self.node))
        self.device = device
        os.environ[DEVICE_ENV] = str(device)
        options = dict(session_options or {})
        if session_factory is None:
            from ..runtime import Session

            self.session = Session(bundle, backend=backend, **options)
        else:
            self.session = session_factory(bundle, backend, device, generation, **options)
        self.backend = getattr(getattr(self.session, "backend", None), "name", backend)
        self.startup = time.monotonic() - t0

    def describe(self) -> dict:
        """Where this actor runs: host, node, pid, device index, backend, start-up seconds."""
        return {"slot": self.slot, "generation": self.generation, "host": socket.gethostname(), "node": self.node,
                "pid": os.getpid(), "device": self.device, "backend": self.backend, "startup": self.startup}

    def run(self, key: int, feeds: dict, raw: bool = False) -> tuple[int, dict, float]:
        """One batch: returns ``(key, outputs, busy seconds)``."""
        t = time.perf_counter()
        out = self.session.run(feeds, raw=raw)
        return key, out, time.perf_counter() - t

    def close(self) -> None:
        self.session.close()
