"""Errors of distributed runs: Ray missing or unreachable, a job that could not finish."""
from __future__ import annotations

from ..errors import FpgaAccelError

INSTALL_HINT = "install it with: pip install 'fpga-accel[ray]'"


class DistributedError(FpgaAccelError):
    """A run over a Ray cluster cannot start or cannot finish (Ray missing, no devices, a batch
    that failed on every retry)."""


class RayMissing(DistributedError):
    """The ``ray`` package is not installed."""
