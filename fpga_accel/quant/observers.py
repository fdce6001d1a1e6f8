"""Calibration observers: accumulate statistics over batches, then give a float range (lo, hi).

- ``minmax``: the exact min and max seen.
- ``percentile``: from a streaming :class:`~.histogram.Histogram`; ``tails="both"`` takes the
  (100 − p)th and pth percentiles of x, ``tails="abs"`` the pth percentile a of |x| and the range
  [−a, a]. Either way the range never exceeds the seen [min, max].
- ``mse``: the range minimising the quantisation MSE of the histogram (bin centres, weighted by
  counts) for the target type. Candidates are α·min and α·max with α on a geometric grid
  1, 2^(−1/16), ...; first both ends share one α, then two rounds of coordinate descent pick
  the best lo with hi fixed and the best hi with lo fixed. α = 1 (the minmax range) comes first
  and only strict improvements are taken, so ties keep the wider range and the histogram MSE is
  never worse than minmax's.

None stores the data. The range goes to :func:`~.params.activation_params`, which widens it to 0.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..errors import InputError
from .arith import dequantize, quantize
from .histogram import Histogram, quantile
from .params import activation_params
from .qtype import QType, parse_qtype


class Observer:
    """Base class: :meth:`update` with each batch, then :meth:`range`."""

    kind: ClassVar[str] = ""

    def __init__(self, name: str = "tensor"):
        self.name = name
        self.count = 0
        self.min, self.max = np.inf, -np.inf

    def update(self, x) -> None:
        """Add one batch (any shape). NaN/Inf are an InputError; an empty batch is ignored."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.size == 0:
            return
        bad = ~np.isfinite(x)
        if bad.any():
            raise InputError(f"tensor '{self.name}': calibration batch has {int(bad.sum())} NaN/Inf value(s); "
                             f"check the calibration data and the layers before this tensor")
        self.count += x.size
        self.min, self.max = min(self.min, float(x.min())), max(self.max, float(x.max()))
        self._update(x)

    def range(self) -> tuple[float, float]:
        """The calibrated (lo, hi); an InputError before any data."""
        if self.count == 0:
            raise InputError(f"tensor '{self.name}': the {self.kind} observer has seen no data; run calibration "
                             f"batches through the model first")
        lo, hi = self._range()
        return float(lo), float(hi)

    def _update(self, x: np.ndarray) -> None:
        pass

    def _range(self) -> tuple[float, float]:
        return self.min, self.max


class MinMaxObserver(Observer):
    """The exact smallest and largest value seen."""

    kind = "minmax"


class PercentileObserver(Observer):
    """Percentile range from a histogram of ``bins`` bins (see the module docs)."""

    kind = "percentile"

    def __init__(self, percentile: float = 99.99, tails: str = "both", bins: int = 4096, name: str = "tensor"):
        super().__init__(name)
        if not 50 < float(percentile) <= 100:
            raise InputError(f"percentile must be in (50, 100], got {percentile!r}")
        if tails not in ("both", "abs"):
            raise InputError(f"tails must be 'both' or 'abs', got {tails!r}")
        self.percentile, self.tails = float(percentile), tails
        self.hist = Histogram(bins)

    def _update(self, x):
        self.hist.add(x)

    def _range(self):
        h, p = self.hist, self.percentile / 100.0
        if h.R is None:
            return 0.0, 0.0
        if self.tails == "abs":
            a = quantile(h.abs_counts(), 0.0, h.width, p)
            return max(-a, self.min), min(a, self.max)
        lo = quantile(h.counts, -h.R, h.width, 1.0 - p)
        hi = quantile(h.counts, -h.R, h.width, p)
        return max(lo, self.min), min(hi, self.max)


class MSEObserver(Observer):
    """Range minimising the quantisation MSE for ``qtype`` (default: the activation type rule)."""

    kind = "mse"
    STEPS_PER_OCTAVE, OCTAVES, REFINE_ROUNDS = 16, 12, 2

    def __init__(self, qtype: QType | str | None = None, bits: int = 8, bins: int = 4096, name: str = "tensor"):
        super().__init__(name)
        self.qtype = None if qtype is None else parse_qtype(qtype)
        self.bits = QType(bits).bits  # checked now rather than at range()
        self.hist = Histogram(bins)

    def _update(self, x):
        self.hist.add(x)

    def candidates(self) -> np.ndarray:
        """Shrink factors α tried: 1, 2^(−1/16), ... while the range spans at least 16 bins."""
        k = np.arange(self.STEPS_PER_OCTAVE * self.OCTAVES + 1)
        alphas = 2.0 ** (-k / self.STEPS_PER_OCTAVE)
        span = max(self.max, 0.0) - min(self.min, 0.0)
        keep = alphas * span >= 16 * self.hist.width
        keep[0] = True  # α = 1, the minmax range, always
        return alphas[keep]

    def mse(self, lo: float, hi: float) -> float:
        """Histogram estimate of the mean squared quantisation error with the range (lo, hi)."""
        h = self.hist
        centres = np.clip(h.edges[:-1] + h.width / 2, self.min, self.max)
        keep = h.counts > 0
        v, c = centres[keep], h.counts[keep]
        p = activation_params(lo, hi, self.qtype, bits=self.bits, name=self.name)
        err = v - dequantize(quantize(v, p), p, dtype=np.float64)
        return float(np.sum(c * err * err) / np.sum(c))

    def _range(self):
        if self.hist.R is None:
            return 0.0, 0.0
        alphas = self.candidates()
        # the ends scaled are those activation_params keeps (it widens every range to 0): scaling a
        # range that stays above 0 by itself would cross its ends
        los, his = alphas * min(self.min, 0.0), alphas * max(self.max, 0.0)
        # both ends scaled together, then each end alone with the other fixed (only improvements are kept,
        # and α = 1 is tried first, so the result is never worse than minmax on the histogram)
        errors = [self.mse(lo, hi) for lo, hi in zip(los, his)]
        i = int(np.argmin(errors))
        lo, hi, best = los[i], his[i], errors[i]
        for _ in range(self.REFINE_ROUNDS):
            e_lo = [self.mse(c, hi) for c in los]
            if min(e_lo) < best:
                lo, best = los[int(np.argmin(e_lo))], min(e_lo)
            e_hi = [self.mse(lo, c) for c in his]
            if min(e_hi) < best:
                hi, best = his[int(np.argmin(e_hi))], min(e_hi)
        return lo, hi


OBSERVERS: dict[str, type[Observer]] = {c.kind: c for c in (MinMaxObserver, PercentileObserver, MSEObserver)}


def observer(kind: str, **kw) -> Observer:
    """A new observer by name: ``observer("percentile", percentile=99.9, name="conv1_out")``."""
    cls = OBSERVERS.get(kind)
    if cls is None:
        raise InputError(f"unknown observer {kind!r}; choose one of {', '.join(OBSERVERS)}")
    try:
        return cls(**kw)
    except TypeError as e:
        raise InputError(f"observer '{kind}': {e}") from None
