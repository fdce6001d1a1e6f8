"""The backend interface: hardware integers in, hardware integers out.

A backend runs only the accelerated part of a compiled model. The :class:`Session` does
everything around it (host ops in float, quantisation at the boundary, validation, batching,
timing), so a new target is one small module: ``backends/NAME.py`` defining ``BACKEND``.
Vendor packages are imported inside the backend's methods, never at module level.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np


class Backend:
    """Runs the integer layers of a bundle somewhere (numpy, C-simulation, an FPGA)."""

    #: the name users pass as ``Session(..., backend=NAME)``; equals the module name
    name: ClassVar[str] = ""
    #: ``backend="auto"`` tries available backends from the highest priority down
    priority: ClassVar[int] = 0

    @classmethod
    def unavailable(cls, bundle) -> str | None:
        """Why this backend cannot run ``bundle`` on this machine, or None when it can.

        Must be cheap and must not raise: ``auto`` asks every backend.
        """
        return None

    def __init__(self, bundle, qmodel, timeout: float | None = None):
        self.bundle, self.qmodel, self.timeout = bundle, qmodel, timeout

    def run_raw(self, q_inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One batch: hardware input name → integers (N, *shape) in the storage dtype of its
        qtype (already validated); returns hardware output name → integers (N, *shape)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release devices, buffers and libraries. Called once, by :meth:`Session.close`."""
