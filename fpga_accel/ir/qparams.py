"""Quantisation parameters of tensors: real value = scale · (q − zero_point), q of a :class:`QType`.

Plain records, validated on construction: :class:`QParams` for an activation (per tensor),
:class:`ChannelQParams` for weights (symmetric, per output channel). The frontend records a QDQ or
QONNX model's own parameters with them (``graph.meta["qparams"]``, ``graph.meta["weights"]``);
choosing them from calibrated ranges, and all arithmetic on them, is ``quant/``'s.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .qtype import INT8, QType, parse_qtype


@dataclass(frozen=True)
class QParams:
    """Per-tensor activation parameters: real = scale · (q − zero_point), q in ``qtype``."""

    scale: float
    zero_point: int
    qtype: QType

    def __post_init__(self):
        qt = parse_qtype(self.qtype)
        scale = float(self.scale)
        if not (np.isfinite(scale) and scale > 0):
            raise InputError(f"scale must be a positive finite number, got {self.scale}")
        if isinstance(self.zero_point, (float, np.floating)) and self.zero_point != int(self.zero_point):
            raise InputError(f"zero point must be an integer, got {self.zero_point}")
        zp = int(self.zero_point)
        if not qt.min <= zp <= qt.max:
            raise InputError(f"zero point {zp} is outside {qt} [{qt.min}, {qt.max}]")
        object.__setattr__(self, "qtype", qt)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "zero_point", zp)

    @property
    def qmin(self) -> int:
        """Smallest integer :func:`~fpga_accel.quant.arith.quantize` produces."""
        return self.qtype.min

    @property
    def qmax(self) -> int:
        return self.qtype.max

    def broadcast_scale(self, shape) -> float:
        """The scale in a form that broadcasts against an array of ``shape``."""
        return self.scale

    def broadcast_zero_point(self, shape) -> int:
        return self.zero_point


@dataclass(frozen=True, eq=False)
class ChannelQParams:
    """Per-channel symmetric weight parameters: real = scales[c] · q along ``axis``; zero point 0.

    ``axis`` is the output-channel axis of the weight tensor: 0 for Conv (O, I, kH, kW) and for
    Gemm with transB=1 (N, K); 1 for MatMul / Gemm with transB=0 (K, N). ``narrow`` (default)
    keeps q in [−qmax, qmax]; set it False only for weights given with the full range (QDQ models).
    """

    scales: np.ndarray
    qtype: QType = INT8
    axis: int = 0
    narrow: bool = True

    def __post_init__(self):
        qt = parse_qtype(self.qtype)
        if not qt.signed:
            raise InputError(f"weights are symmetric and need a signed type, got {qt}; use int{qt.bits}")
        s = np.array(self.scales, dtype=np.float64).reshape(-1)
        if s.size == 0 or not (np.all(np.isfinite(s)) and np.all(s > 0)):
            raise InputError(f"weight scales must be positive finite numbers, got {self.scales!r}")
        s.setflags(write=False)
        object.__setattr__(self, "scales", s)
        object.__setattr__(self, "qtype", qt)
        object.__setattr__(self, "axis", int(self.axis))

    def __eq__(self, other):
        return (isinstance(other, ChannelQParams) and self.qtype == other.qtype and self.axis == other.axis
                and self.narrow == other.narrow and np.array_equal(self.scales, other.scales))

    __hash__ = None

    @property
    def zero_point(self) -> int:
        return 0

    @property
    def qmin(self) -> int:
        return -self.qtype.max if self.narrow else self.qtype.min

    @property
    def qmax(self) -> int:
        return self.qtype.max

    def broadcast_scale(self, shape) -> np.ndarray:
        """Scales reshaped to broadcast along ``axis`` of an array of ``shape``."""
        ndim = len(shape)
        if not -ndim <= self.axis < ndim or shape[self.axis] != self.scales.size:
            raise InputError(f"per-channel scales of {self.scales.size} channels on axis {self.axis} do not fit "
                             f"a tensor of shape {tuple(shape)}")
        view = [1] * ndim
        view[self.axis] = self.scales.size
        return self.scales.reshape(view)

    def broadcast_zero_point(self, shape) -> int:
        return 0
