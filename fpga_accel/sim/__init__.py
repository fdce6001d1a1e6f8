"""Timed simulation of a compiled dataflow network: bounded FIFOs, real schedules, no vendor tool.

``simulate(bundle, images=8, fifo_depths=None)`` returns a :class:`SimResult` (steady-state cycles
per image, first-image latency, per process busy / starved / blocked cycles, per FIFO the maximum
occupancy, the bottleneck) or raises :class:`DeadlockError` naming the blocked processes, their
FIFOs and the cycle. See ``simulate.py`` for how the timing is obtained. A tiled-engine bundle is
simulated by ``tiled.simulate_tiled`` (the engine's stage trace replayed with a DDR model).
"""
from __future__ import annotations

from .errors import DeadlockError, SimulationError
from .result import SimResult
from .simulate import Simulator, simulate

__all__ = ["DeadlockError", "SimResult", "SimulationError", "Simulator", "simulate"]
