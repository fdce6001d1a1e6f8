"""Quantisation parameters: how they are chosen from a calibrated float range.

Real value = scale · (q − zero_point), with q an integer of a :class:`QType`. The records
themselves, :class:`QParams` and :class:`ChannelQParams`, are IR data (``ir/qparams.py``), which
the frontend fills from a QDQ or QONNX model's own scales; they are re-exported here.

- Activations: :class:`QParams`, one scale and zero point per tensor, asymmetric. The range is
  always widened to include 0, so real 0.0 (ReLU output, padding) is exactly the integer
  ``zero_point``. Type rule when none is given: **unsigned** if the widened range has no negative
  part (lo == 0), **signed** otherwise.
- Weights: :class:`ChannelQParams`, symmetric (zero point 0), one scale per output channel,
  narrow range [−(2^(b−1)−1), 2^(b−1)−1] so that −q is representable for every q.
- A degenerate range (an all-zero tensor or channel) gets the scale :data:`DEGENERATE_SCALE` and a
  :class:`QuantWarning` naming the tensor or layer. NaN/Inf in a range is an :class:`InputError`.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError
from ..ir.qparams import ChannelQParams, QParams
from ..ir.qtype import INT8, QType, parse_qtype

__all__ = ["DEGENERATE_SCALE", "ChannelQParams", "QParams", "QuantWarning", "activation_params", "symmetric_params",
           "weight_params"]

#: Scale of an all-zero tensor or weight channel. Tiny compared with real activations and weights,
#: so a value the calibration never saw still maps near 0, yet a power of two (exact) and not so
#: small that a bias at scale s_in·s_w overflows int32 or a requantisation shift leaves 1..62.
DEGENERATE_SCALE = 2.0 ** -16


class QuantWarning(UserWarning):
    """Quantisation had to make a choice the user should know about (e.g. an all-zero range)."""


def activation_params(lo: float, hi: float, qtype: QType | str | None = None, *, bits: int = 8,
                      name: str = "tensor") -> QParams:
    """Asymmetric per-tensor parameters covering [min(lo, 0), max(hi, 0)].

    scale = (hi − lo) / (qmax − qmin) and zero_point = qmin − round(lo / scale) (ties to even), so
    qmin and qmax map to within half a step of lo and hi and 0.0 maps exactly to zero_point.
    ``qtype`` defaults to ``bits``-bit unsigned for a non-negative range and signed otherwise.
    """
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise InputError(f"tensor '{name}': range [{lo}, {hi}] is not finite; check the calibration data "
                         f"(NaN/Inf) or give the range explicitly")
    if lo > hi:
        raise InputError(f"tensor '{name}': range [{lo}, {hi}] has lo > hi")
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    qt = QType(bits, signed=lo < 0) if qtype is None else parse_qtype(qtype)
    scale = (hi - lo) / (qt.max - qt.min)
    if scale == 0.0 or not np.isfinite(scale):
        warnings.warn(f"tensor '{name}': calibration range is [{lo}, {hi}] (all zero); using scale "
                      f"{DEGENERATE_SCALE} (2^-16). Check that the calibration data reaches this tensor.",
                      QuantWarning, stacklevel=2)
        return QParams(DEGENERATE_SCALE, 0 if qt.signed else qt.min, qt)
    zp = qt.min - int(np.rint(lo / scale))
    return QParams(scale, min(max(zp, qt.min), qt.max), qt)


def symmetric_params(absmax, *, qtype: QType | str = INT8, axis: int = 0, name: str = "weights") -> ChannelQParams:
    """Per-channel symmetric parameters from each channel's max |w|: scale[c] = absmax[c] / qmax."""
    qt = parse_qtype(qtype)
    a = np.asarray(absmax, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(a)):
        raise InputError(f"layer '{name}': weight range contains NaN/Inf (channels "
                         f"{np.flatnonzero(~np.isfinite(a)).tolist()[:10]}); fix the model's weights")
    if np.any(a < 0):
        raise InputError(f"layer '{name}': max |w| must be >= 0, got {a[a < 0][:5].tolist()}")
    zero = np.flatnonzero(a == 0)
    if zero.size:
        which = f"all {a.size} output channels are" if zero.size == a.size else \
            f"output channel(s) {zero.tolist()[:10]}{' ...' if zero.size > 10 else ''} are"
        warnings.warn(f"layer '{name}': {which} all zero; using scale {DEGENERATE_SCALE} (2^-16) for them "
                      f"(their outputs are the bias alone).", QuantWarning, stacklevel=2)
    scales = np.where(a == 0, DEGENERATE_SCALE, a / qt.max)
    return ChannelQParams(scales, qt, axis)


def weight_params(w, *, axis: int = 0, qtype: QType | str = INT8, name: str = "weights") -> ChannelQParams:
    """Per-output-channel symmetric parameters for the weight tensor ``w`` (channels on ``axis``)."""
    w = np.asarray(w, dtype=np.float64)
    if not -w.ndim <= axis < w.ndim:
        raise InputError(f"layer '{name}': channel axis {axis} is out of range for weights of shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise InputError(f"layer '{name}': weights contain {int(np.sum(~np.isfinite(w)))} NaN/Inf value(s); "
                         f"fix the model's weights")
    per_channel = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    absmax = np.abs(per_channel).max(axis=1) if per_channel.shape[1] else np.zeros(w.shape[axis])
    return symmetric_params(absmax, qtype=qtype, axis=axis % w.ndim, name=name)


def fit_bias(wp: ChannelQParams, bias, in_scale: float, *, name: str = "layer") -> ChannelQParams:
    """``wp`` with each channel's scale raised where the bias at scale s_in · s_w would overflow int32.

    A channel whose weights are tiny beside its bias at a tiny input scale (random-weight networks
    whose activations fade, dead channels) needs s_w ≥ |b| / (s_in · (2^31 − 1)); at that scale its
    weights round to few levels or to zero, which costs nothing the float model keeps: their share of
    the output is below one step of the bias's integer. Warns, naming the layer and channel count.
    """
    b = np.abs(np.asarray(bias, dtype=np.float64).reshape(-1))
    if b.size != wp.scales.size or not np.all(np.isfinite(b)) or not in_scale > 0:
        return wp  # quantize_bias names these problems
    need = b / (float(in_scale) * (2 ** 31 - 1)) * (1 + 2 ** -20)
    low = need > wp.scales
    if not low.any():
        return wp
    warnings.warn(f"layer '{name}': {int(low.sum())} channel(s) have a bias too large for int32 at the input's "
                  f"scale {float(in_scale):.4g}; their weight scales are raised so the bias fits (their weights "
                  f"round to coarser steps)", QuantWarning, stacklevel=2)
    return ChannelQParams(np.maximum(wp.scales, need), wp.qtype, wp.axis, wp.narrow)
