"""What runs inside the Spark executors: the partition function and the per-process sessions.

A Python worker of an executor opens one :class:`~fpga_accel.runtime.Session` per (bundle,
backend, device, options) and keeps it for the next partitions (Spark reuses its Python workers,
``spark.python.worker.reuse``, the default), so the bundle is loaded and the device opened once
per process, not per partition. The device is the address Spark assigned to the task
(``TaskContext.resources()["fpga"]``, set in ``FPGA_ACCEL_DEVICE_INDEX`` while the session
opens); a task with none runs on the fallback backend. A process keeps one session per device:
a session for another bundle on the same device is closed first, and a session that fails (not
an input error) is closed and forgotten, so the task's next attempt opens a new one.
"""
from __future__ import annotations

import contextlib
import os
import re
import threading
from dataclasses import dataclass, field

from ..errors import InputError
from .columns import InputColumn, OutputColumn, images, output_array
from .errors import SparkInputError

DEVICE_ENV = "FPGA_ACCEL_DEVICE_INDEX"
#: what a device address may look like (discovery prints indices; other scripts may print names)
ADDRESS = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

_lock = threading.Lock()
_sessions: dict[tuple, object] = {}
_bundles: dict[str, str] = {}  # sha256 of a shipped bundle → where this process unpacked it
#: sessions this process opened (a reused worker opens one per device and bundle)
opened = 0


def assigned_device(resource: str) -> str | None:
    """The first address of ``resource`` Spark assigned to the running task (None: none, or no task)."""
    from pyspark import TaskContext

    ctx = TaskContext.get()
    info = (ctx.resources() or {}).get(resource) if ctx is not None else None
    addresses = list(getattr(info, "addresses", None) or [])
    if not addresses:
        return None
    if not ADDRESS.fullmatch(str(addresses[0])):
        raise SparkInputError(f"Spark assigned the {resource} address {str(addresses[0])[:80]!r}, which is not a "
                              "device index; check the discovery script")
    return str(addresses[0])


def session_for(bundle_dir: str, backend: str, device: str | None, options: dict):
    """The process's session for this bundle, backend and device (opened on first use)."""
    global opened
    from ..runtime import Session

    key = (bundle_dir, backend, device, tuple(sorted(options.items())))
    with _lock:
        s = _sessions.get(key)
        if s is not None and not s.closed:
            return s
        for other in [k for k in _sessions if k[2] == device and device is not None]:
            _sessions.pop(other).close()  # one session per device in a process
        before = os.environ.get(DEVICE_ENV)
        if device is not None:
            os.environ[DEVICE_ENV] = device  # read by the backend while it opens its device
        try:
            s = _sessions[key] = Session(bundle_dir, backend=backend, **options)
        finally:
            if before is None:
                os.environ.pop(DEVICE_ENV, None)
            else:
                os.environ[DEVICE_ENV] = before
        opened += 1
        return s


def discard(session) -> None:
    """Forget (and close) a session that failed: the task's next attempt in this worker opens a new one."""
    with _lock:
        for k in [k for k, s in _sessions.items() if s is session]:
            del _sessions[k]
    with contextlib.suppress(Exception):  # already failing: the task reports the first error
        session.close()


def close_sessions() -> None:
    """Close every session this process holds (tests; a worker that exits closes them anyway)."""
    with _lock:
        while _sessions:
            _sessions.popitem()[1].close()


def unpacked_bundle(name: str, digest: str, blob) -> str:
    """The shipped bundle's directory on this node (unpacked once, hash-checked by the load)."""
    with _lock:
        path = _bundles.get(digest)
        if path is None:
            from ..distributed.ship import unpack

            path = _bundles[digest] = str(unpack(blob.value, name))
        return path


@dataclass
class BundleMapper:
    """The function ``mapInArrow`` calls on each partition: Arrow batches in, Arrow batches out,
    one output row per input row, in order."""

    bundle: str  # the bundle directory (used when nothing was shipped)
    inputs: list[InputColumn]
    outputs: list[OutputColumn]
    keep: list[str]
    backend: str = "auto"
    fallback: str | None = "emulator"
    resource: str = "fpga"
    session_options: dict = field(default_factory=dict)
    shipped: tuple | None = None  # (name, sha256, broadcast of the packed bundle)

    def session(self):
        device = assigned_device(self.resource)
        if device is None and self.fallback is None:
            raise SparkInputError(f"this task was assigned no '{self.resource}' resource and no fallback backend "
                                  f"is set: set spark.task.resource.{self.resource}.amount=1, or pass fallback=")
        path = unpacked_bundle(*self.shipped) if self.shipped is not None else self.bundle
        return session_for(path, self.backend if device is not None else self.fallback, device,
                           self.session_options)

    def __call__(self, batches):
        import pyarrow as pa
        from pyspark import TaskContext

        ctx = TaskContext.get()
        where = f"partition {ctx.partitionId()}" if ctx is not None else "partition ?"
        session, first = None, 0
        names = self.keep + [o.column for o in self.outputs]
        for batch in batches:
            n = batch.num_rows
            if n == 0:
                continue
            session = session or self.session()
            span = f"{where}, rows {first}..{first + n - 1}"
            feeds = {c.input: images(batch.column(c.column), c, f"{where} (batch from row {first})")
                     for c in self.inputs}
            try:
                out = session.run(feeds)
            except InputError as e:
                raise SparkInputError(f"{span}: {e}") from None
            except Exception:
                discard(session)  # a device that failed or hung is not reused by later partitions
                raise
            columns = [batch.column(k) for k in self.keep] + [output_array(out[o.output], o) for o in self.outputs]
            first += n
            yield pa.RecordBatch.from_arrays(columns, names=names)
