"""A streaming histogram for calibration: fixed bin count, range grown by exact bin merging.

Bins cover [−R, R) with R a power of two, so the bin width w = 2R / bins is a power of two and
``floor(x / w)`` is exact. When a batch exceeds R, R grows by a power-of-two factor f and every f
neighbouring bins merge into one: the old bin edges are a superset of the new ones, so no count is
ever split or estimated. Memory is ``bins`` counters whatever the amount of data.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import InputError


class Histogram:
    """Counts of finite float64 values; see the module docs for the binning."""

    def __init__(self, bins: int = 4096):
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 16 or bins % 2:
            raise InputError(f"histogram bins must be an even integer >= 16, got {bins!r}")
        self.bins = int(bins)
        self.counts = np.zeros(self.bins, dtype=np.int64)
        self.R: float | None = None  # None until a nonzero value arrives
        self._zeros = 0  # zeros seen before R was known

    @property
    def width(self) -> float:
        return 2.0 * self.R / self.bins

    @property
    def edges(self) -> np.ndarray:
        """The bins + 1 bin edges, −R ... R."""
        return -self.R + np.arange(self.bins + 1) * self.width

    def add(self, x: np.ndarray) -> None:
        """Count the values of the 1-D finite float64 array ``x``."""
        amax = float(np.max(np.abs(x))) if x.size else 0.0
        if amax == 0.0 and self.R is None:
            self._zeros += x.size
            return
        need = math.ldexp(1.0, math.frexp(amax)[1]) if amax > 0 else 0.0  # smallest power of two > amax
        if self.R is None:
            self.R = need
            self.counts[self.bins // 2] += self._zeros
        elif need > self.R:
            self._grow(int(need / self.R))
        idx = np.floor(x / self.width).astype(np.int64) + self.bins // 2
        self.counts += np.bincount(np.clip(idx, 0, self.bins - 1), minlength=self.bins)

    def _grow(self, f: int) -> None:
        half = self.bins // 2
        new = (np.arange(self.bins) - half) // f + half  # old bin [i·w, (i+1)·w) lies in new bin floor(i / f)
        merged = np.zeros_like(self.counts)
        np.add.at(merged, new, self.counts)
        self.counts, self.R = merged, self.R * f

    def abs_counts(self) -> np.ndarray:
        """Histogram of |x| over [0, R) with the same bin width (the two halves folded)."""
        half = self.bins // 2
        return self.counts[half:] + self.counts[:half][::-1]


def quantile(counts: np.ndarray, start: float, width: float, p: float) -> float:
    """Value below which a fraction ``p`` of the counted data lies, interpolated inside its bin."""
    cum = np.cumsum(counts)
    total = int(cum[-1])
    nonzero = np.flatnonzero(counts)
    t = p * total
    if t <= 0:
        return start + nonzero[0] * width
    i = int(np.searchsorted(cum, t, side="left"))
    i = min(i, int(nonzero[-1]))
    prev = int(cum[i - 1]) if i else 0
    return start + (i + (t - prev) / counts[i]) * width
