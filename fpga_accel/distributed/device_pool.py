"""``DevicePool``: Ray actors, one per FPGA device, running a bundle over a dataset.

Batches are keyed by their index. The driver keeps at most ``in_flight`` batches queued on each
actor; a result is stored at its key's rows, so outputs come back in input order whatever the
order of completion. An actor whose call fails (the actor died, or its device raised) is killed
and replaced by a new actor on the same slot; every batch it had not answered goes back to the
front of the queue. A key is stored once: a late answer for a key already stored is dropped and
counted, so a retry can never duplicate or reorder results.
"""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .cluster import RESOURCE, cluster_devices, connect, require_ray
from .device_worker import DeviceWorker
from .errors import DistributedError
from .job_report import DeviceReport, JobReport
from .ship import pack
from .sources import input_specs, open_source


@dataclass
class JobResult:
    """The outputs of a run (``{output name: array}``, in input order) and its :class:`JobReport`."""

    outputs: dict[str, np.ndarray]
    report: JobReport


class _Slot:
    """A device slot: the actor that holds it now and how often it was replaced."""

    def __init__(self, index: int, device: int | None):
        self.index, self.device = index, device
        self.actor, self.generation, self.busy = None, -1, 0
        self.retired = False
        self.report = DeviceReport(index, device=device)


