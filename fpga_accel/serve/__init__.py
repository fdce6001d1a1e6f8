"""Online serving: ``fpga-accel serve NAME.fpga`` answers inference requests over HTTP.

The stack is the standard library's asyncio with a small HTTP/1.1 layer (:mod:`.http`), so the
service runs on a PYNQ board with the runtime's own dependencies (numpy) and nothing else.
Requests are validated (:mod:`.codec`), queued in a bounded queue (:mod:`.queue`; full → 503),
gathered into batches of up to ``max_batch`` images or ``max_wait_ms`` (:mod:`.pool`) and run on
a pool of :class:`~fpga_accel.runtime.Session` objects, one per device. A device whose session
fails or hangs leaves the pool and its requests are retried on another. :mod:`.metrics` keeps
the figures served at ``/metrics`` in Prometheus text form.
"""
from __future__ import annotations

from .app import Server
from .background import RunningServer
from .config import ServeConfig

__all__ = ["RunningServer", "ServeConfig", "Server"]
