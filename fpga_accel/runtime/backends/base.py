"""The backend interface: hardware integers in, hardware integers out.

A backend runs only the accelerated part of a compiled model. The :class:`Session` does
everything around it (host ops in float, quantisation at the boundary, validation, batching,
timing, timeouts), so a new target is one small module: ``backends/NAME.py`` defining
``BACKEND``. Vendor packages are imported inside the backend's methods, never at module level.

Calls go through :meth:`Backend.start` and :meth:`Backend.wait`. By default ``start`` runs
:meth:`Backend.run_raw` at once and ``wait`` hands its answer back; a backend that can overlap
work (DMA of the next batch while the device computes, or a worker thread) overrides them and
sets ``in_flight`` to the number of calls the session may have started before waiting for the
first (2: double buffering). ``wait`` must return within its ``timeout`` (raising
``TimeoutError``), so a hung device surfaces as :class:`~fpga_accel.runtime.SessionTimeout`.
"""
from __future__ import annotations

import weakref
from typing import Any, ClassVar

import numpy as np

from ...bundle_bitstream import RECORD, BitstreamMismatchError, check_bitstream, missing_record
from ..worker import Job, Worker


class Backend:
    """Runs the integer layers of a bundle somewhere (numpy, C-simulation, an FPGA)."""

    #: the name users pass as ``Session(..., backend=NAME)``; equals the module name
    name: ClassVar[str] = ""
    #: ``backend="auto"`` tries available backends from the highest priority down
    priority: ClassVar[int] = 0
    #: most images one call takes (device buffers are that large); None: any number
    max_batch: int | None = None
    #: calls started before the session waits for the oldest (1: one at a time, 2: double buffering)
    in_flight: int = 1

    @classmethod
    def unavailable(cls, bundle) -> str | None:
        """Why this backend cannot run ``bundle`` on this machine, or None when it can.

        Must be cheap and must not raise: ``auto`` asks every backend.
        """
        return None

    def __init__(self, bundle, qmodel, timeout: float | None = None):
        self.bundle, self.qmodel, self.timeout = bundle, qmodel, timeout

    def device_timeout(self, default: float | None = None) -> float | None:
        """How long the backend's own wait on its device may last: a little under the session's
        timeout (``default`` without one), so the backend names what it waited for before the
        session's watchdog reports the device as hung."""
        return 0.9 * self.timeout if self.timeout else default

    def run_raw(self, q_inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One batch: hardware input name → integers (N, *shape) in the storage dtype of its
        qtype (already validated, N ≤ ``max_batch``); returns hardware output name → integers
        (N, *shape)."""
        raise NotImplementedError

    def start(self, q_inputs: dict[str, np.ndarray]) -> Any:
        """Begin one batch and return a handle for :meth:`wait`. Default: compute it now."""
        try:
            return Job.finished(self.run_raw(q_inputs))
        except Exception as e:  # noqa: BLE001 - raised again by wait, where the session expects answers
            return Job.finished(error=e)

    def wait(self, handle: Any, timeout: float | None) -> dict[str, np.ndarray]:
        """The answer of a started batch; ``TimeoutError`` when it is not there within ``timeout`` s."""
        return handle.result(timeout)

    def close(self) -> None:
        """Release devices, buffers and libraries. Called once, by :meth:`Session.close`."""


class ThreadedBackend(Backend):
    """A backend whose :meth:`run_raw` runs in its own worker thread, so the session prepares
    (quantises, splits) the next batch and finishes the previous one while this one computes."""

    in_flight = 2

    def __init__(self, bundle, qmodel, timeout: float | None = None):
        super().__init__(bundle, qmodel, timeout)
        self._worker: Worker | None = None

    def start(self, q_inputs):
        if self._worker is None:
            self._worker = Worker(f"fpga-accel-{self.name}")
            # an unclosed backend still ends its thread when collected (at exit, daemon threads just end)
            weakref.finalize(self, self._worker.stop).atexit = False
        return self._worker.submit(self.run_raw, q_inputs)

    def close(self) -> None:
        if self._worker is not None:
            # no join: a batch still running (a timed-out one) ends on its own in the daemon thread
            self._worker.stop(RuntimeError(f"backend '{self.name}' closed before the batch ran"), join=0.0)
            self._worker = None


def bitstream_mismatch(bundle) -> str | None:
    """Why the bundle's built bitstream does not belong to it, or None.

    A build records what it was built from in ``bitstream/bitstream.json``; a bitstream with a
    record that disagrees with the bundle (another model, board, clock, changed files or
    binaries) is refused, and so is a missing record when the manifest says a build wrote one. A
    bitstream placed by hand, in a bundle whose manifest records no build, cannot be checked and
    is allowed.
    """
    if not (bundle.path / RECORD).is_file():
        why = missing_record(bundle.manifest)
        return why and f"{bundle.path}: {why}; rebuild it with `fpga-accel build {bundle.path}`"
    try:
        check_bitstream(bundle)
    except BitstreamMismatchError as e:
        return str(e)
    return None