class DevicePool:
    """A pool of Ray actors, each holding one :class:`~fpga_accel.runtime.Session` on one device.

    ``bundle``: a ``NAME.fpga`` directory (or a loaded Bundle). ``devices``: how many actors (default: every ``fpga``
    resource of the cluster; with ``address="local"``, the CPU count), or a list of local device
    indices to pin (one actor each). ``backend``: the Session backend the actors open
    (``opencl`` / ``pynq`` on boards; ``emulator`` / ``csim`` without). ``address``: see
    :func:`~fpga_accel.distributed.cluster.connect`. ``session_options``: keyword arguments of
    ``Session`` (``batch_size``, ``timeout``: a hung device then fails its batch, which is
    retried elsewhere). ``num_cpus``: CPUs each actor reserves (0: the board does the work).
    ``max_retries``: failed attempts allowed per batch; ``max_restarts``: replacements per slot.
    ``ship``: send the bundle to the nodes through Ray (False: the path must exist on every node).
    Use as a context manager; :meth:`run` may be called several times.
    """

    def __init__(self, bundle, devices: int | list[int] | None = None, backend: str = "emulator",
                 address: str | None = "local", session_options: dict | None = None, num_cpus: float = 0,
                 in_flight: int = 2, max_retries: int = 3, max_restarts: int = 3, ship: bool = True,
                 session_factory=None, start_timeout: float = 300.0):
        from ..bundle import load_bundle

        ray = require_ray()
        # verified here, so a bad bundle fails before any actor starts
        self.bundle = load_bundle(getattr(bundle, "path", bundle))
        self.backend, self.in_flight = backend, max(1, int(in_flight))
        self.max_retries, self.max_restarts = max_retries, max_restarts
        count = len(devices) if isinstance(devices, (list, tuple)) else devices
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise InputError(f"devices must be a positive number or a list of device indices, got {devices!r}")
        t = time.monotonic()
        self._owns_ray = connect(address, devices=count)
        #: seconds ray.init took to start a local instance or join a cluster (0: already connected)
        self.ray_startup = time.monotonic() - t if self._owns_ray else 0.0
        try:
            have = cluster_devices()
            if count is None:
                count = have
            if have < 1 or count > have:
                raise DistributedError(
                    f"the Ray cluster declares {have} '{RESOURCE}' resource(s); {count} device(s) were asked for. "
                    f"Start each node with `ray start --resources='{{\"{RESOURCE}\": N}}'` (N = its boards), "
                    "or ask for fewer devices")
            # a top-level ObjectRef argument reaches the actor as the bytes (nested ones would not)
            blob = ray.put(pack(self.bundle.path)) if ship else None
            self._remote = ray.remote(DeviceWorker).options(
                resources={RESOURCE: 1}, num_cpus=num_cpus, max_restarts=0, max_task_retries=0)
            self._args = (str(self.bundle.path), blob, backend, dict(session_options or {}), session_factory)
            pinned = list(devices) if isinstance(devices, (list, tuple)) else [None] * count
            self.slots = [_Slot(i, d) for i, d in enumerate(pinned)]
            t = time.monotonic()
            for s in self.slots:
                self._start(s)
            self._await_start(start_timeout)
            self.startup = time.monotonic() - t
        except BaseException:
            self.close()
            raise

    # --- actors -------------------------------------------------------------------------------
    def _start(self, slot: _Slot) -> None:
        path, blob, backend, options, factory = self._args
        slot.generation += 1
        slot.actor = self._remote.remote(path, backend, slot.index, slot.generation, slot.device, options, factory,
                                         blob)
        slot.busy = 0

    def _await_start(self, timeout: float) -> None:
        """Wait until every actor is constructed; a failure here (backend unavailable, bad bundle)
        is a setup problem and is raised, not retried."""
        ray = require_ray()
        refs = {s.actor.describe.remote(): s for s in self.slots}
        ready, pending = ray.wait(list(refs), num_returns=len(refs), timeout=timeout)
        if pending:
            free = ray.available_resources().get(RESOURCE, 0)
            raise DistributedError(f"only {len(ready)} of {len(refs)} device actors started within {timeout:.0f} s; "
                                   f"{free:g} '{RESOURCE}' resource(s) of the cluster are free: another job may hold "
                                   "the others")
        for ref in ready:
            try:
                self._describe(refs[ref], ray.get(ref))
            except ray.exceptions.RayError as e:
                raise DistributedError(f"the actor for device slot {refs[ref].index} could not start: "
                                       f"{_cause(e)}") from None

    @staticmethod
    def _describe(slot: _Slot, info: dict) -> None:
        r = slot.report
        r.host, r.device, r.backend = info["host"], info["device"], info["backend"]

    def _replace(self, slot: _Slot) -> None:
        ray = require_ray()
        ray.kill(slot.actor, no_restart=True)
        slot.report.replacements += 1
        if slot.report.replacements > self.max_restarts:
            slot.retired, slot.actor = True, None
            return
        self._start(slot)

    def actor(self, slot: int):
        """The Ray actor handle that holds device slot ``slot`` now."""
        return self.slots[slot].actor

    # --- running ------------------------------------------------------------------------------
    def run(self, data, batch_size: int = 256, raw: bool = False, progress: bool = False,
            on_batch=None) -> JobResult:
        """Run the bundle over ``data`` (array, ``{name: array}``, or a path: ``.npy``, ``.npz``,
        ``.parquet``, a directory of ``.npy`` or ``.parquet`` files) in batches of ``batch_size``.

        Returns the outputs in input order and the report. ``progress`` shows a bar (tqdm, when
        installed). ``on_batch(key, slot_index)`` is called after each batch is stored.
        """
        ray = require_ray()
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        source = open_source(data, input_specs(self.bundle.manifest, raw))
        n = len(source)
        if n == 0:
            raise InputError("the input holds no samples")
        nb = math.ceil(n / batch_size)
        queue, attempts = deque(range(nb)), [0] * nb
        stored = np.zeros(nb, dtype=bool)
        inflight: dict = {}  # ref -> (key, slot, generation)
        outputs: dict[str, np.ndarray] = {}
        retried = dropped = 0
        for s in self.slots:
            s.report.images = s.report.batches = s.report.failures = 0
            s.report.busy = 0.0
        bar = _progress(n, progress)
        t0 = time.monotonic()
        try:
            while not stored.all():
                self._dispatch(queue, inflight, source, batch_size, n, raw)
                if not inflight:
                    raise DistributedError(f"every device slot failed more than {self.max_restarts} time(s); "
                                           f"{int((~stored).sum())} of {nb} batches are not done")
                ready, _ = ray.wait(list(inflight), num_returns=1)
                for ref in ready:
                    key, slot, gen = inflight.pop(ref)
                    slot.busy -= 1 if slot.generation == gen else 0
                    try:
                        got_key, out, busy = ray.get(ref)
                    except ray.exceptions.RayError as e:
                        cause = _original(e)
                        if isinstance(cause, InputError):  # the data is wrong: no device will do better
                            raise InputError(f"batch {key} (samples {key * batch_size}..): {cause}") from None
                        retried += self._failed(key, slot, gen, e, attempts, stored, queue)
                        continue
                    if got_key != key:
                        raise DistributedError(f"device slot {slot.index} answered batch {got_key} for batch {key}")
                    if stored[key]:
                        dropped += 1
                        continue
                    lo = key * batch_size
                    _store(outputs, out, lo, n)
                    stored[key] = True
                    r = slot.report
                    r.images, r.batches, r.busy = r.images + len(next(iter(out.values()))), r.batches + 1, r.busy + busy
                    bar.update(min(n, lo + batch_size) - lo)
                    if on_batch is not None:
                        on_batch(key, slot.index)
        finally:
            bar.close()
        wall = time.monotonic() - t0
        self._refresh_descriptions()
        report = JobReport(n, nb, wall, self.startup, [s.report for s in self.slots], retried, dropped,
                           ray_startup=self.ray_startup)
        return JobResult(outputs, report)

    def _dispatch(self, queue, inflight, source, batch_size, n, raw) -> None:
        """Fill every live slot up to ``in_flight`` queued batches, the earliest keys first."""
        while queue:
            free = [s for s in self.slots if not s.retired and s.busy < self.in_flight]
            if not free:
                return
            slot = min(free, key=lambda s: s.busy)
            key = queue.popleft()
            feeds = source.read(key * batch_size, min(n, (key + 1) * batch_size))
            inflight[slot.actor.run.remote(key, feeds, raw)] = (key, slot, slot.generation)
            slot.busy += 1

    def _failed(self, key, slot, gen, error, attempts, stored, queue) -> int:
        """A batch attempt failed on ``slot``: replace its actor (once per generation), requeue the batch."""
        if slot.generation == gen and not slot.retired:
            slot.report.failures += 1
            self._replace(slot)
        elif slot.generation == gen:
            slot.report.failures += 1
        if stored[key]:
            return 0
        attempts[key] += 1
        if attempts[key] > self.max_retries:
            raise DistributedError(f"batch {key} failed {attempts[key]} time(s) (last on device slot {slot.index}): "
                                   f"{_cause(error)}")
        queue.appendleft(key)
        return 1

    def _refresh_descriptions(self) -> None:
        ray = require_ray()
        live = {s.actor.describe.remote(): s for s in self.slots if not s.retired}
        ready, _ = ray.wait(list(live), num_returns=len(live), timeout=10)
        for ref in ready:
            try:
                self._describe(live[ref], ray.get(ref))
            except ray.exceptions.RayError:
                pass  # a dead actor keeps its last description

    # --- lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the actors (and the local Ray instance this pool started)."""
        try:
            import ray
        except ImportError:
            return
        for s in getattr(self, "slots", []):
            if s.actor is not None:
                ray.kill(s.actor, no_restart=True)
                s.actor = None
        if getattr(self, "_owns_ray", False) and ray.is_initialized():
            ray.shutdown()
            self._owns_ray = False

    def __enter__(self) -> DevicePool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _store(outputs: dict, out: dict, lo: int, n: int) -> None:
    for name, y in out.items():
        if name not in outputs:
            outputs[name] = np.empty((n,) + y.shape[1:], y.dtype)
        outputs[name][lo:lo + len(y)] = y


def _original(error):
    """The exception raised inside the actor, when a Ray error carries one."""
    for e in (error, *getattr(error, "args", ())[:1]):
        cause = getattr(e, "cause", None)
        if isinstance(cause, BaseException):
            return cause
    return None


def _cause(error) -> str:
    """The useful line of a Ray error: the original exception when there is one."""
    cause = _original(error)
    if cause is not None:
        return f"{type(cause).__name__}: {cause}"
    text = str(error).strip().splitlines()
    return " ".join(text[:2]) if text else type(error).__name__


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, show: bool):
    if not show:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, unit="img", desc="fpga batch", smoothing=0.1)


def run_bundle(bundle: str | Path, data, devices: int | list[int] | None = None, backend: str = "emulator",
               address: str | None = "local", batch_size: int = 256, raw: bool = False, progress: bool = False,
               **pool_options) -> JobResult:
    """Open a :class:`DevicePool`, run ``data`` through it, close it; see those for the arguments."""
    with DevicePool(bundle, devices=devices, backend=backend, address=address, **pool_options) as pool:
        return pool.run(data, batch_size=batch_size, raw=raw, progress=progress)
