"""Errors of the timed simulation."""
from __future__ import annotations

from ..errors import FpgaAccelError


class SimulationError(FpgaAccelError):
    """The timed simulation cannot run: no generated project, a bad FIFO depth, a failed build."""


class DeadlockError(SimulationError):
    """Every unfinished process waits: the network deadlocks at these FIFO depths.

    ``result`` is the :class:`~fpga_accel.sim.result.SimResult` up to the deadlock (``result.deadlock``
    names the blocked processes, the streams they wait on and the cycle)."""

    def __init__(self, message: str, result):
        super().__init__(message)
        self.result = result
